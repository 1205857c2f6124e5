//! The mfa Lambda function: its routes under lambda_http.

#[tokio::main]
async fn main() -> Result<(), blockauth::lambda::Error> {
    blockauth::lambda::run(mfa::routes).await
}

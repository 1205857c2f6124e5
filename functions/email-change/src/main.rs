//! The email-change Lambda function: its routes under lambda_http.

#[tokio::main]
async fn main() -> Result<(), blockauth::lambda::Error> {
    blockauth::lambda::run(email_change::routes).await
}

//! The login-passwordless Lambda function: its routes under lambda_http.

#[tokio::main]
async fn main() -> Result<(), blockauth::lambda::Error> {
    blockauth::lambda::run(login_passwordless::routes).await
}

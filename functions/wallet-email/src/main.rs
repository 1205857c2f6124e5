//! The wallet-email Lambda function: its routes under lambda_http.

#[tokio::main]
async fn main() -> Result<(), blockauth::lambda::Error> {
    blockauth::lambda::run(wallet_email::routes).await
}

//! The keys Lambda function: its routes under lambda_http, and the rotation of the token
//! key set, which Secrets Manager invokes it for.

#[tokio::main]
async fn main() -> Result<(), blockauth::lambda::Error> {
    blockauth::lambda::run_keys(keys::routes).await
}

//! The floor for a function's init (`infra/measurements/cold_start.py`): a Lambda function
//! that answers every event with 200 and does nothing else, on the runtime our functions
//! use, built with the same profile (`cargo build --release --example hello_lambda`).

use lambda_http::{Error, LambdaEvent, lambda_runtime, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"statusCode": 200, "body": "hello"}))
    }))
    .await
}

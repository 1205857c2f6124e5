//! Your own delivery (`DELIVERY`): the messages go, as the documented payload, to a webhook
//! (signed), a Lambda function (Lambda's Invoke, SigV4-signed, against a local stand-in for
//! Lambda's API) or an SQS queue (moto), and the codes they carry work; a delivery that
//! fails is 503, and a retry once it works succeeds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::response::IntoResponse;
use blockauth::mail::Mailer;
use blockauth::mail::delivery::{Courier, Route};
use blockauth::mail::settings::Delivery;
use blockauth_tests::{PASSWORD, TestApp, moto_url, test_settings};
use serde_json::{Value, json};

use crate::claims::{Answer, Receiver, SECRET, lambda_api};
use crate::events::{local_config, moto_messages, moto_queue};

/// A payload is the documented one for a signup code to `to`, by `channel`.
fn check_signup_code(payload: &Value, to: &str, channel: &str) -> String {
    assert_eq!(payload["version"], 1, "{payload}");
    assert_eq!(payload["kind"], "code");
    assert_eq!(payload["purpose"], "signup");
    assert_eq!(payload["channel"], channel);
    assert_eq!(payload["recipient"], to);
    assert_eq!(payload["locale"], "en");
    let code = payload["code"].as_str().expect("the code").to_owned();
    for part in ["subject", "text", "html", "sms"] {
        assert!(payload[part].is_string(), "{part}");
    }
    assert!(payload["sms"].as_str().unwrap().contains(&code));
    code
}

/// A server whose messages go by `route`.
async fn with_courier(route: Route) -> TestApp {
    let courier = Courier {
        route,
        locale: "en".into(),
        timeout: Duration::from_secs(5),
    };
    let outbox = tempfile::tempdir().unwrap();
    let mailer = Mailer::Courier(Box::new(courier));
    TestApp::start_with_mailer(test_settings(), mailer, outbox).await
}

async fn confirm(app: &TestApp, field: &str, to: &str, code: &str) {
    let confirmed = app
        .post("signup/confirm/", json!({field: to, "otp": code}))
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
}

#[tokio::test]
async fn a_webhook_gets_each_message_signed_and_its_code_works() {
    let receiver = Receiver::start(Answer::Status(500)).await;
    let url = receiver.url.clone();
    let app = TestApp::start_with(|s| {
        s.delivery.delivery = Delivery::Webhook;
        s.delivery.target = Some(url);
        s.webhook_secret = Some(SECRET.into());
    })
    .await;

    // The receiver fails: 503, as when SES fails.
    let body = json!({"email": "ada@example.com", "password": PASSWORD});
    let failed = app.post("signup/", body.clone()).await;
    assert_eq!(failed.status, 503, "{:?}", failed.body);

    // It works again: the retry's code arrives and confirms the signup.
    receiver.answer(Answer::Status(200));
    let started = app.post("signup/", body).await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let calls = receiver.calls();
    let code = check_signup_code(calls.last().unwrap(), "ada@example.com", "email");
    confirm(&app, "email", "ada@example.com", &code).await;

    // A phone number's message goes the same way, by its channel.
    let started = app
        .post(
            "signup/",
            json!({"phone": "+14155550123", "password": PASSWORD}),
        )
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let calls = receiver.calls();
    let code = check_signup_code(calls.last().unwrap(), "+14155550123", "sms");
    confirm(&app, "phone", "+14155550123", &code).await;
    // Nothing went to the outbox: the webhook replaced it.
    assert!(app.messages_to("ada@example.com").is_empty());
}

#[tokio::test]
async fn a_lambda_function_is_invoked_with_each_message() {
    let seen: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
    let failing = Arc::new(Mutex::new(false));
    let (recorded, fail) = (seen.clone(), failing.clone());
    let invoke = move |axum::extract::Path(name): axum::extract::Path<String>, body: Bytes| {
        let (recorded, fail) = (recorded.clone(), fail.clone());
        async move {
            if *fail.lock().unwrap() {
                return (
                    [("x-amz-function-error", "Unhandled")],
                    r#"{"errorMessage": "no mail today"}"#,
                )
                    .into_response();
            }
            let payload = serde_json::from_slice(&body).unwrap();
            recorded.lock().unwrap().push((name, payload));
            axum::Json(json!({"sent": true})).into_response()
        }
    };
    let address = lambda_api(axum::routing::post(invoke)).await;
    let app = with_courier(Route::Lambda {
        aws: local_config(&format!("http://{address}")),
        function: "send-mail".into(),
    })
    .await;

    *failing.lock().unwrap() = true;
    let body = json!({"email": "ada@example.com", "password": PASSWORD});
    let failed = app.post("signup/", body.clone()).await;
    assert_eq!(failed.status, 503, "a function error is a failed delivery");

    *failing.lock().unwrap() = false;
    let started = app.post("signup/", body).await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let (function, payload) = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(function, "send-mail");
    let code = check_signup_code(&payload, "ada@example.com", "email");
    confirm(&app, "email", "ada@example.com", &code).await;
}

#[tokio::test]
async fn an_sqs_queue_receives_each_message() {
    let Some(url) = moto_url() else { return };
    let config = local_config(&url);
    let name = format!(
        "delivery-{}-{}",
        std::process::id(),
        blockauth::clock::now()
    );
    let (queue_url, _) = moto_queue(&config, &name).await;
    let app = with_courier(Route::Sqs {
        aws: config.clone(),
        queue_url: queue_url.clone(),
    })
    .await;
    let started = app
        .post(
            "signup/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let messages = moto_messages(&config, &queue_url).await;
    assert_eq!(messages.len(), 1, "{messages:?}");
    let code = check_signup_code(&messages[0], "ada@example.com", "email");
    confirm(&app, "email", "ada@example.com", &code).await;
}

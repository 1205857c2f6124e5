use std::sync::Arc;

use blockauth_tests::{PASSWORD, TestApp, code_in};
use serde_json::json;

#[tokio::test]
async fn first_passwordless_login_creates_a_verified_account() {
    let app = TestApp::start().await;
    let sent = app
        .post("login/passwordless/", json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(sent.status, 200);
    let code = app.code_for("ada@example.com");
    assert!(app.messages_to("ada@example.com")[0].contains("to sign in"));
    let login = app
        .post(
            "login/passwordless/confirm/",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let user = &login.body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["is_verified"], true);
    assert_eq!(user["authentication_types"], json!(["PASSWORDLESS"]));
    // No password: basic login cannot work for it.
    let basic = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(basic.status, 401);
}

#[tokio::test]
async fn an_existing_account_logs_in_without_its_password() {
    let app = TestApp::start().await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    app.post("login/passwordless/", json!({"email": "ada@example.com"}))
        .await;
    let code = app.code_for("ada@example.com");
    let login = app
        .post(
            "login/passwordless/confirm",
            json!({"identifier": "ada@example.com", "code": code}),
        )
        .await;
    assert_eq!(login.status, 200);
    assert_eq!(login.body["user"]["id"], signed_up.body["user"]["id"]);
    assert_eq!(
        login.body["user"]["authentication_types"],
        json!(["EMAIL", "PASSWORDLESS"])
    );
}

#[tokio::test]
async fn without_auto_create_unknown_identifiers_get_no_code_but_the_same_answer() {
    let app = TestApp::start_with(|s| s.passwordless_auto_create = false).await;
    app.sign_up("ada@example.com", PASSWORD).await;
    let known = app
        .post("login/passwordless/", json!({"email": "ada@example.com"}))
        .await;
    let unknown = app
        .post(
            "login/passwordless/",
            json!({"email": "nobody@example.com"}),
        )
        .await;
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let nobody = app.messages_to("nobody@example.com");
    assert_eq!(nobody.len(), 1);
    assert_eq!(code_in(&nobody[0]), None);
    let confirm = app
        .post(
            "login/passwordless/confirm/",
            json!({"email": "nobody@example.com", "otp": "123456"}),
        )
        .await;
    assert_eq!(confirm.status, 400);
}

#[tokio::test]
async fn passwordless_works_by_sms() {
    let app = TestApp::start().await;
    app.post("login/passwordless/", json!({"phone": "+14155550123"}))
        .await;
    let sms = app.messages_to("+14155550123");
    let code: String = sms[0]
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_owned();
    let login = app
        .post(
            "login/passwordless/confirm/",
            json!({"phone": "+14155550123", "otp": code}),
        )
        .await;
    assert_eq!(login.status, 200);
    assert_eq!(login.body["user"]["phone"], "+14155550123");
}

#[tokio::test]
async fn wrong_and_reused_codes_fail() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 100).await;
    app.post("login/passwordless/", json!({"email": "ada@example.com"}))
        .await;
    let code = app.code_for("ada@example.com");
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let reply = app
        .post(
            "login/passwordless/confirm/",
            json!({"email": "ada@example.com", "otp": wrong}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["code"], "otp_invalid");
    let first = app
        .post(
            "login/passwordless/confirm/",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(first.status, 200);
    let again = app
        .post(
            "login/passwordless/confirm/",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(again.status, 400);
}

#[tokio::test]
async fn the_send_budget_caps_codes_to_one_identifier_across_ips() {
    let app = TestApp::start_with(|s| {
        s.limits.request_limit = 100;
        s.limits.send_limit = 2;
    })
    .await;
    for _ in 0..2 {
        let reply = app
            .post("login/passwordless/", json!({"email": "ada@example.com"}))
            .await;
        assert_eq!(reply.status, 200);
    }
    let over = app
        .post("login/passwordless/", json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(over.status, 429);
    assert!(over.header("retry-after").is_some());
    // The budget is the identifier's, shared by every route that sends to it.
    let reset = app
        .post("password/reset/", json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(reset.status, 429);
    assert_eq!(app.messages_to("ada@example.com").len(), 2);
}

#[tokio::test]
async fn passwordless_request_is_rate_limited() {
    let app = TestApp::start().await;
    for _ in 0..3 {
        let reply = app
            .post("login/passwordless/", json!({"email": "ada@example.com"}))
            .await;
        assert_eq!(reply.status, 200);
    }
    let reply = app
        .post("login/passwordless/", json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(reply.status, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_passwordless_confirms_make_one_account() {
    let app = Arc::new(TestApp::start_with(|s| s.limits.request_limit = 100).await);
    app.post("login/passwordless/", json!({"email": "ada@example.com"}))
        .await;
    let code = app.code_for("ada@example.com");
    let statuses = blockauth_tests::parallel(20, |_| {
        let (app, code) = (app.clone(), code.clone());
        async move {
            app.post(
                "login/passwordless/confirm/",
                json!({"email": "ada@example.com", "otp": code}),
            )
            .await
            .status
        }
    })
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );
}

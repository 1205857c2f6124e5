use blockauth_tests::{PASSWORD, TestApp, access, refresh};
use serde_json::json;

#[tokio::test]
async fn login_returns_a_new_session() {
    let app = TestApp::start().await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    let login = app
        .post(
            "login/basic/",
            json!({"email": "ADA@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.body["user"]["id"], signed_up.body["user"]["id"]);
    assert!(login.body["user"]["last_login"].is_string());
    let first = blockauth_tests::claims(signed_up.body["refresh"].as_str().unwrap());
    let second = blockauth_tests::claims(login.body["refresh"].as_str().unwrap());
    assert_ne!(first["sid"], second["sid"], "each login is its own family");
}

#[tokio::test]
async fn wrong_password_and_unknown_account_get_the_same_answer() {
    let app = TestApp::start().await;
    app.sign_up("ada@example.com", PASSWORD).await;
    let wrong = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": "Wrong-Pass-1"}),
        )
        .await;
    let unknown = app
        .post(
            "login/basic/",
            json!({"email": "nobody@example.com", "password": "Wrong-Pass-1"}),
        )
        .await;
    for reply in [&wrong, &unknown] {
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.body,
            json!({"detail": "Invalid credentials.", "code": "authentication_failed"})
        );
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
}

#[tokio::test]
async fn login_is_rate_limited() {
    let app = TestApp::start().await;
    for _ in 0..3 {
        let reply = app
            .post(
                "login/basic/",
                json!({"email": "ada@example.com", "password": "Wrong-Pass-1"}),
            )
            .await;
        assert_eq!(reply.status, 401);
    }
    let throttled = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": "Wrong-Pass-1"}),
        )
        .await;
    assert_eq!(throttled.status, 429);
    assert!(throttled.header("retry-after").is_some());
}

#[tokio::test]
async fn a_phone_account_logs_in_with_its_number() {
    let app = TestApp::start().await;
    app.post(
        "signup/",
        json!({"phone": "+447700900123", "password": PASSWORD}),
    )
    .await;
    let sms = app.messages_to("+447700900123");
    let code: String = sms[0]
        .split_whitespace()
        .find(|w| w.len() == 6 && w.bytes().all(|b| b.is_ascii_digit()))
        .unwrap()
        .to_owned();
    let confirmed = app
        .post(
            "signup/confirm/",
            json!({"phone": "+447700900123", "otp": code}),
        )
        .await;
    assert_eq!(confirmed.status, 200);
    let login = app
        .post(
            "login/basic/",
            json!({"phone": "+447700900123", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200);
}

#[tokio::test]
async fn failed_logins_are_capped_per_account_across_ips() {
    let app = TestApp::start_with(|s| {
        s.limits.request_limit = 1000;
        s.limits.login_failure_limit = 4;
    })
    .await;
    app.sign_up("ada@example.com", PASSWORD).await;
    // Successful logins give their attempt back.
    for _ in 0..5 {
        let ok = app
            .post(
                "login/basic/",
                json!({"email": "ada@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(ok.status, 200);
    }
    for _ in 0..4 {
        let wrong = app
            .post(
                "login/basic/",
                json!({"email": "ada@example.com", "password": "Wrong-Pass-1"}),
            )
            .await;
        assert_eq!(wrong.status, 401);
    }
    let capped = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(capped.status, 429, "even the right password waits");
    assert!(capped.header("retry-after").is_some());
}

#[tokio::test]
async fn a_deleted_user_s_tokens_stop_working() {
    let app = TestApp::start().await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let id = login.body["user"]["id"].as_str().unwrap();
    app.server
        .context
        .store
        .delete(&format!("USER#{id}"), "USER")
        .await
        .unwrap();
    let protected = app
        .post_as(
            &access(&login),
            "password/change/",
            json!({"old_password": PASSWORD, "new_password": "Brand-New-Pass-77"}),
        )
        .await;
    assert_eq!(protected.status, 401);
    let refreshed = app
        .post("token/refresh/", json!({"refresh": refresh(&login)}))
        .await;
    assert_eq!(refreshed.status, 401);
}

//! Password reset (by code) and password change (protected).

use std::sync::Arc;

use blockauth_tests::{PASSWORD, TestApp, access, code_in, refresh};
use serde_json::json;

const NEW_PASSWORD: &str = "Brand-New-Pass-77";

#[tokio::test]
async fn reset_sets_the_password_and_ends_every_session() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 100).await;
    let first = app.sign_up("ada@example.com", PASSWORD).await;
    let second = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    let asked = app
        .post("password/reset/", json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(asked.status, 200);
    let code = app.code_for("ada@example.com");
    assert!(
        app.messages_to("ada@example.com")
            .last()
            .unwrap()
            .contains("reset your password")
    );
    let reset = app
        .post(
            "password/reset/confirm/",
            json!({"email": "ada@example.com", "otp": code, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    assert!(reset.body["message"].is_string());
    assert!(
        app.messages_to("ada@example.com")
            .last()
            .unwrap()
            .contains("password was")
    );

    for session in [&first, &second] {
        let refreshed = app
            .post("token/refresh/", json!({"refresh": refresh(session)}))
            .await;
        assert_eq!(refreshed.status, 401, "every session ended");
        let protected = app
            .post_as(
                &access(session),
                "password/change/",
                json!({"new_password": "X-Another-1"}),
            )
            .await;
        assert_eq!(
            protected.status, 401,
            "access tokens of ended sessions fail too"
        );
    }
    let old = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status, 401);
    let new = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(new.status, 200);
    // The code was used.
    let again = app
        .post(
            "password/reset/confirm/",
            json!({"email": "ada@example.com", "otp": code, "new_password": "Yet-Another-Pass-8"}),
        )
        .await;
    assert_eq!(again.status, 400);
}

#[tokio::test]
async fn reset_answers_the_same_for_unknown_identifiers() {
    let app = TestApp::start().await;
    app.sign_up("ada@example.com", PASSWORD).await;
    let known = app
        .post("password/reset/", json!({"email": "ada@example.com"}))
        .await;
    let unknown = app
        .post("password/reset/", json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!((known.status, &known.body), (unknown.status, &unknown.body));
    let nobody = app.messages_to("nobody@example.com");
    assert_eq!(nobody.len(), 1);
    assert_eq!(code_in(&nobody[0]), None);
}

#[tokio::test]
async fn reset_refuses_weak_passwords_and_wrong_codes() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 100).await;
    app.sign_up("ada@example.com", PASSWORD).await;
    app.post("password/reset/", json!({"email": "ada@example.com"}))
        .await;
    let code = app.code_for("ada@example.com");
    let weak = app
        .post(
            "password/reset/confirm/",
            json!({"email": "ada@example.com", "otp": code, "new_password": "12345678"}),
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body["new_password"].is_array());
    let wrong = if code == "999999" { "999998" } else { "999999" };
    let bad = app
        .post(
            "password/reset/confirm/",
            json!({"email": "ada@example.com", "otp": wrong, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["code"], "otp_invalid");
    let missing = app
        .post(
            "password/reset/confirm/",
            json!({"email": "ada@example.com"}),
        )
        .await;
    assert_eq!(missing.status, 400);
    assert!(missing.body["otp"].is_array() && missing.body["new_password"].is_array());
    // The weak try cost no attempt: the right code still works.
    let ok = app
        .post(
            "password/reset/confirm/",
            json!({"email": "ada@example.com", "otp": code, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(ok.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_reset_confirms_have_one_winner() {
    let app = Arc::new(TestApp::start_with(|s| s.limits.request_limit = 100).await);
    app.sign_up("ada@example.com", PASSWORD).await;
    app.post("password/reset/", json!({"email": "ada@example.com"}))
        .await;
    let code = app.code_for("ada@example.com");
    let results = blockauth_tests::parallel(20, |i| {
        let (app, code) = (app.clone(), code.clone());
        async move {
            let password = format!("Parallel-Pass-{i:02}");
            let reply = app
                .post(
                    "password/reset/confirm/",
                    json!({"email": "ada@example.com", "otp": code, "new_password": password}),
                )
                .await;
            (reply.status, password)
        }
    })
    .await;
    let mut winners = Vec::new();
    for (status, password) in results {
        assert!(status == 200 || status == 400, "{status}");
        if status == 200 {
            winners.push(password);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let login = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": winners[0]}),
        )
        .await;
    assert_eq!(login.status, 200, "the winner's password is the one set");
}

#[tokio::test]
async fn change_needs_the_old_password_and_returns_a_fresh_session() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 100).await;
    let first = app.sign_up("ada@example.com", PASSWORD).await;
    let other = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;

    let missing = app
        .post_as(
            &access(&first),
            "password/change/",
            json!({"new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.body,
        json!({"old_password": ["This field is required."]})
    );
    let wrong = app
        .post_as(
            &access(&first),
            "password/change/",
            json!({"old_password": "Not-My-Pass-1", "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(wrong.status, 400);
    assert!(
        wrong.body["old_password"][0]
            .as_str()
            .unwrap()
            .contains("incorrectly")
    );
    let weak = app
        .post_as(
            &access(&first),
            "password/change/",
            json!({"old_password": PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_eq!(weak.status, 400);
    assert!(weak.body["new_password"].is_array());

    let changed = app
        .post_as(
            &access(&first),
            "password/change/",
            json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert!(changed.body["access"].is_string() && changed.body["refresh"].is_string());
    assert!(
        app.messages_to("ada@example.com")
            .last()
            .unwrap()
            .contains("password was")
    );

    // Every earlier session has ended, the new one works.
    for old in [&first, &other] {
        let reply = app
            .post("token/refresh/", json!({"refresh": refresh(old)}))
            .await;
        assert_eq!(reply.status, 401);
    }
    let fresh = app
        .post("token/refresh/", json!({"refresh": refresh(&changed)}))
        .await;
    assert_eq!(fresh.status, 200);
    let login = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200);
}

#[tokio::test]
async fn an_account_without_a_password_sets_one_without_the_old() {
    let app = TestApp::start().await;
    app.post("login/passwordless/", json!({"email": "ada@example.com"}))
        .await;
    let code = app.code_for("ada@example.com");
    let login = app
        .post(
            "login/passwordless/confirm/",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    let set = app
        .post_as(
            &access(&login),
            "password/change/",
            json!({"new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(set.status, 200, "{:?}", set.body);
    assert_eq!(
        set.body["user"]["authentication_types"],
        json!(["PASSWORDLESS", "EMAIL"])
    );
    let basic = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(basic.status, 200);
}

#[tokio::test]
async fn protected_routes_need_a_live_access_token() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 100).await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let body = json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD});
    let none = app.post("password/change/", body.clone()).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.body["code"], "not_authenticated");
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    for token in ["garbage", &refresh(&login)] {
        let reply = app.post_as(token, "password/change/", body.clone()).await;
        assert_eq!(reply.status, 401, "{token}");
        assert_eq!(reply.body["code"], "token_not_valid");
    }
    let basic = app
        .send(
            app.http
                .post(app.url("password/change/"))
                .header("authorization", format!("Basic {}", access(&login)))
                .json(&body),
        )
        .await;
    assert_eq!(basic.status, 401);
    // Logging out ends the access token's session too.
    app.post("token/revoke/", json!({"refresh": refresh(&login)}))
        .await;
    let revoked = app.post_as(&access(&login), "password/change/", body).await;
    assert_eq!(revoked.status, 401);
}

#[tokio::test]
async fn the_auth_header_name_is_configurable() {
    let app =
        TestApp::start_with(|s| s.session.auth_header_name = "HTTP_X_AUTH_TOKEN".into()).await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let body = json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD});
    let standard = app
        .post_as(&access(&login), "password/change/", body.clone())
        .await;
    assert_eq!(standard.status, 401);
    let custom = app
        .send(
            app.http
                .post(app.url("password/change/"))
                .header("X-Auth-Token", format!("Bearer {}", access(&login)))
                .json(&body),
        )
        .await;
    assert_eq!(custom.status, 200, "{:?}", custom.body);
}

#[tokio::test]
async fn password_change_is_rate_limited_per_user() {
    let app = TestApp::start().await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    for _ in 0..3 {
        let reply = app
            .post_as(
                &access(&login),
                "password/change/",
                json!({"old_password": "Wrong-Pass-1", "new_password": NEW_PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, 400);
    }
    let reply = app
        .post_as(
            &access(&login),
            "password/change/",
            json!({"old_password": "Wrong-Pass-1", "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 429);
}

use blockauth_tests::{PASSWORD, TestApp, claims};
use serde_json::json;

/// The refresh reuse grace window in these tests: whole seconds, so a window of 1 could
/// be over in a millisecond (a first use at x.999 s); 3 leaves a repeat at least 2 s.
const GRACE: i64 = 3;

fn refresh_of(reply: &blockauth_tests::Reply) -> String {
    reply.body["refresh"].as_str().unwrap().to_owned()
}

/// (Without a grace window: reuse is theft at once.)
#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let app = TestApp::start_with(|s| s.session.refresh_reuse_grace = 0).await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let old = refresh_of(&login);

    let rotated = app.post("token/refresh/", json!({"refresh": old})).await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let new = refresh_of(&rotated);
    assert_ne!(new, old);
    assert_ne!(rotated.body["access"], login.body["access"]);
    assert_eq!(rotated.body["user"]["email"], "ada@example.com");
    assert_eq!(claims(&new)["sid"], claims(&old)["sid"]);

    // The old token again: theft. 401, and the new token dies with its family.
    let reused = app.post("token/refresh/", json!({"refresh": old})).await;
    assert_eq!(reused.status, 401);
    assert_eq!(reused.body["code"], "token_not_valid");
    assert_eq!(reused.header("www-authenticate"), Some("Bearer"));
    let after = app
        .post("token/refresh/", json!({"refresh_token": new}))
        .await;
    assert_eq!(after.status, 401);
}

#[tokio::test]
async fn reuse_revokes_only_that_login() {
    let app = TestApp::start_with(|s| {
        s.limits.request_limit = 100;
        s.session.refresh_reuse_grace = 0;
    })
    .await;
    let first = app.sign_up("ada@example.com", PASSWORD).await;
    let second = app.log_in("ada@example.com", PASSWORD).await;
    app.post("token/refresh/", json!({"refresh": refresh_of(&first)}))
        .await;
    app.post("token/refresh/", json!({"refresh": refresh_of(&first)}))
        .await;
    let other = app
        .post("token/refresh/", json!({"refresh": refresh_of(&second)}))
        .await;
    assert_eq!(other.status, 200);
}

/// Within `REFRESH_REUSE_GRACE` of its first use, a refresh token gets that use's pair again
/// (a retry after a lost answer), while its sign-in lives; after the window, reuse revokes.
#[tokio::test]
async fn a_repeat_within_the_grace_window_gets_the_same_pair_and_later_revokes() {
    let app = TestApp::start_with(|s| {
        s.session.refresh_reuse_grace = GRACE as u64;
        s.limits.request_limit = 100;
    })
    .await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let old = refresh_of(&login);
    let first = app.post("token/refresh/", json!({"refresh": old})).await;
    let used_at = blockauth::clock::now();
    assert_eq!(first.status, 200);
    let again = app.post("token/refresh/", json!({"refresh": old})).await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["access"], first.body["access"]);
    assert_eq!(again.body["refresh"], first.body["refresh"]);

    // After the window (in whole seconds: waited for by the clock, not guessed).
    while blockauth::clock::now() < used_at + GRACE + 1 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let late = app.post("token/refresh/", json!({"refresh": old})).await;
    assert_eq!(late.status, 401);
    let new = refresh_of(&first);
    let after = app.post("token/refresh/", json!({"refresh": new})).await;
    assert_eq!(after.status, 401, "theft revoked the sign-in");
}

/// A sign-in that ended (logout) inside the window gives nothing back.
#[tokio::test]
async fn a_repeat_of_an_ended_sign_in_gets_nothing() {
    let app = TestApp::start().await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let old = refresh_of(&login);
    let first = app.post("token/refresh/", json!({"refresh": old})).await;
    let out = app
        .post("token/revoke/", json!({"refresh": refresh_of(&first)}))
        .await;
    assert_eq!(out.status, 204);
    let again = app.post("token/refresh/", json!({"refresh": old})).await;
    assert_eq!(again.status, 401);
}

#[tokio::test]
async fn only_refresh_tokens_refresh() {
    let app = TestApp::start().await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let access = login.body["access"].as_str().unwrap();
    let reply = app.post("token/refresh/", json!({"refresh": access})).await;
    assert_eq!(reply.status, 401);
    for garbage in ["", "garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."] {
        let reply = app
            .post("token/refresh/", json!({"refresh": garbage}))
            .await;
        assert!(
            matches!(reply.status, 400 | 401),
            "{garbage}: {}",
            reply.status
        );
    }
    // A token signed by another server's key.
    let elsewhere = TestApp::start().await;
    let foreign = elsewhere.sign_up("ada@example.com", PASSWORD).await;
    let reply = app
        .post("token/refresh/", json!({"refresh": refresh_of(&foreign)}))
        .await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn revoke_logs_out_that_session() {
    let app = TestApp::start().await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let revoked = app
        .post("token/revoke/", json!({"refresh": refresh_of(&login)}))
        .await;
    assert_eq!(revoked.status, 204);
    assert_eq!(revoked.body, serde_json::Value::Null);
    let refresh = app
        .post("token/refresh/", json!({"refresh": refresh_of(&login)}))
        .await;
    assert_eq!(refresh.status, 401);
}

#[tokio::test]
async fn without_rotation_the_refresh_token_stays() {
    let app = TestApp::start_with(|s| s.session.rotate_refresh_tokens = false).await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let old = refresh_of(&login);
    for _ in 0..2 {
        let reply = app.post("token/refresh/", json!({"refresh": old})).await;
        assert_eq!(reply.status, 200);
        assert_eq!(refresh_of(&reply), old);
        assert_eq!(
            claims(reply.body["access"].as_str().unwrap())["type"],
            "access"
        );
    }
}

#[tokio::test]
async fn refresh_is_rate_limited_per_user() {
    let app = TestApp::start_with(|s| s.session.rotate_refresh_tokens = false).await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let token = refresh_of(&login);
    for _ in 0..3 {
        let reply = app.post("token/refresh/", json!({"refresh": token})).await;
        assert_eq!(reply.status, 200);
    }
    let reply = app.post("token/refresh/", json!({"refresh": token})).await;
    assert_eq!(reply.status, 429);
}

/// With rotation the request is counted while the user is read: rotations and refused
/// refreshes count alike (`races.rs`: parallel ones cannot slip past it).
#[tokio::test]
async fn rotations_and_refusals_count_against_one_limit() {
    let app = TestApp::start_with(|s| s.session.refresh_reuse_grace = 0).await;
    let first = app.sign_up("ada@example.com", PASSWORD).await;
    let second = app.log_in("ada@example.com", PASSWORD).await;
    let used = refresh_of(&first);
    let rotated = app.post("token/refresh/", json!({"refresh": used})).await;
    assert_eq!(rotated.status, 200);
    // Refused (a reused token: its family ends), and counted.
    let reused = app.post("token/refresh/", json!({"refresh": used})).await;
    assert_eq!(reused.status, 401);
    let third = app
        .post("token/refresh/", json!({"refresh": refresh_of(&second)}))
        .await;
    assert_eq!(third.status, 200);
    // The limit (3) is spent: a good token is refused too.
    let over = app
        .post("token/refresh/", json!({"refresh": refresh_of(&third)}))
        .await;
    assert_eq!(over.status, 429);
    assert!(over.header("retry-after").is_some());
}

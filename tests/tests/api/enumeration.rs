//! Nothing tells a caller whether an identifier has an account: not the status, not the
//! body, not (beyond noise) the time.

use std::time::{Duration, Instant};

use blockauth_tests::{PASSWORD, Reply, TestApp};
use serde_json::{Value, json};

async fn timed(app: &TestApp, path: &str, body: Value) -> (Reply, Duration) {
    let started = Instant::now();
    let reply = app.post(path, body).await;
    (reply, started.elapsed())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// Asks `path` for known and unknown identifiers alternately; every answer must be the same,
/// and the median times must be within a factor of each other (loose: this is a guard
/// against an early return, e.g. skipping the password hash, not a benchmark).
async fn compare(app: &TestApp, path: &str, known: Value, unknown: impl Fn(usize) -> Value) {
    let (mut known_times, mut unknown_times) = (Vec::new(), Vec::new());
    let mut first: Option<Reply> = None;
    for i in 0..7 {
        let (a, ta) = timed(app, path, known.clone()).await;
        let (b, tb) = timed(app, path, unknown(i)).await;
        assert_eq!((a.status, &a.body), (b.status, &b.body), "{path}");
        if let Some(first) = &first {
            assert_eq!(first.body, a.body);
        }
        first.get_or_insert(a);
        known_times.push(ta);
        unknown_times.push(tb);
    }
    let (k, u) = (median(known_times), median(unknown_times));
    let (fast, slow) = if k < u { (k, u) } else { (u, k) };
    assert!(
        slow <= fast * 3 + Duration::from_millis(15),
        "{path}: known {k:?} vs unknown {u:?}"
    );
}

#[tokio::test]
async fn code_sending_routes_look_the_same_for_everyone() {
    let app = TestApp::start_with(|s| {
        s.request_limit = 1000;
        s.send_limit = 1000;
    })
    .await;
    app.sign_up("ada@example.com", PASSWORD).await;
    let known = json!({"email": "ada@example.com"});
    for path in [
        "password/reset/",
        "login/passwordless/",
        "signup/otp/resend/",
    ] {
        compare(
            &app,
            path,
            known.clone(),
            |i| json!({"email": format!("nobody{i}@example.com")}),
        )
        .await;
    }
    compare(
        &app,
        "signup/",
        json!({"email": "ada@example.com", "password": PASSWORD}),
        |i| json!({"email": format!("newcomer{i}@example.com"), "password": PASSWORD}),
    )
    .await;
}

#[tokio::test]
async fn wrong_password_and_unknown_account_take_the_same_time() {
    let app = TestApp::start_with(|s| {
        s.request_limit = 1000;
        s.login_failure_limit = 1000;
    })
    .await;
    app.sign_up("ada@example.com", PASSWORD).await;
    compare(
        &app,
        "login/basic/",
        json!({"email": "ada@example.com", "password": "Wrong-Pass-1"}),
        |i| json!({"email": format!("nobody{i}@example.com"), "password": "Wrong-Pass-1"}),
    )
    .await;
}

#[tokio::test]
async fn failed_logins_are_capped_per_account_across_ips() {
    let app = TestApp::start_with(|s| {
        s.request_limit = 1000;
        s.login_failure_limit = 4;
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
            &blockauth_tests::access(&login),
            "password/change/",
            json!({"old_password": PASSWORD, "new_password": "Brand-New-Pass-77"}),
        )
        .await;
    assert_eq!(protected.status, 401);
    let refreshed = app
        .post(
            "token/refresh/",
            json!({"refresh": blockauth_tests::refresh(&login)}),
        )
        .await;
    assert_eq!(refreshed.status, 401);
}

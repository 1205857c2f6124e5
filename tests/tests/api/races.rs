//! Many parallel requests against one code, one token, one counter.

use std::sync::Arc;

use blockauth_tests::{PASSWORD, TestApp, parallel};
use serde_json::json;

async fn statuses(
    app: &Arc<TestApp>,
    n: usize,
    path: &'static str,
    body: serde_json::Value,
) -> Vec<u16> {
    parallel(n, |_| {
        let (app, body) = (app.clone(), body.clone());
        async move { app.post(path, body).await.status }
    })
    .await
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_confirms_make_one_account() {
    let app = Arc::new(TestApp::start_with(|s| s.limits.request_limit = 100).await);
    app.post(
        "signup/",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    let code = app.code_for("ada@example.com");
    let results = statuses(
        &app,
        20,
        "signup/confirm/",
        json!({"email": "ada@example.com", "otp": code}),
    )
    .await;
    assert_eq!(count(&results, 200), 1, "{results:?}");
    assert_eq!(count(&results, 400), 19, "{results:?}");
    // One account: a second signup gets the existing-account notice, not a code.
    app.post(
        "signup/",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    assert!(
        app.messages_to("ada@example.com")
            .last()
            .unwrap()
            .contains("already have")
    );
}

/// Without a grace window, one refresh wins and the others are theft.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_refreshes_have_one_winner() {
    let app = Arc::new(
        TestApp::start_with(|s| {
            s.limits.request_limit = 100;
            s.session.refresh_reuse_grace = 0;
        })
        .await,
    );
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let refresh = login.body["refresh"].as_str().unwrap().to_owned();
    let results = statuses(&app, 20, "token/refresh/", json!({"refresh": refresh})).await;
    assert_eq!(count(&results, 200), 1, "{results:?}");
    assert_eq!(count(&results, 401), 19, "{results:?}");
}

/// The refresh limit, counted while the user is read: twelve sessions of one account (signed
/// in from twelve networks) refreshed at once from one network get exactly the limit's
/// worth of new pairs.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_refreshes_of_many_sessions_stop_at_the_limit() {
    let app = Arc::new(TestApp::start_with(|s| s.limits.request_limit = 5).await);
    app.sign_up("ada@example.com", PASSWORD).await;
    let mut tokens = Vec::new();
    for host in 10..22 {
        let login = app
            .post_from(
                host,
                "login/basic/",
                json!({"email": "ada@example.com", "password": PASSWORD}),
            )
            .await;
        assert_eq!(login.status, 200, "{:?}", login.body);
        tokens.push(login.body["refresh"].as_str().unwrap().to_owned());
    }
    let tokens = Arc::new(tokens);
    let results = parallel(tokens.len(), |i| {
        let (app, tokens) = (app.clone(), tokens.clone());
        async move {
            let body = json!({"refresh": tokens[i]});
            app.post_from(40, "token/refresh/", body).await.status
        }
    })
    .await;
    assert_eq!(count(&results, 200), 5, "{results:?}");
    assert_eq!(count(&results, 429), 7, "{results:?}");
}

/// Within the grace window (the default 10 s), twenty tabs refreshing one token at once all
/// get the one new pair, and the sign-in lives on.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_refreshes_in_the_grace_window_share_one_pair() {
    let app = Arc::new(TestApp::start_with(|s| s.limits.request_limit = 100).await);
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let refresh = login.body["refresh"].as_str().unwrap().to_owned();
    let replies = parallel(20, |_| {
        let (app, refresh) = (app.clone(), refresh.clone());
        async move {
            app.post("token/refresh/", json!({"refresh": refresh}))
                .await
        }
    })
    .await;
    assert!(replies.iter().all(|r| r.status == 200), "{replies:?}");
    let pairs: std::collections::BTreeSet<(String, String)> = replies
        .iter()
        .map(|r| (r.body["access"].to_string(), r.body["refresh"].to_string()))
        .collect();
    assert_eq!(pairs.len(), 1, "one new pair");
    let next = replies[0].body["refresh"].as_str().unwrap();
    let after = app.post("token/refresh/", json!({"refresh": next})).await;
    assert_eq!(after.status, 200, "the sign-in lives on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_requests_never_exceed_the_limit() {
    let app = Arc::new(TestApp::start().await);
    let results = statuses(
        &app,
        20,
        "signup/otp/resend/",
        json!({"email": "ada@example.com"}),
    )
    .await;
    assert_eq!(count(&results, 200), 3, "{results:?}");
    assert_eq!(count(&results, 429), 17, "{results:?}");
}

/// `body` to `path` from `n` client networks at once (127.0.0.1 to 127.0.0.n), with `token`
/// if any: the answers.
async fn from_networks(
    app: &Arc<TestApp>,
    n: u8,
    path: &'static str,
    body: serde_json::Value,
    token: Option<&str>,
) -> Vec<blockauth_tests::Reply> {
    let token = token.map(str::to_owned);
    parallel(usize::from(n), |i| {
        let (app, body, token) = (app.clone(), body.clone(), token.clone());
        async move {
            let client = blockauth_tests::client_from(i as u8 + 1);
            let mut request = client.post(app.url(path)).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            app.send(request).await
        }
    })
    .await
}

fn statuses_of(replies: &[blockauth_tests::Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.status).collect()
}

/// An attacker who learnt a code (signup, passwordless, reset, wallet email, email change), a
/// signed wallet message or a refresh token sends it from 120 networks at once: each works once (a refresh, inside its grace window, gives every
/// caller the one same new pair).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_secret_works_once_under_120_parallel_requests_from_120_networks() {
    const N: u8 = 120;
    let app = Arc::new(TestApp::start_with(|s| s.limits.request_limit = 1_000).await);
    let email = "ada@example.com";
    app.post("signup/", json!({"email": email, "password": PASSWORD}))
        .await;
    let confirm = json!({"email": email, "otp": app.code_for(email)});
    let replies = from_networks(&app, N, "signup/confirm/", confirm, None).await;
    assert_eq!(count(&statuses_of(&replies), 200), 1, "signup");

    app.post("login/passwordless/", json!({"email": email}))
        .await;
    let confirm = json!({"email": email, "otp": app.code_for(email)});
    let replies = from_networks(&app, N, "login/passwordless/confirm/", confirm, None).await;
    assert_eq!(count(&statuses_of(&replies), 200), 1, "passwordless");

    app.post("password/reset/", json!({"email": email})).await;
    let reset = json!({"email": email, "otp": app.code_for(email), "new_password": "Reset-Horse-7-Battery"});
    let replies = from_networks(&app, N, "password/reset/confirm/", reset, None).await;
    assert_eq!(count(&statuses_of(&replies), 200), 1, "reset");

    let wallet = blockauth_tests::wallet::TestWallet::number(9);
    let message = blockauth_tests::wallet::challenge(&app, &wallet).await;
    let signed = json!({"message": message, "signature": wallet.sign(&message)});
    let replies = from_networks(&app, N, "login/wallet/", signed, None).await;
    assert_eq!(count(&statuses_of(&replies), 200), 1, "wallet");
    let wallet_session = replies.iter().find(|r| r.status == 200).unwrap();

    // Codes that add or move an address (an email change's code says whose move it is).
    let added = "wallet@example.com";
    let token = blockauth_tests::access(wallet_session);
    app.post_as(&token, "wallet/email/add/", json!({"email": added}))
        .await;
    let confirm = json!({"email": added, "otp": app.code_for(added)});
    let replies = from_networks(&app, N, "wallet/email/add/confirm/", confirm, Some(&token)).await;
    assert_eq!(count(&statuses_of(&replies), 200), 1, "wallet email");

    let login = app.log_in(email, "Reset-Horse-7-Battery").await;
    let moved = "ada@new.example";
    let token = blockauth_tests::access(&login);
    app.post_as(&token, "email/change/", json!({"new_email": moved}))
        .await;
    let confirm = json!({"email": moved, "otp": app.code_for(moved)});
    let replies = from_networks(&app, N, "email/change/confirm/", confirm, None).await;
    assert_eq!(count(&statuses_of(&replies), 200), 1, "email change");

    // A fresh session's refresh token, 120 times at once.
    let login = app.log_in(moved, "Reset-Horse-7-Battery").await;
    let refresh = json!({"refresh": blockauth_tests::refresh(&login)});
    let replies = from_networks(&app, N, "token/refresh/", refresh, None).await;
    assert_eq!(
        count(&statuses_of(&replies), 200),
        usize::from(N),
        "refresh"
    );
    let pairs: std::collections::BTreeSet<String> =
        replies.iter().map(blockauth_tests::refresh).collect();
    assert_eq!(pairs.len(), 1, "one rotation");
}

/// The same from 120 networks at once for passkeys and the second factor: a passkey's
/// registration and a sign-in's assertion, the code that turns TOTP on (one set of backup
/// codes), a TOTP code and a backup code completing one sign-in: each works once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_ceremony_and_factor_code_works_once_under_120_parallel_requests() {
    use blockauth_tests::authenticator::Authenticator;
    use blockauth_tests::{access, early_in_a_step, totp_code};
    const N: u8 = 120;
    let app = Arc::new(
        TestApp::start_with(|s| {
            s.limits.request_limit = 1_000;
            s.limits.network_request_limit = 1_000;
        })
        .await,
    );
    let email = "ada@example.com";
    let token = access(&app.sign_up(email, PASSWORD).await);
    let options = app
        .post_as(&token, "passkey/register/options/", json!({}))
        .await;
    let (mut authenticator, credential) =
        Authenticator::create(&options.body, "http://localhost:3000");
    let register = json!({"credential": credential});
    let replies = from_networks(&app, N, "passkey/register/verify/", register, Some(&token)).await;
    assert_eq!(count(&statuses_of(&replies), 201), 1, "registration");
    let listed = app.get_as(&token, "passkey/credentials/").await;
    assert_eq!(listed.body["count"], 1);

    let options = app.post("passkey/auth/options/", json!({})).await;
    let assertion = json!({"credential": authenticator.assert(&options.body)});
    let replies = from_networks(&app, N, "passkey/auth/verify/", assertion, None).await;
    assert_eq!(count(&statuses_of(&replies), 200), 1, "passkey sign-in");

    let set_up = app.post_as(&token, "totp/setup/", json!({})).await;
    let secret = set_up.body["secret"].as_str().expect("a secret").to_owned();
    let now = early_in_a_step().await;
    let turn_on = json!({"code": totp_code(&secret, now)});
    let replies = from_networks(&app, N, "totp/confirm/", turn_on, Some(&token)).await;
    let on: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(on.len(), 1, "confirm: {:?}", statuses_of(&replies));
    let backup = on[0].body["backup_codes"][0].as_str().unwrap().to_owned();

    // The next step's code (one step of drift is allowed), then a backup code.
    for code in [totp_code(&secret, now + 30), backup] {
        let pending = app.log_in(email, PASSWORD).await;
        let mfa_token = pending.body["mfa_token"].as_str().expect("mfa_token");
        let verify = json!({"mfa_token": mfa_token, "code": code});
        let replies = from_networks(&app, N, "totp/verify/", verify, None).await;
        let statuses = statuses_of(&replies);
        assert_eq!(count(&statuses, 200), 1, "verify: {statuses:?}");
        assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");
    }
}

//! The second factor, with codes computed by an independent implementation (PyPI's pyotp,
//! `tests/totp/code.py`): set up, turned on, required at every first-factor sign-in (and a
//! passkey counting as both), window edges and drift, replay, brute force and races,
//! backup codes, turning it off, new backup codes, step-up receipts, the operator's path.

use std::sync::Arc;

use blockauth::clock;
use blockauth::session::settings::Algorithm;
use blockauth_tests::wallet::{TestWallet, eth_account_python, wallet_login};
use blockauth_tests::{PASSWORD, Reply, TestApp, access, early_in_a_step, parallel, refresh};
use serde_json::{Value, json};

/// pyotp's codes of `secret` at each of `times`; None where its Python is not installed
/// (never in CI).
fn codes_at(secret: &str, times: &[i64]) -> Option<Vec<String>> {
    let python = eth_account_python()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/totp/code.py");
    let mut command = std::process::Command::new(python);
    command.arg(script).arg(secret);
    for time in times {
        command.arg(time.to_string());
    }
    let out = command.output().expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("a JSON list"))
}

fn code_at(secret: &str, time: i64) -> Option<String> {
    codes_at(secret, &[time]).map(|mut codes| codes.remove(0))
}

async fn start() -> TestApp {
    TestApp::start_with(|s| {
        s.limits.request_limit = 100;
        s.limits.network_request_limit = 1000;
        s.limits.login_failure_limit = 1000;
    })
    .await
}

/// An account with the second factor on: its email, the secret, the backup codes, and the
/// session that turned it on.
struct WithTotp {
    email: String,
    secret: String,
    backup_codes: Vec<String>,
    session: Reply,
}

async fn with_totp(app: &TestApp, email: &str) -> Option<WithTotp> {
    let session = app.sign_up(email, PASSWORD).await;
    let token = access(&session);
    let set_up = app.post_as(&token, "totp/setup/", json!({})).await;
    assert_eq!(set_up.status, 200, "{:?}", set_up.body);
    let secret = set_up.body["secret"].as_str().unwrap().to_owned();
    let now = early_in_a_step().await;
    let code = code_at(&secret, now)?;
    let confirmed = app
        .post_as(&token, "totp/confirm/", json!({"code": code}))
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let backup_codes: Vec<String> = confirmed.body["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    Some(WithTotp {
        email: email.to_owned(),
        secret,
        backup_codes,
        session,
    })
}

/// A first factor's answer for an account with TOTP on: no tokens, an `mfa_token`.
fn mfa_token(reply: &Reply) -> String {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["mfa_required"], true, "{:?}", reply.body);
    assert!(reply.body.get("access").is_none() && reply.body.get("refresh").is_none());
    reply.body["mfa_token"].as_str().unwrap().to_owned()
}

async fn verify(app: &TestApp, token: &str, code: &str) -> Reply {
    app.post("totp/verify/", json!({"mfa_token": token, "code": code}))
        .await
}

#[tokio::test]
async fn totp_is_set_up_turned_on_and_completes_a_sign_in() {
    let app = start().await;
    let ada = app.sign_up("ada@example.com", PASSWORD).await;
    let token = access(&ada);
    let set_up = app.post_as(&token, "totp/setup/", json!({})).await;
    assert_eq!(set_up.status, 200, "{:?}", set_up.body);
    let uri = set_up.body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/BlockAuth:ada%40example.com?secret="),
        "{uri}"
    );
    assert!(set_up.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let secret = set_up.body["secret"].as_str().unwrap().to_owned();
    // Until confirmed, sign-ins need no code.
    assert!(app.log_in("ada@example.com", PASSWORD).await.body["access"].is_string());
    let wrong = app
        .post_as(&token, "totp/confirm/", json!({"code": "000000"}))
        .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.body["code"], "mfa_code_invalid");

    let now = early_in_a_step().await;
    let Some(code) = code_at(&secret, now) else {
        return;
    };
    let confirmed = app
        .post_as(&token, "totp/confirm/", json!({"code": code}))
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["backup_codes"].as_array().unwrap().len(), 10);
    // The session that turned it on goes on; every other ended.
    assert_eq!(app.get_as(&token, "me/").await.status, 200);
    let status = app.get_as(&token, "totp/status/").await;
    assert_eq!(
        status.body,
        json!({"enabled": true, "backup_codes_left": 10})
    );
    assert_eq!(
        app.post_as(&token, "totp/setup/", json!({})).await.status,
        409
    );

    let first = app.log_in("ada@example.com", PASSWORD).await;
    let pending = mfa_token(&first);
    let next = code_at(&secret, now + 30).unwrap();
    let signed_in = verify(&app, &pending, &next).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    assert!(signed_in.body["access"].is_string());
    assert_eq!(signed_in.body["user"]["email"], "ada@example.com");
    // The session is the first factor's: its method and device.
    let sessions = app.get_as(&access(&signed_in), "sessions/").await;
    let current: Vec<&Value> = sessions.body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["current"] == true)
        .collect();
    assert_eq!(current[0]["method"], "EMAIL");
    // The mfa_token works once.
    assert_eq!(verify(&app, &pending, &next).await.status, 401);
    let events = app.events();
    assert!(events.iter().any(|e| e["type"] == "mfa.enabled"));
}

#[tokio::test]
async fn one_step_of_drift_either_way_and_each_step_once() {
    let app = start().await;
    let ada = app.sign_up("ada@example.com", PASSWORD).await;
    let token = access(&ada);
    let set_up = app.post_as(&token, "totp/setup/", json!({})).await;
    let secret = set_up.body["secret"].as_str().unwrap().to_owned();
    let now = early_in_a_step().await;
    let times = [now - 60, now - 30, now, now + 30, now + 60];
    let Some(codes) = codes_at(&secret, &times) else {
        return;
    };
    // Two steps behind: refused. One behind (a slow phone): accepted.
    let confirm = |code: &str| app.post_as(&token, "totp/confirm/", json!({ "code": code }));
    assert_eq!(confirm(&codes[0]).await.status, 400);
    assert_eq!(confirm(&codes[1]).await.status, 200);
    let sign_in = || async { mfa_token(&app.log_in("ada@example.com", PASSWORD).await) };
    // Two steps ahead: refused (and counted as a wrong try).
    assert_eq!(verify(&app, &sign_in().await, &codes[4]).await.status, 400);
    // Now, then one ahead (a fast phone): each once, in order.
    for (code, expected) in [(&codes[2], 200), (&codes[2], 400), (&codes[3], 200)] {
        let reply = verify(&app, &sign_in().await, code).await;
        assert_eq!(reply.status, expected, "{:?}", reply.body);
    }
    // A step older than the last used is refused, though inside the window.
    let older = verify(&app, &sign_in().await, &codes[2]).await;
    assert_eq!(older.status, 400);
    assert_eq!(older.body["code"], "mfa_code_invalid");
}

#[tokio::test]
async fn no_first_factor_gives_tokens_without_the_second() {
    let app = start().await;
    let Some(ada) = with_totp(&app, "ada@example.com").await else {
        return;
    };
    // Password.
    mfa_token(&app.log_in(&ada.email, PASSWORD).await);
    // A code by mail.
    let asked = app
        .post("login/passwordless/", json!({"email": ada.email}))
        .await;
    assert_eq!(asked.status, 200);
    let otp = app.code_for(&ada.email);
    let confirmed = app
        .post(
            "login/passwordless/confirm/",
            json!({"email": ada.email, "otp": otp}),
        )
        .await;
    mfa_token(&confirmed);
    // A wallet linked to the account.
    let wallet = TestWallet::number(51);
    let token = access(&ada.session);
    let challenge = app
        .post_as(
            &token,
            "wallet/link/challenge/",
            json!({"address": wallet.address}),
        )
        .await;
    let message = challenge.body["message"].as_str().unwrap();
    let linked = app
        .post_as(
            &token,
            "wallet/link/",
            json!({"message": message, "signature": wallet.sign(message)}),
        )
        .await;
    assert_eq!(linked.status, 200, "{:?}", linked.body);
    mfa_token(&wallet_login(&app, &wallet).await);
    // A refresh continues a session that passed the second factor; it starts none.
    let refreshed = app
        .post("token/refresh/", json!({"refresh": refresh(&ada.session)}))
        .await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
}

#[tokio::test]
async fn wrong_codes_are_capped_per_sign_in_and_a_code_works_once_in_parallel() {
    let app = Arc::new(start().await);
    let Some(ada) = with_totp(&app, "ada@example.com").await else {
        return;
    };
    // OTP_MAX_ATTEMPTS (5) wrong codes end the sign-in: the right code comes too late.
    let pending = mfa_token(&app.log_in(&ada.email, PASSWORD).await);
    for wrong in ["000000", "111111", "222222", "333333", "444444"] {
        assert_eq!(verify(&app, &pending, wrong).await.status, 400);
    }
    let now = early_in_a_step().await;
    let code = code_at(&ada.secret, now + 30).unwrap();
    let late = verify(&app, &pending, &code).await;
    assert_eq!(late.status, 401, "{:?}", late.body);
    assert_eq!(late.body["code"], "mfa_token_invalid");

    // 20 parallel verifies of one code for one sign-in: one session.
    let pending = mfa_token(&app.log_in(&ada.email, PASSWORD).await);
    let replies = parallel(20, |_| {
        let (app, pending, code) = (app.clone(), pending.clone(), code.clone());
        async move { verify(&app, &pending, &code).await }
    })
    .await;
    let won = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(won, 1, "{replies:?}");
    assert!(replies.iter().all(|r| r.status < 500), "{replies:?}");

    // One code for 10 sign-ins at once (a code seen over a shoulder): one session.
    let mut pendings = Vec::new();
    for _ in 0..10 {
        pendings.push(mfa_token(&app.log_in(&ada.email, PASSWORD).await));
    }
    let code = code_at(&ada.secret, clock::now() + 30).unwrap();
    let replies = parallel(10, |i| {
        let (app, pending, code) = (app.clone(), pendings[i].clone(), code.clone());
        async move { verify(&app, &pending, &code).await }
    })
    .await;
    let won = replies.iter().filter(|r| r.status == 200).count();
    assert!(won <= 1, "{replies:?}");
}

#[tokio::test]
async fn wrong_codes_are_capped_per_account_across_sign_ins() {
    let app = TestApp::start_with(|s| {
        s.limits.request_limit = 100;
        s.limits.network_request_limit = 1000;
        s.limits.login_failure_limit = 6;
    })
    .await;
    let Some(ada) = with_totp(&app, "ada@example.com").await else {
        return;
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let pending = mfa_token(&app.log_in(&ada.email, PASSWORD).await);
        for _ in 0..3 {
            statuses.push(verify(&app, &pending, "999999").await.status);
        }
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn backup_codes_work_once_and_new_ones_replace_them() {
    let app = start().await;
    let Some(ada) = with_totp(&app, "ada@example.com").await else {
        return;
    };
    let backup = &ada.backup_codes[0];
    let pending = mfa_token(&app.log_in(&ada.email, PASSWORD).await);
    let signed_in = verify(&app, &pending, &backup.to_uppercase()).await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);
    let token = access(&signed_in);
    let status = app.get_as(&token, "totp/status/").await;
    assert_eq!(status.body["backup_codes_left"], 9);
    let pending = mfa_token(&app.log_in(&ada.email, PASSWORD).await);
    assert_eq!(verify(&app, &pending, backup).await.status, 400);

    // New codes need a current TOTP code, not a backup code; the old ones stop working.
    let refused = app
        .post_as(
            &token,
            "totp/backup-codes/regenerate/",
            json!({"code": ada.backup_codes[1]}),
        )
        .await;
    assert_eq!(refused.status, 400);
    let now = early_in_a_step().await;
    let code = code_at(&ada.secret, now + 30).unwrap();
    let renewed = app
        .post_as(
            &token,
            "totp/backup-codes/regenerate/",
            json!({"code": code}),
        )
        .await;
    assert_eq!(renewed.status, 200, "{:?}", renewed.body);
    let fresh = renewed.body["backup_codes"][0].as_str().unwrap().to_owned();
    assert!(!ada.backup_codes.contains(&fresh));
    let pending = mfa_token(&app.log_in(&ada.email, PASSWORD).await);
    assert_eq!(
        verify(&app, &pending, &ada.backup_codes[2]).await.status,
        400
    );
    assert_eq!(verify(&app, &pending, &fresh).await.status, 200);
    let notices = app.messages_to(&ada.email);
    assert!(
        notices.last().unwrap().contains("backup codes"),
        "{notices:?}"
    );
}

#[tokio::test]
async fn turning_it_off_needs_a_current_code_and_sends_a_notice() {
    let app = start().await;
    let Some(ada) = with_totp(&app, "ada@example.com").await else {
        return;
    };
    let token = access(&ada.session);
    let refused = app
        .post_as(&token, "totp/disable/", json!({"code": "123456"}))
        .await;
    assert_eq!(refused.status, 400);
    let now = early_in_a_step().await;
    let code = code_at(&ada.secret, now + 30).unwrap();
    let off = app
        .post_as(&token, "totp/disable/", json!({"code": code}))
        .await;
    assert_eq!(off.status, 200, "{:?}", off.body);
    assert!(app.log_in(&ada.email, PASSWORD).await.body["access"].is_string());
    let status = app.get_as(&token, "totp/status/").await;
    assert_eq!(
        status.body,
        json!({"enabled": false, "backup_codes_left": 0})
    );
    let notices = app.messages_to(&ada.email);
    assert!(
        notices.last().unwrap().contains("turned off"),
        "{notices:?}"
    );
    assert_eq!(
        app.post_as(&token, "totp/disable/", json!({"code": code}))
            .await
            .status,
        409
    );
}

#[tokio::test]
async fn the_operator_turns_it_off_for_an_owner_who_lost_everything() {
    let app = start().await;
    let Some(ada) = with_totp(&app, "ada@example.com").await else {
        return;
    };
    let user_id = ada.session.body["user"]["id"].as_str().unwrap().to_owned();
    let found = blockauth::mfa::factor::disable_by_operator(&app.server.context.store, &user_id)
        .await
        .unwrap();
    assert!(found);
    // Every session ended; the password alone signs in again.
    assert_eq!(app.get_as(&access(&ada.session), "me/").await.status, 401);
    assert!(app.log_in(&ada.email, PASSWORD).await.body["access"].is_string());
    let nobody = blockauth::mfa::factor::disable_by_operator(
        &app.server.context.store,
        blockauth::identity::user::NOBODY,
    )
    .await
    .unwrap();
    assert!(!nobody);
}

#[tokio::test]
async fn a_step_up_receipt_is_a_short_lived_token_for_another_service() {
    let app = TestApp::start_with(|s| {
        s.limits.request_limit = 100;
        s.mfa.stepup_audiences = vec!["payments".into()];
    })
    .await;
    let Some(ada) = with_totp(&app, "ada@example.com").await else {
        return;
    };
    let token = access(&ada.session);
    let now = early_in_a_step().await;
    let codes = codes_at(&ada.secret, &[now + 30]).unwrap();
    let refused = app
        .post_as(
            &token,
            "stepup/",
            json!({"code": codes[0], "scope": "withdrawal", "audience": "elsewhere"}),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    let receipt = app
        .post_as(
            &token,
            "stepup/",
            json!({"code": codes[0], "scope": "withdrawal", "audience": "payments"}),
        )
        .await;
    assert_eq!(receipt.status, 200, "{:?}", receipt.body);
    assert_eq!(receipt.body["expires_in"], 120);
    let jwt = receipt.body["receipt"].as_str().unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["payments"]);
    let key = jsonwebtoken::DecodingKey::from_secret(app.key.bytes());
    let checked = jsonwebtoken::decode::<Value>(jwt, &key, &validation).expect("our key signed it");
    let claims = checked.claims;
    assert_eq!(claims["type"], "stepup");
    assert_eq!(claims["scope"], "withdrawal");
    assert_eq!(claims["sub"], ada.session.body["user"]["id"]);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    // The same code again: refused. A receipt is no access token.
    let again = app
        .post_as(
            &token,
            "stepup/",
            json!({"code": codes[0], "scope": "withdrawal"}),
        )
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(app.get_as(jwt, "me/").await.status, 401);
    // Without the second factor on: 409.
    let eve = access(&app.sign_up("eve@example.com", PASSWORD).await);
    let off = app
        .post_as(
            &eve,
            "stepup/",
            json!({"code": "123456", "scope": "withdrawal"}),
        )
        .await;
    assert_eq!(off.status, 409);
}

#[tokio::test]
async fn a_receipt_verifies_with_the_published_keys() {
    let app = TestApp::start_on_a_free_port(|port| {
        let mut settings = blockauth_tests::test_settings();
        settings.session.algorithm = Algorithm::Rs256;
        settings.session.token_issuer = format!("http://127.0.0.1:{port}/auth");
        settings
    })
    .await;
    let Some(ada) = with_totp(&app, "ada@example.com").await else {
        return;
    };
    let now = early_in_a_step().await;
    let code = code_at(&ada.secret, now + 30).unwrap();
    let receipt = app
        .post_as(
            &access(&ada.session),
            "stepup/",
            json!({"code": code, "scope": "email_change"}),
        )
        .await;
    assert_eq!(receipt.status, 200, "{:?}", receipt.body);
    let jwt = receipt.body["receipt"].as_str().unwrap();
    let answers = crate::keys::third_party(&app, &[(jwt, "blockauth:stepup")]).await;
    if let Some(answers) = answers {
        assert_eq!(answers[0]["ok"], true, "{answers:?}");
        assert_eq!(answers[0]["claims"]["type"], "stepup");
    }
}

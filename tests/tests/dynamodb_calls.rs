//! The DynamoDB calls each route makes per request, counted from the AWS SDK's own
//! operation spans (`DynamoDB.<Operation>`). Calls cost latency and money on every request,
//! so a change that adds one must say so here. Its own test binary: it installs a global
//! tracing subscriber, which would see every other test's calls too.

use std::sync::{Arc, Mutex};

use blockauth::identity::identifier::Identifier;
use blockauth::identity::user::{SignInMethod, User};
use blockauth::social::settings::ProviderKind;
use blockauth_tests::authenticator::Authenticator;
use blockauth_tests::oidc::{self, Providers};
use blockauth_tests::wallet::TestWallet;
use blockauth_tests::{PASSWORD, TestApp, access};
use serde_json::{Value, json};
use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// The refresh reuse grace window in these tests: whole seconds, so a window of 1 could
/// be over in a millisecond (a first use at x.999 s); 3 leaves a repeat at least 2 s.
const GRACE: i64 = 3;

#[derive(Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> Layer<S> for Calls {
    fn on_new_span(&self, attrs: &Attributes<'_>, _: &Id, _: Context<'_, S>) {
        if let Some(operation) = attrs.metadata().name().strip_prefix("DynamoDB.") {
            self.0
                .lock()
                .expect("not poisoned")
                .push(operation.to_owned());
        }
    }
}

impl Calls {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("not poisoned"))
    }
}

struct Route<'a> {
    app: &'a TestApp,
    calls: &'a Calls,
    table: Vec<(String, Vec<String>)>,
}

impl Route<'_> {
    /// Sends one request as a browser (no redirect followed), expects `status`, and records
    /// the calls it made; the answer's headers.
    async fn measure_browser(
        &mut self,
        what: &str,
        request: reqwest::RequestBuilder,
        status: u16,
    ) -> reqwest::header::HeaderMap {
        self.calls.take();
        let reply = self.app.send(request).await;
        assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
        self.table.push((what.to_owned(), self.calls.take()));
        reply.headers
    }

    /// Sends one request, expects `status`, and records the calls it made.
    async fn measure(
        &mut self,
        what: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
        status: u16,
    ) -> Value {
        self.calls.take();
        let mut request = self.app.http.post(self.app.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let reply = self.app.send(request).await;
        assert_eq!(reply.status, status, "{what}: {:?}", reply.body);
        self.table.push((what.to_owned(), self.calls.take()));
        reply.body
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_calls_per_request() {
    let calls = Calls::default();
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(calls.clone()))
        .expect("the only subscriber of this binary");
    let providers = Providers::start(&["google", "apple"]).await;
    let app = TestApp::start_with(|s| {
        s.limits.request_limit = 100;
        // A grace window short enough to wait out: a repeat inside it, a reuse after it.
        s.session.refresh_reuse_grace = GRACE as u64;
        if let Some(providers) = &providers {
            let issuer = providers.issuer("google");
            let mut google = oidc::provider("google", ProviderKind::Google, issuer, true);
            google.native_client_ids = vec!["app".into()];
            s.social.providers = [
                ("google".into(), google),
                ("apple".into(), providers.apple(true)),
            ]
            .into();
            s.social.success_redirect = Some("https://app.example.com/in".into());
        }
    })
    .await;
    let mut r = Route {
        app: &app,
        calls: &calls,
        table: Vec::new(),
    };
    let ada = json!({"email": "ada@example.com", "password": PASSWORD});

    r.measure("signup/ (new)", "signup/", None, ada.clone(), 200)
        .await;
    r.measure(
        "signup/otp/resend/",
        "signup/otp/resend/",
        None,
        json!({"email": "ada@example.com"}),
        200,
    )
    .await;
    let code = app.code_for("ada@example.com");
    r.measure(
        "signup/confirm/",
        "signup/confirm/",
        None,
        json!({"email": "ada@example.com", "otp": code}),
        200,
    )
    .await;
    r.measure(
        "signup/ (existing account)",
        "signup/",
        None,
        ada.clone(),
        200,
    )
    .await;
    let logged_in = r
        .measure("login/basic/", "login/basic/", None, ada.clone(), 200)
        .await;
    r.measure(
        "login/basic/ (wrong password)",
        "login/basic/",
        None,
        json!({"email": "ada@example.com", "password": "Wrong-Horse-9-Battery"}),
        401,
    )
    .await;
    // An account moved in from Django: its PBKDF2 hash verified and replaced by argon2id
    // inside the sign-in's own transaction, so no call more than a login's.
    let vectors: Value =
        serde_json::from_str(include_str!("../django/vectors.json")).expect("vectors");
    let django = vectors["vectors"][0]["hash"].as_str().expect("a hash");
    let moved_in = Identifier::email("moved-in@example.com").expect("an email");
    let user = User::new(&moved_in, Some(django.to_owned()), SignInMethod::Email);
    app.put_user(&user, &moved_in).await;
    r.measure(
        "login/basic/ (a Django hash, upgraded)",
        "login/basic/",
        None,
        json!({"email": "moved-in@example.com", "password": PASSWORD}),
        200,
    )
    .await;
    let old = logged_in["refresh"].clone();
    let rotated = r
        .measure(
            "token/refresh/",
            "token/refresh/",
            None,
            json!({"refresh": old}),
            200,
        )
        .await;
    let used_at = blockauth::clock::now();
    r.measure(
        "token/refresh/ (repeated in the grace window)",
        "token/refresh/",
        None,
        json!({"refresh": old}),
        200,
    )
    .await;
    while blockauth::clock::now() < used_at + GRACE + 1 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    r.measure(
        "token/refresh/ (reused token)",
        "token/refresh/",
        None,
        json!({"refresh": old}),
        401,
    )
    .await;
    r.measure(
        "token/revoke/",
        "token/revoke/",
        None,
        json!({"refresh": rotated["refresh"]}),
        204,
    )
    .await;

    r.measure(
        "login/passwordless/",
        "login/passwordless/",
        None,
        json!({"email": "ada@example.com"}),
        200,
    )
    .await;
    let code = app.code_for("ada@example.com");
    r.measure(
        "login/passwordless/confirm/",
        "login/passwordless/confirm/",
        None,
        json!({"email": "ada@example.com", "otp": code}),
        200,
    )
    .await;
    r.measure(
        "password/reset/",
        "password/reset/",
        None,
        json!({"email": "ada@example.com"}),
        200,
    )
    .await;
    let code = app.code_for("ada@example.com");
    r.measure(
        "password/reset/confirm/",
        "password/reset/confirm/",
        None,
        json!({"email": "ada@example.com", "otp": code, "new_password": "Another-Horse-8-Battery"}),
        200,
    )
    .await;
    let session = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": "Another-Horse-8-Battery"}),
        )
        .await;
    let token = access(&session);
    r.measure(
        "password/change/ (protected)",
        "password/change/",
        Some(&token),
        json!({"old_password": "Another-Horse-8-Battery", "new_password": PASSWORD}),
        200,
    )
    .await;
    let session = app.post("login/basic/", ada.clone()).await;
    let token = access(&session);
    r.measure(
        "email/change/ (protected)",
        "email/change/",
        Some(&token),
        json!({"new_email": "ada@new.example"}),
        200,
    )
    .await;
    let code = app.code_for("ada@new.example");
    r.measure(
        "email/change/confirm/",
        "email/change/confirm/",
        None,
        json!({"email": "ada@new.example", "otp": code}),
        200,
    )
    .await;

    let wallet = TestWallet::number(1);
    let challenge = r
        .measure(
            "login/wallet/challenge/",
            "login/wallet/challenge/",
            None,
            json!({"address": wallet.address}),
            200,
        )
        .await;
    let message = challenge["message"].as_str().expect("a message").to_owned();
    let new_wallet = r
        .measure(
            "login/wallet/ (new address)",
            "login/wallet/",
            None,
            json!({"message": message, "signature": wallet.sign(&message)}),
            200,
        )
        .await;
    let token = new_wallet["access"].as_str().expect("a token").to_owned();
    r.measure(
        "wallet/email/add/ (protected)",
        "wallet/email/add/",
        Some(&token),
        json!({"email": "w@example.com"}),
        200,
    )
    .await;
    let code = app.code_for("w@example.com");
    r.measure(
        "wallet/email/add/confirm/ (protected)",
        "wallet/email/add/confirm/",
        Some(&token),
        json!({"email": "w@example.com", "otp": code}),
        200,
    )
    .await;

    passkeys(&mut r, &token).await;
    account(&mut r).await;
    second_factor(&mut r).await;

    let mut expected = EXPECTED.to_vec();
    expected.extend(EXPECTED_PASSKEY);
    expected.extend(EXPECTED_ACCOUNT);
    expected.extend(EXPECTED_MFA);
    if let Some(providers) = &providers {
        social(&mut r, providers).await;
        expected.extend(EXPECTED_SOCIAL);
    }

    println!("| request | DynamoDB calls |\n|---|---|");
    for (what, operations) in &r.table {
        println!(
            "| `{what}` | {}: {} |",
            operations.len(),
            operations.join(", ")
        );
    }
    let counts: Vec<(&str, usize)> = r.table.iter().map(|(w, o)| (w.as_str(), o.len())).collect();
    assert_eq!(
        counts, expected,
        "update EXPECTED (and the README) when a route's calls change"
    );
}

/// A passkey registered to the account of `token`, signed in with (for an email and
/// discoverable), listed, renamed and deleted.
async fn passkeys(r: &mut Route<'_>, token: &str) {
    let origin = "http://localhost:3000";
    let options = r
        .measure(
            "passkey/register/options/ (protected)",
            "passkey/register/options/",
            Some(token),
            json!({}),
            200,
        )
        .await;
    let (mut authenticator, credential) = Authenticator::create(&options, origin);
    let created = r
        .measure(
            "passkey/register/verify/ (protected)",
            "passkey/register/verify/",
            Some(token),
            json!({ "credential": credential }),
            201,
        )
        .await;
    for (with, body) in [
        ("an email", json!({"email": "w@example.com"})),
        ("discoverable", json!({})),
    ] {
        let options = r
            .measure(
                &format!("passkey/auth/options/ ({with})"),
                "passkey/auth/options/",
                None,
                body,
                200,
            )
            .await;
        r.measure(
            &format!("passkey/auth/verify/ ({with})"),
            "passkey/auth/verify/",
            None,
            json!({"credential": authenticator.assert(&options)}),
            200,
        )
        .await;
    }
    let http = &r.app.http;
    let path = r.app.url(&format!(
        "passkey/credentials/{}/",
        created["id"].as_str().unwrap()
    ));
    let list = http
        .get(r.app.url("passkey/credentials/"))
        .bearer_auth(token);
    r.measure_browser("passkey/credentials/ (protected)", list, 200)
        .await;
    let rename = http
        .patch(&path)
        .bearer_auth(token)
        .json(&json!({"name": "Renamed"}));
    r.measure_browser("PATCH passkey/credentials/<id>/ (protected)", rename, 200)
        .await;
    let delete = http.delete(&path).bearer_auth(token);
    r.measure_browser("DELETE passkey/credentials/<id>/ (protected)", delete, 204)
        .await;
}

/// Passkeys' calls. Protected routes first read the caller's session (one batch read);
/// public ones count the client network's requests. A ceremony is written with the
/// options, then read and deleted at the verification; an email's options read its owner
/// and its passkeys (an email without an account reads as many).
const EXPECTED_PASSKEY: [(&str, usize); 9] = [
    ("passkey/register/options/ (protected)", 4),
    ("passkey/register/verify/ (protected)", 5),
    ("passkey/auth/options/ (an email)", 4),
    ("passkey/auth/verify/ (an email)", 6),
    ("passkey/auth/options/ (discoverable)", 2),
    ("passkey/auth/verify/ (discoverable)", 6),
    ("passkey/credentials/ (protected)", 2),
    ("PATCH passkey/credentials/<id>/ (protected)", 3),
    ("DELETE passkey/credentials/<id>/ (protected)", 3),
];

/// The account routes, on an account with two sessions and a wallet linked and unlinked;
/// then the account deleted.
async fn account(r: &mut Route<'_>) {
    let first = r.app.sign_up("kim@example.com", PASSWORD).await;
    let second = r.app.log_in("kim@example.com", PASSWORD).await;
    let token = access(&second);
    let http = &r.app.http;
    for (what, path) in [
        ("me/ (protected)", "me/"),
        ("sessions/ (protected)", "sessions/"),
        ("me/export/ (protected)", "me/export/"),
    ] {
        let get = http.get(r.app.url(path)).bearer_auth(&token);
        r.measure_browser(what, get, 200).await;
    }
    let sid = blockauth_tests::claims(&access(&first))["sid"].clone();
    let path = r.app.url(&format!("sessions/{}/", sid.as_str().unwrap()));
    let end = http.delete(path).bearer_auth(&token);
    r.measure_browser("DELETE sessions/<sid>/ (protected)", end, 204)
        .await;
    let what = "sessions/revoke-all/ (protected)";
    r.measure(what, "sessions/revoke-all/", Some(&token), json!({}), 204)
        .await;
    let wallet = TestWallet::number(3);
    let address = json!({"address": wallet.address});
    let what = "wallet/link/challenge/ (protected)";
    let path = "wallet/link/challenge/";
    let challenge = r
        .measure(what, path, Some(&token), address.clone(), 200)
        .await;
    let message = challenge["message"].as_str().unwrap();
    let signed = json!({"message": message, "signature": wallet.sign(message)});
    r.measure(
        "wallet/link/ (protected)",
        "wallet/link/",
        Some(&token),
        signed,
        200,
    )
    .await;
    let what = "wallet/unlink/ (protected)";
    r.measure(what, "wallet/unlink/", Some(&token), address, 200)
        .await;
    let delete = http.delete(r.app.url("me/")).bearer_auth(&token);
    r.measure_browser("DELETE me/ (protected)", delete, 204)
        .await;
}

/// The account routes' calls. Each reads the caller's session (one batch read); those that
/// act count the route's requests. The export and deletion read the account's partition
/// once; deletion is one transaction (the user, its identifiers and what it owns) and one
/// batch write sweeping its sessions and networks. A link reads the nonce, then one
/// transaction redeems it, claims the address and changes the user.
const EXPECTED_ACCOUNT: [(&str, usize); 9] = [
    ("me/ (protected)", 1),
    ("sessions/ (protected)", 2),
    ("me/export/ (protected)", 3),
    ("DELETE sessions/<sid>/ (protected)", 3),
    ("sessions/revoke-all/ (protected)", 3),
    ("wallet/link/challenge/ (protected)", 3),
    ("wallet/link/ (protected)", 4),
    ("wallet/unlink/ (protected)", 3),
    ("DELETE me/ (protected)", 5),
];

/// The second factor's routes, and a sign-in deferred to it and completed.
async fn second_factor(r: &mut Route<'_>) {
    let signed_up = r.app.sign_up("tia@example.com", PASSWORD).await;
    let token = access(&signed_up);
    let what = "totp/setup/ (protected)";
    let set_up = r
        .measure(what, "totp/setup/", Some(&token), json!({}), 200)
        .await;
    let secret = set_up["secret"].as_str().unwrap().to_owned();
    let now = blockauth_tests::early_in_a_step().await;
    let code = |at: i64| json!({ "code": blockauth_tests::totp_code(&secret, at) });
    let what = "totp/confirm/ (protected)";
    r.measure(what, "totp/confirm/", Some(&token), code(now - 30), 200)
        .await;
    let status = r
        .app
        .http
        .get(r.app.url("totp/status/"))
        .bearer_auth(&token);
    r.measure_browser("totp/status/ (protected)", status, 200)
        .await;
    let login = json!({"email": "tia@example.com", "password": PASSWORD});
    let what = "login/basic/ (a second factor on: deferred)";
    let pending = r.measure(what, "login/basic/", None, login, 200).await;
    let mut verify = code(now);
    verify["mfa_token"] = pending["mfa_token"].clone();
    r.measure("totp/verify/", "totp/verify/", None, verify, 200)
        .await;
    let mut receipt = code(now + 30);
    receipt["scope"] = json!("calls");
    r.measure("stepup/ (protected)", "stepup/", Some(&token), receipt, 200)
        .await;
}

/// The second factor's calls. Protected routes read the caller's session first (one batch
/// read) and count the route's requests. Setting up writes the sealed secret; turning it on
/// reads it and writes it on with the backup codes, the user and the caller's session in
/// one transaction. A deferred sign-in makes the calls of a sign-in (its session's write
/// becomes the pending sign-in's). Completing it reads the pending sign-in, then the user
/// and its factor together, whether the network is familiar, reserves a try on the
/// account's cap, and starts the session in one transaction that uses up the pending
/// sign-in and the code. A receipt reads the factor, reserves a try and uses the code.
const EXPECTED_MFA: [(&str, usize); 6] = [
    ("totp/setup/ (protected)", 3),
    ("totp/confirm/ (protected)", 4),
    ("totp/status/ (protected)", 2),
    ("login/basic/ (a second factor on: deferred)", 5),
    ("totp/verify/", 6),
    ("stepup/ (protected)", 6),
];

/// A social sign-in as a browser makes it: a new account, then the same person again.
async fn social(r: &mut Route<'_>, providers: &Providers) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (start, callback) in [
        ("google/ (start)", "google/callback/ (new account)"),
        ("google/ (start, again)", "google/callback/ (returning)"),
    ] {
        providers
            .set(
                "google",
                json!({"sub": "calls", "email": "sam@example.com", "email_verified": true}),
            )
            .await;
        let started = r
            .measure_browser(start, browser.get(r.app.url("google/")), 302)
            .await;
        let cookie = started["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let at_provider = started["location"].to_str().unwrap().to_owned();
        let back = browser.get(at_provider).send().await.unwrap();
        let query = back.headers()["location"]
            .to_str()
            .unwrap()
            .split_once('?')
            .unwrap()
            .1
            .to_owned();
        let url = format!("{}?{query}", r.app.url("google/callback/"));
        let answer = r
            .measure_browser(callback, browser.get(url).header("cookie", cookie), 302)
            .await;
        let location = answer["location"].to_str().unwrap();
        let code = location.split_once("code=").unwrap().1.to_owned();
        r.measure(
            "social/token/",
            "social/token/",
            None,
            json!({ "code": code }),
            200,
        )
        .await;
    }
    // Apple's callback is its page's POST: the same calls as Google's.
    providers
        .set(
            "apple",
            json!({"sub": "calls", "email": "sal@example.com", "email_verified": true}),
        )
        .await;
    let started = r
        .measure_browser("apple/ (start)", browser.get(r.app.url("apple/")), 302)
        .await;
    let cookie = started["set-cookie"].to_str().unwrap();
    let posted = oidc::form_post(started["location"].to_str().unwrap()).await;
    let post = browser
        .post(r.app.url("apple/callback/"))
        .header("cookie", cookie.split(';').next().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(posted.body());
    r.measure_browser("apple/callback/ (form_post, new account)", post, 302)
        .await;
    let id_token = providers.id_token("google", "app", "calls-nonce").await;
    r.measure(
        "google/native/verify/",
        "google/native/verify/",
        None,
        json!({"id_token": id_token, "nonce": "calls-nonce"}),
        200,
    )
    .await;
}

/// Social sign-in's calls: the state is written, then read and deleted; the identity (and,
/// on a first sign-in, the email's owner) read, the account written in one transaction; the
/// one-time code written, then read with its user and consumed in the sign-in's transaction.
const EXPECTED_SOCIAL: [(&str, usize); 9] = [
    ("google/ (start)", 2),
    ("google/callback/ (new account)", 7),
    ("social/token/", 4),
    ("google/ (start, again)", 2),
    ("google/callback/ (returning)", 6),
    ("social/token/", 4),
    ("apple/ (start)", 2),
    ("apple/callback/ (form_post, new account)", 7),
    // The nonce used up, the person found, a session started.
    ("google/native/verify/", 5),
];

/// Calls per request, for the table printed above.
const EXPECTED: [(&str, usize); 22] = [
    // The same calls for a new and a taken identifier: one transaction that starts by
    // checking the identifier is free. The send budget is two counters (the network's share
    // and the total).
    ("signup/ (new)", 5),
    ("signup/otp/resend/", 6),
    ("signup/confirm/", 4),
    ("signup/ (existing account)", 5),
    // From a network the account signed in from (its failure total is not counted).
    ("login/basic/", 5),
    ("login/basic/ (wrong password)", 4),
    // First sign-in from this network: the failure total is read too; the hash's upgrade
    // rides in the sign-in's transaction.
    ("login/basic/ (a Django hash, upgraded)", 6),
    // The counter and the user at once (one round trip), then the rotation's transaction.
    ("token/refresh/", 3),
    // The rotation is refused (the token is used); the first use's pair is read back with
    // its session, in one read.
    ("token/refresh/ (repeated in the grace window)", 4),
    // Refused, read back (too late), the family revoked.
    ("token/refresh/ (reused token)", 5),
    ("token/revoke/", 2),
    ("login/passwordless/", 4),
    ("login/passwordless/confirm/", 5),
    ("password/reset/", 5),
    ("password/reset/confirm/", 5),
    // The old password is a guess counted like a login's.
    ("password/change/ (protected)", 5),
    ("email/change/ (protected)", 6),
    ("email/change/confirm/", 4),
    ("login/wallet/challenge/", 2),
    ("login/wallet/ (new address)", 4),
    ("wallet/email/add/ (protected)", 6),
    ("wallet/email/add/confirm/ (protected)", 4),
];

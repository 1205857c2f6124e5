//! The API as Lambda runs it: `sam local start-api` on `template.yaml` (`infra/sam-local`),
//! every function in its own container behind the HTTP API events the template declares,
//! DynamoDB Local and moto (SES) behind them. Every route of every function the template
//! enables by default goes through here once, in both path forms, plus what only API Gateway's
//! side can get wrong: CORS preflight, the client address from the request context, bodies
//! that are malformed, too large or base64-encoded, and a function left out by its parameter.
//!
//! Built only with the `sam-local` feature: `infra/test` runs it when `CI` or
//! `SAM_LOCAL=1` is set, after `infra/sam-local` has started, with
//! `SAM_LOCAL_URL` (the API's base), `SAM_LOCAL_LAMBDA` (`sam local start-lambda`, for raw
//! events), `SAM_LOCAL_WITHOUT_MFA` (a second API, deployed with `EnableMfa=false`) and
//! `SAM_LOCAL_MAIL` (moto's data, where SES mail lands).
//!
//! Where sam local differs from API Gateway, the test says so; the README's deployment notes
//! name each difference.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::Engine;
use blockauth::Feature;
use blockauth_local::FEATURES;
use blockauth_tests::authenticator::Authenticator;
use blockauth_tests::wallet::TestWallet;
use blockauth_tests::{
    PASSWORD, Reply, access, claims, code_in, early_in_a_step, mail_to, moto_mail, refresh, send,
    totp_code,
};
use serde_json::{Value, json};

/// The origin and relying party of the template's passkey defaults.
const PASSKEY_ORIGIN: &str = "http://localhost:3000";

fn setting(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run `SAM_LOCAL=1 bash infra/test`"))
}

/// An address no other test (or earlier run on the same tables) uses.
fn address(name: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let run = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    format!(
        "{name}-{run}-{}@example.com",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The API under `sam local start-api`.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new() -> Self {
        Self::at(setting("SAM_LOCAL_URL"))
    }

    fn at(base: String) -> Self {
        Api {
            base,
            http: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base, path.trim_start_matches('/'))
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        send(self.http.post(self.url(path)).json(&body)).await
    }

    async fn post_as(&self, token: &str, path: &str, body: Value) -> Reply {
        send(
            self.http
                .post(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    async fn get_as(&self, token: &str, path: &str) -> Reply {
        send(self.http.get(self.url(path)).bearer_auth(token)).await
    }

    async fn patch_as(&self, token: &str, path: &str, body: Value) -> Reply {
        send(
            self.http
                .patch(self.url(path))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    async fn delete_as(&self, token: &str, path: &str) -> Reply {
        send(self.http.delete(self.url(path)).bearer_auth(token)).await
    }

    /// The code in the newest mail to `to` that SES (moto) accepted, waiting for it briefly.
    async fn code_for(&self, to: &str) -> String {
        self.codes_for(to, 1).await.pop().expect("a code")
    }

    /// The codes of the mails to `to`, oldest first, once there are `count` or more (waiting
    /// for them briefly).
    async fn codes_for(&self, to: &str, count: usize) -> Vec<String> {
        for _ in 0..100 {
            let sent = moto_mail(&setting("SAM_LOCAL_MAIL")).await;
            let codes: Vec<String> = mail_to(&sent, to)
                .iter()
                .filter_map(|m| code_in(m["subject"].as_str().unwrap_or_default()))
                .collect();
            if codes.len() >= count {
                return codes;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("fewer than {count} mails with a code to {to} in moto");
    }

    /// Signs up and confirms `email`: the confirm answer.
    async fn sign_up(&self, email: &str) -> Reply {
        let started = self
            .post("signup/", json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(started.status, 200, "{:?}", started.body);
        let code = self.code_for(email).await;
        let confirmed = self
            .post("signup/confirm/", json!({"email": email, "otp": code}))
            .await;
        assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
        confirmed
    }
}

#[tokio::test]
async fn signup_login_and_tokens_in_both_path_forms() {
    let api = Api::new();
    let email = address("ada");
    // API Gateway matches a route with or without its last "/" and passes the path on as
    // sent; the code serves both.
    let started = api
        .post("signup", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let resent = api.post("signup/otp/resend", json!({"email": email})).await;
    assert_eq!(resent.status, 200, "{:?}", resent.body);
    let codes = api.codes_for(&email, 2).await;
    let confirmed = api
        .post("signup/confirm", json!({"email": email, "otp": codes[1]}))
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["user"]["email"], email.as_str());

    let login = api
        .post("login/basic", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.header("cache-control"), Some("no-store"));
    let wrong = api
        .post(
            "login/basic/",
            json!({"email": email, "password": "Wrong-Horse-9"}),
        )
        .await;
    assert_eq!(wrong.status, 401, "{:?}", wrong.body);

    let rotated = api
        .post("token/refresh", json!({"refresh": refresh(&login)}))
        .await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    assert_ne!(refresh(&rotated), refresh(&login));
    let me = api.get_as(&access(&rotated), "me").await;
    assert_eq!(me.status, 200, "{:?}", me.body);
    assert_eq!(me.body["email"], email.as_str());

    let revoked = api
        .post("token/revoke", json!({"refresh": refresh(&rotated)}))
        .await;
    assert!(revoked.status < 300, "{revoked:?}");
    let after = api
        .post("token/refresh/", json!({"refresh": refresh(&rotated)}))
        .await;
    assert_eq!(after.status, 401, "{:?}", after.body);
}

#[tokio::test]
async fn passwordless_reset_change_and_email_change() {
    let api = Api::new();
    let email = address("bob");
    api.sign_up(&email).await;

    assert_eq!(
        api.post("login/passwordless", json!({"email": email}))
            .await
            .status,
        200
    );
    let code = api.code_for(&email).await;
    let passwordless = api
        .post(
            "login/passwordless/confirm",
            json!({"email": email, "otp": code}),
        )
        .await;
    assert_eq!(passwordless.status, 200, "{:?}", passwordless.body);

    assert_eq!(
        api.post("password/reset", json!({"email": email}))
            .await
            .status,
        200
    );
    let code = api.code_for(&email).await;
    let new_password = "Reset-Horse-7-Battery";
    let reset = api
        .post(
            "password/reset/confirm",
            json!({"email": email, "otp": code, "new_password": new_password}),
        )
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    let login = api
        .post(
            "login/basic/",
            json!({"email": email, "password": new_password}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);

    let changed = api
        .post_as(
            &access(&login),
            "password/change",
            json!({"old_password": new_password, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    let login = api
        .post(
            "login/basic/",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);

    let new_email = address("bob-new");
    let asked = api
        .post_as(
            &access(&login),
            "email/change",
            json!({"new_email": new_email}),
        )
        .await;
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    let code = api.code_for(&new_email).await;
    let moved = api
        .post_as(
            &access(&login),
            "email/change/confirm",
            json!({"email": new_email, "otp": code}),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    let login = api
        .post(
            "login/basic/",
            json!({"email": new_email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
}

/// A Sign-In with Ethereum challenge for `wallet` from `route`, signed.
async fn signed_challenge(
    api: &Api,
    token: Option<&str>,
    route: &str,
    wallet: &TestWallet,
) -> Value {
    let body = json!({"address": wallet.address});
    let reply = match token {
        Some(token) => api.post_as(token, route, body).await,
        None => api.post(route, body).await,
    };
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let message = reply.body["message"].as_str().expect("a message");
    json!({"message": message, "signature": wallet.sign(message)})
}

#[tokio::test]
async fn wallet_login_and_an_email_for_it() {
    let api = Api::new();
    let wallet = TestWallet::labelled(&address("sam local wallet"));
    let signed = signed_challenge(&api, None, "login/wallet/challenge", &wallet).await;
    let login = api.post("login/wallet", signed).await;
    assert_eq!(login.status, 200, "{:?}", login.body);

    let email = address("wallet");
    let asked = api
        .post_as(&access(&login), "wallet/email/add", json!({"email": email}))
        .await;
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    let code = api.code_for(&email).await;
    let added = api
        .post_as(
            &access(&login),
            "wallet/email/add/confirm",
            json!({"email": email, "otp": code}),
        )
        .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    // The address now signs in to the wallet's account.
    let asked = api
        .post("login/passwordless/", json!({"email": email}))
        .await;
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    let codes = api.codes_for(&email, 2).await;
    let by_email = api
        .post(
            "login/passwordless/confirm/",
            json!({"email": email, "otp": codes[1]}),
        )
        .await;
    assert_eq!(by_email.status, 200, "{:?}", by_email.body);
    assert_eq!(by_email.body["user"]["id"], login.body["user"]["id"]);
}

#[tokio::test]
async fn account_self_service_and_the_client_address_from_the_request_context() {
    let api = Api::new();
    let email = address("cy");
    let first = api.sign_up(&email).await;
    // A forged forwarding header is not the client's address: API Gateway's request
    // context is (sam local puts the connection's address there, as API Gateway does).
    let forged = send(
        api.http
            .post(api.url("login/basic/"))
            .header("x-forwarded-for", "203.0.113.9")
            .header("user-agent", "Forger/1.0")
            .json(&json!({"email": email, "password": PASSWORD})),
    )
    .await;
    assert_eq!(forged.status, 200, "{:?}", forged.body);
    let token = access(&forged);

    let listed = api.get_as(&token, "sessions").await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let sessions = listed.body["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let mine = sessions.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(mine["user_agent"], "Forger/1.0");
    assert_eq!(mine["ip"], "127.0.0.1", "{mine:?}");

    let export = api.get_as(&token, "me/export").await;
    assert_eq!(export.status, 200, "{:?}", export.body);
    assert!(!export.body.to_string().contains("argon2"), "no secrets");

    let first_sid = claims(&access(&first))["sid"].as_str().unwrap().to_owned();
    let ended = api
        .delete_as(&token, &format!("sessions/{first_sid}"))
        .await;
    assert!(ended.status < 300, "{ended:?}");
    assert_eq!(api.get_as(&access(&first), "me/").await.status, 401);
    let again = api
        .delete_as(&token, &format!("sessions/{first_sid}/"))
        .await;
    assert_eq!(again.status, 404, "{:?}", again.body);

    let other = api
        .post(
            "login/basic/",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    let revoked = api.post_as(&token, "sessions/revoke-all", json!({})).await;
    assert_eq!(revoked.status, 204, "{:?}", revoked.body);
    assert_eq!(api.get_as(&access(&other), "me/").await.status, 401);
    assert_eq!(api.get_as(&token, "me/").await.status, 200);

    let wallet = TestWallet::labelled(&address("sam local link"));
    let signed = signed_challenge(&api, Some(&token), "wallet/link/challenge", &wallet).await;
    let linked = api.post_as(&token, "wallet/link", signed).await;
    assert_eq!(linked.status, 200, "{:?}", linked.body);
    let unlinked = api
        .post_as(&token, "wallet/unlink", json!({"address": wallet.address}))
        .await;
    assert_eq!(unlinked.status, 200, "{:?}", unlinked.body);

    let deleted = api.delete_as(&token, "me").await;
    assert!(deleted.status < 300, "{deleted:?}");
    let login = api
        .post(
            "login/basic/",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 401, "{:?}", login.body);
}

#[tokio::test]
async fn passkeys_register_sign_in_and_are_managed() {
    let api = Api::new();
    let email = address("dee");
    let token = access(&api.sign_up(&email).await);
    let options = api
        .post_as(&token, "passkey/register/options", json!({}))
        .await;
    assert_eq!(options.status, 200, "{:?}", options.body);
    let (mut authenticator, credential) = Authenticator::create(&options.body, PASSKEY_ORIGIN);
    let registered = api
        .post_as(
            &token,
            "passkey/register/verify",
            json!({"credential": credential, "name": "laptop"}),
        )
        .await;
    assert_eq!(registered.status, 201, "{:?}", registered.body);

    let listed = api.get_as(&token, "passkey/credentials").await;
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let id = listed.body["credentials"][0]["id"]
        .as_str()
        .expect("a credential id")
        .to_owned();
    let renamed = api
        .patch_as(
            &token,
            &format!("passkey/credentials/{id}"),
            json!({"name": "work laptop"}),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);

    let options = api
        .post("passkey/auth/options", json!({"email": email}))
        .await;
    assert_eq!(options.status, 200, "{:?}", options.body);
    let assertion = authenticator.assert(&options.body);
    let signed_in = api
        .post("passkey/auth/verify", json!({"credential": assertion}))
        .await;
    assert_eq!(signed_in.status, 200, "{:?}", signed_in.body);

    let removed = api
        .delete_as(&token, &format!("passkey/credentials/{id}/"))
        .await;
    assert!(removed.status < 300, "{removed:?}");
    let listed = api.get_as(&token, "passkey/credentials/").await;
    assert_eq!(listed.body["credentials"], json!([]), "{:?}", listed.body);
}

#[tokio::test]
async fn a_second_factor_from_setup_to_disable() {
    let api = Api::new();
    let email = address("eve");
    let token = access(&api.sign_up(&email).await);
    let set_up = api.post_as(&token, "totp/setup", json!({})).await;
    assert_eq!(set_up.status, 200, "{:?}", set_up.body);
    let secret = set_up.body["secret"].as_str().unwrap().to_owned();
    let now = early_in_a_step().await;
    let confirmed = api
        .post_as(
            &token,
            "totp/confirm",
            json!({"code": totp_code(&secret, now)}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let backup: Vec<String> =
        serde_json::from_value(confirmed.body["backup_codes"].clone()).expect("backup codes");
    let status = api.get_as(&token, "totp/status").await;
    assert_eq!(
        status.body,
        json!({"enabled": true, "backup_codes_left": 10})
    );

    let first = api
        .post(
            "login/basic/",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["mfa_required"], true, "{:?}", first.body);
    let verified = api
        .post(
            "totp/verify",
            json!({"mfa_token": first.body["mfa_token"], "code": backup[0]}),
        )
        .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    let token = access(&verified);

    let receipt = api
        .post_as(
            &token,
            "stepup",
            json!({"code": totp_code(&secret, now + 30), "scope": "withdrawal"}),
        )
        .await;
    assert_eq!(receipt.status, 200, "{:?}", receipt.body);
    assert_eq!(
        claims(receipt.body["receipt"].as_str().unwrap())["scope"],
        "withdrawal"
    );
    let disabled = api
        .post_as(&token, "totp/disable", json!({"code": backup[2]}))
        .await;
    assert_eq!(disabled.status, 200, "{:?}", disabled.body);

    // New backup codes take a TOTP code of a later step than any used: another account's.
    let token = access(&api.sign_up(&address("eve-two")).await);
    let set_up = api.post_as(&token, "totp/setup/", json!({})).await;
    let secret = set_up.body["secret"].as_str().unwrap().to_owned();
    let confirmed = api
        .post_as(
            &token,
            "totp/confirm/",
            json!({"code": totp_code(&secret, now)}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let renewed = api
        .post_as(
            &token,
            "totp/backup-codes/regenerate",
            json!({"code": totp_code(&secret, now + 30)}),
        )
        .await;
    assert_eq!(renewed.status, 200, "{:?}", renewed.body);
    assert_eq!(renewed.body["backup_codes"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn social_routes_answer_through_the_runtime() {
    let api = Api::new();
    // AUTH_PROVIDERS names none here: a provider's routes say so, and a code from nowhere is
    // refused. (Sign-ins with providers run against local OpenID providers in the API tests.)
    let unknown = send(api.http.get(api.url("google"))).await;
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
    let callback = send(api.http.get(api.url("google/callback/?code=x&state=y"))).await;
    assert_eq!(callback.status, 404, "{:?}", callback.body);
    // Apple's form_post.
    let posted = send(
        api.http
            .post(api.url("apple/callback"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("code=x&state=y"),
    )
    .await;
    assert_eq!(posted.status, 404, "{:?}", posted.body);
    let native = api
        .post("google/native/verify", json!({"id_token": "x"}))
        .await;
    assert_eq!(native.status, 404, "{:?}", native.body);
    let exchanged = api.post("social/token", json!({"code": "nothing"})).await;
    assert_eq!(exchanged.status, 400, "{:?}", exchanged.body);
}

#[tokio::test]
async fn a_browser_preflight_allows_every_method_the_api_has() {
    let api = Api::new();
    for (path, method) in [
        ("signup/", "POST"),
        ("me/", "GET"),
        ("me/", "DELETE"),
        ("passkey/credentials/abc/", "PATCH"),
    ] {
        let preflight = send(
            api.http
                .request(reqwest::Method::OPTIONS, api.url(path))
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", method)
                .header(
                    "access-control-request-headers",
                    "authorization,content-type",
                ),
        )
        .await;
        assert_eq!(preflight.status, 200, "{path} {method}");
        let allowed = preflight
            .header("access-control-allow-methods")
            .unwrap_or_default()
            .to_owned();
        assert!(allowed.contains(method), "{path} {method}: {allowed:?}");
        assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    }
}

#[tokio::test]
async fn malformed_and_large_bodies_are_a_clear_4xx() {
    let api = Api::new();
    let raw = |body: Vec<u8>| {
        send(
            api.http
                .post(api.url("signup/"))
                .header("content-type", "application/json")
                .body(body),
        )
    };
    let broken = raw(b"{\"email\": ".to_vec()).await;
    assert_eq!(broken.status, 400, "{:?}", broken.body);
    // A body that is not UTF-8 never reaches the function under sam local (its own 502,
    // a UnicodeDecodeError); API Gateway base64-encodes it: see the base64 test.
    let large = raw(format!("{{\"email\": \"{}\"}}", "a".repeat(70_000)).into_bytes()).await;
    assert_eq!(large.status, 413, "{:?}", large.body);
    let unknown = api.post("nowhere/", json!({})).await;
    // sam local's answer for a route the template does not declare; API Gateway's HTTP API
    // answers 404 {"message":"Not Found"}.
    assert_eq!(unknown.status, 403, "{:?}", unknown.body);
}

/// Invokes `function` once with an API Gateway HTTP API (payload 2.0) event through
/// `sam local start-lambda`: the answer's status and body.
async fn invoke(function: &str, path: &str, body: &str, base64: bool) -> (u16, Value) {
    invoke_from("198.51.100.7", function, path, body, base64).await
}

/// `invoke`, the client being `source_ip` in the request context.
async fn invoke_from(
    source_ip: &str,
    function: &str,
    path: &str,
    body: &str,
    base64: bool,
) -> (u16, Value) {
    let event = json!({
        "version": "2.0",
        "routeKey": format!("POST {path}"),
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": source_ip, "userAgent": "sam-local-test"},
            "requestId": "sam-local-test", "routeKey": format!("POST {path}"), "stage": "$default",
            "accountId": "123456789012", "apiId": "local", "domainName": "localhost",
            "domainPrefix": "localhost", "time": "30/Nov/2026:00:00:00 +0000", "timeEpoch": 0
        },
        "body": body,
        "isBase64Encoded": base64,
    });
    let url = format!(
        "{}/2015-03-31/functions/{function}/invocations",
        setting("SAM_LOCAL_LAMBDA")
    );
    let answer: Value = reqwest::Client::new()
        .post(url)
        .json(&event)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .expect("sam local start-lambda answers")
        .json()
        .await
        .expect("the function's answer is JSON");
    let status = answer["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("an API Gateway answer, got {answer}")) as u16;
    let text = match answer["isBase64Encoded"].as_bool() {
        Some(true) => String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(answer["body"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap(),
        _ => answer["body"].as_str().unwrap_or_default().to_owned(),
    };
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn base64_bodies_as_api_gateway_sends_them() {
    // sam local start-api base64-encodes only the media types a template lists as binary;
    // API Gateway's HTTP API encodes any body it does not take for text, so these events
    // are sent as it would send them.
    let email = address("base64");
    let json_body = json!({"email": email, "password": PASSWORD}).to_string();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&json_body);
    let (status, body) = invoke("SignupFunction", "/auth/signup/", &encoded, true).await;
    assert_eq!(status, 200, "{body:?}");
    let (status, body) = invoke("SignupFunction", "/auth/signup/", "not base64!", true).await;
    assert_eq!(status, 400, "{body:?}");
    let garbage = base64::engine::general_purpose::STANDARD.encode([0xff, 0x00, 0x7b]);
    let (status, body) = invoke("SignupFunction", "/auth/signup/", &garbage, true).await;
    assert_eq!(status, 400, "{body:?}");
}

/// Every route of every function (`FEATURES`), in both path forms, as `api` answers it
/// without a token or fields: true where a function answered, false where API Gateway has no
/// such route (sam local's 403 `Missing Authentication Token`; API Gateway's 404).
async fn routes_reached(api: &Api) -> Vec<(Feature, String, bool)> {
    let mut reached = Vec::new();
    for (feature, routes) in FEATURES {
        for (method, path) in routes().table() {
            // A path parameter as any value: the function answers for it (404 at worst).
            let path: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "x" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            for form in [path.clone(), path.trim_end_matches('/').to_owned()] {
                let mut request = api.http.request(method.clone(), api.url(&form));
                if method != reqwest::Method::GET {
                    request = request.json(&json!({}));
                }
                let reply = send(request).await;
                let route = format!("{method} {form}");
                assert!(reply.status < 500, "{route}: {reply:?}");
                let absent =
                    reply.status == 403 && reply.body["message"] == "Missing Authentication Token";
                reached.push((feature, route, !absent));
            }
        }
    }
    reached
}

#[tokio::test]
async fn every_route_of_every_function_in_both_path_forms() {
    for (feature, route, reached) in routes_reached(&Api::new()).await {
        // KEYS is deployed only with an asymmetric ALGORITHM; the default is HS256.
        let deployed = feature != Feature::Keys;
        assert_eq!(reached, deployed, "{feature:?}: {route}");
    }
}

#[tokio::test]
async fn a_function_left_out_by_its_parameter_has_no_routes() {
    // EnableMfa=false: no mfa function, so API Gateway has no route for it; the rest works.
    let without = Api::at(setting("SAM_LOCAL_WITHOUT_MFA"));
    for (feature, route, reached) in routes_reached(&without).await {
        let deployed = ![Feature::Keys, Feature::Mfa].contains(&feature);
        assert_eq!(reached, deployed, "{feature:?}: {route}");
    }
    let token = access(&without.sign_up(&address("fay")).await);
    assert_eq!(without.get_as(&token, "me/").await.status, 200);
}

#[tokio::test]
async fn the_client_is_the_request_contexts_source_ip() {
    let api = Api::new();
    let email = address("gil");
    api.sign_up(&email).await;
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    let (status, login) = invoke_from(
        "2001:db8:1:2:3:4:5:6",
        "BasicLoginFunction",
        "/auth/login/basic/",
        &body,
        false,
    )
    .await;
    assert_eq!(status, 200, "{login:?}");
    let token = login["access"].as_str().expect("an access token");
    let listed = api.get_as(token, "sessions/").await;
    let sessions = listed.body["sessions"].as_array().unwrap();
    let mine = sessions.iter().find(|s| s["current"] == true).unwrap();
    // An IPv6 client is its /64, as the rate limits count it.
    assert_eq!(mine["ip"], "2001:db8:1:2::/64", "{mine:?}");
}

//! Each function's policy in `template.yaml` allows exactly what its code calls. Every
//! function runs as its own server, on one shared embedded DynamoDB reached through a proxy
//! of its own that records each call (`Proxy`), read as IAM actions (a transaction's items count as
//! their own actions, as IAM checks them); a walk through every flow then compares what
//! each function did with what its policy allows, and which messages it sent with its SES
//! and SNS permissions.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use blockauth::events::{EventLog, Events};
use blockauth::mail::{Mailer, Outbox};
use blockauth::signing_key::SigningKey;
use blockauth::social::settings::{ProviderKind, SocialSettings};
use blockauth::{Feature, Settings};
use blockauth_local::{FEATURES, Options, Running, Storage};
use blockauth_tests::authenticator::Authenticator;
use blockauth_tests::oidc::{self, Providers};
use blockauth_tests::wallet::TestWallet;
use blockauth_tests::{
    PASSWORD, Proxy, Recording, claims, code_in, early_in_a_step, fresh_key, totp_code,
};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Node, Template};

/// The refresh reuse grace window in these tests: whole seconds, so a window of 1 could
/// be over in a millisecond (a first use at x.999 s); 3 leaves a repeat at least 2 s.
const GRACE: i64 = 3;

/// The IAM actions of the DynamoDB calls recorded: each operation's, or for a transaction
/// its items' (as IAM checks them).
fn iam_actions(recording: &Recording) -> BTreeSet<String> {
    recording
        .lock()
        .unwrap()
        .iter()
        .flat_map(|call| {
            let operation = call
                .headers
                .get("x-amz-target")
                .and_then(|t| t.to_str().ok())
                .and_then(|t| t.rsplit('.').next())
                .unwrap_or_default()
                .to_owned();
            if operation != "TransactWriteItems" {
                return vec![operation];
            }
            let request: Value = serde_json::from_slice(&call.body).expect("a JSON request");
            let items = request["TransactItems"].as_array().expect("TransactItems");
            items
                .iter()
                .flat_map(|item| item.as_object().expect("an item").keys())
                .map(|kind| match kind.as_str() {
                    "ConditionCheck" => "ConditionCheckItem".to_owned(),
                    other => format!("{other}Item"),
                })
                .collect()
        })
        .collect()
}

struct Function {
    feature: Feature,
    server: Running,
    proxy: SocketAddr,
    calls: Recording,
    outbox: tempfile::TempDir,
}

/// Every function the code serves, each on its own server, all on one table.
struct Deployment {
    database: Running,
    functions: Vec<Function>,
    key: SigningKey,
    http: reqwest::Client,
    social: SocialSettings,
}

/// The walk's settings: limits out of the way, as it sends several requests per identifier;
/// social sign-in at a local provider.
fn settings(social: &SocialSettings) -> Settings {
    let mut settings = Settings::default();
    settings.limits.request_limit = 1000;
    settings.limits.send_limit = 1000;
    // A refresh grace window short enough to wait out.
    settings.session.refresh_reuse_grace = GRACE as u64;
    settings.social = social.clone();
    settings
}

/// Google and Apple, at the local providers `providers` runs.
fn social(providers: &Providers) -> SocialSettings {
    let mut google = oidc::provider(
        "google",
        ProviderKind::Google,
        providers.issuer("google"),
        true,
    );
    google.native_client_ids = vec!["walk-app".into()];
    SocialSettings {
        providers: [
            ("google".into(), google),
            ("apple".into(), providers.apple(false)),
        ]
        .into(),
        ..Default::default()
    }
}

/// Each function's lifecycle events, in its outbox folder.
fn event_log(dir: &tempfile::TempDir) -> EventLog {
    EventLog {
        path: dir.path().join("events.jsonl"),
        announce: false,
    }
}

fn outbox(dir: &tempfile::TempDir) -> Mailer {
    Mailer::Outbox(Outbox {
        dir: dir.path().to_owned(),
        from: Settings::default().email_from,
        announce: false,
    })
}

impl Deployment {
    fn settings(&self) -> Settings {
        settings(&self.social)
    }

    async fn start(social: SocialSettings) -> Deployment {
        let key = SigningKey::from_text(&SigningKey::generate_text().unwrap()).unwrap();
        let unused = tempfile::tempdir().unwrap();
        let database = blockauth_local::start(Options {
            settings: settings(&social),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            storage: Storage::Memory,
            mailer: outbox(&unused),
            events: Events::Log(event_log(&unused)),
            key: key.clone(),
            factor_key: fresh_key(),
            token_keys: None,
            retry: false,
        })
        .await
        .unwrap();
        let mut deployment = Deployment {
            database,
            functions: Vec::new(),
            key,
            http: reqwest::Client::new(),
            social,
        };
        for (feature, _) in FEATURES {
            let recording = Proxy::start(deployment.database.dynamodb_address).await;
            let (proxy, calls) = (recording.address, recording.calls.clone());
            let outbox = tempfile::tempdir().unwrap();
            let server = deployment
                .serve(feature, proxy, &outbox, deployment.settings())
                .await;
            // Start-up checked the table; the function's own calls start now.
            calls.lock().unwrap().clear();
            deployment.functions.push(Function {
                feature,
                server,
                proxy,
                calls,
                outbox,
            });
        }
        deployment
    }

    /// A server of `feature` alone, with `settings`, its calls through `proxy`.
    async fn serve(
        &self,
        feature: Feature,
        proxy: SocketAddr,
        outbox_dir: &tempfile::TempDir,
        settings: Settings,
    ) -> Running {
        blockauth_local::start(Options {
            settings: Settings {
                features: BTreeSet::from([feature]),
                ..settings
            },
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            storage: Storage::External(proxy),
            mailer: outbox(outbox_dir),
            events: Events::Log(event_log(outbox_dir)),
            key: self.key.clone(),
            factor_key: fresh_key(),
            token_keys: None,
            retry: false,
        })
        .await
        .unwrap()
    }

    /// Another server of `feature`, with other settings, recorded as that function.
    async fn variant(&self, feature: Feature, settings: Settings) -> Running {
        let function = self.function(feature);
        let before = function.calls.lock().unwrap().clone();
        let server = self
            .serve(feature, function.proxy, &function.outbox, settings)
            .await;
        // Only what requests make counts, not the start-up's look at the table.
        *function.calls.lock().unwrap() = before;
        server
    }

    fn function(&self, feature: Feature) -> &Function {
        self.functions
            .iter()
            .find(|f| f.feature == feature)
            .unwrap()
    }

    /// POSTs to `path` on the function that serves it; expects `status`.
    async fn post(&self, path: &str, token: Option<&str>, body: Value, status: u16) -> Value {
        let canonical = format!("/{path}");
        let (feature, _) = FEATURES
            .iter()
            .find(|(_, routes)| routes().table().iter().any(|(_, p)| *p == canonical))
            .unwrap_or_else(|| panic!("no function serves {path}"));
        let server = &self.function(*feature).server;
        self.post_to(server, path, token, body, status).await
    }

    async fn post_to(
        &self,
        server: &Running,
        path: &str,
        token: Option<&str>,
        body: Value,
        status: u16,
    ) -> Value {
        let mut request = self
            .http
            .post(format!("{}/{path}", server.base_url))
            .json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Sends `method` to `path` on `feature`'s function, with `token` and `body`; expects
    /// `status`.
    async fn call(
        &self,
        feature: Feature,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let server = &self.function(feature).server;
        let mut request = self
            .http
            .request(method, format!("{}/{path}", server.base_url))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let got = response.status().as_u16();
        let text = response.text().await.unwrap();
        assert_eq!(got, status, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Every message any function wrote, oldest first: (file name, function, content).
    fn messages(&self) -> Vec<(String, Feature, String)> {
        let mut all: Vec<_> = self
            .functions
            .iter()
            .flat_map(|f| {
                std::fs::read_dir(f.outbox.path()).unwrap().map(|entry| {
                    let path = entry.unwrap().path();
                    let name = path.file_name().unwrap().to_string_lossy().into_owned();
                    (name, f.feature, std::fs::read_to_string(&path).unwrap())
                })
            })
            .collect();
        all.sort();
        all
    }

    /// The code in the newest message to `to`.
    fn code_for(&self, to: &str) -> String {
        self.messages()
            .iter()
            .rev()
            .find(|(_, _, m)| m.lines().any(|l| l.trim_end() == format!("To: {to}")))
            .and_then(|(_, _, m)| code_in(m))
            .unwrap_or_else(|| panic!("no code sent to {to}"))
    }

    /// Signs up `identifier` (`email` or `phone`) and returns the confirm answer.
    async fn sign_up(&self, field: &str, identifier: &str) -> Value {
        let id = json!({ field: identifier });
        let mut body = id.clone();
        body["password"] = json!(PASSWORD);
        self.post("signup/", None, body, 200).await;
        self.post("signup/otp/resend/", None, id.clone(), 200).await;
        let mut wrong = id.clone();
        wrong["otp"] = json!("000000");
        self.post("signup/confirm/", None, wrong, 400).await;
        let mut right = id;
        right["otp"] = json!(self.code_for(identifier));
        self.post("signup/confirm/", None, right, 200).await
    }
}

fn token<'a>(reply: &'a Value, kind: &str) -> &'a str {
    reply[kind].as_str().expect("a token")
}

/// Every flow once, including the paths that write differently: wrong codes, refresh
/// token reuse, accounts created on first login, SMS where the code sends SMS.
/// A social sign-in at `server` with `name` as a browser makes it, as the person `claims`
/// describes.
async fn social_sign_in(
    server: &Running,
    providers: &Providers,
    name: &str,
    claims: Value,
) -> Value {
    providers.set(name, claims).await;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let started = browser
        .get(format!("{}/{name}/", server.base_url))
        .send()
        .await
        .unwrap();
    let cookie = started.headers()["set-cookie"].to_str().unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let at_provider = started.headers()["location"].to_str().unwrap().to_owned();
    let callback = format!("{}/{name}/callback/", server.base_url);
    let back = if name == "apple" {
        // Apple's page posts the answer.
        let posted = oidc::form_post(&at_provider).await;
        browser
            .post(callback)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(posted.body())
    } else {
        let back = browser.get(at_provider).send().await.unwrap();
        let back = back.headers()["location"].to_str().unwrap();
        let query = back.split_once('?').unwrap().1;
        browser.get(format!("{callback}?{query}"))
    };
    let answer = back.header("cookie", cookie).send().await.unwrap();
    let status = answer.status().as_u16();
    let location = answer
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let text = answer.text().await.unwrap();
    match location {
        Some(location) => json!({ "status": status, "location": location }),
        None => {
            assert_eq!(status, 200, "{text}");
            serde_json::from_str(&text).unwrap()
        }
    }
}

async fn walk(deployment: &Deployment, providers: &Providers) {
    let d = deployment;
    let (ada, phone) = ("ada@example.com", "+14155550101");
    let by_mail = d.sign_up("email", ada).await;
    let by_phone = d.sign_up("phone", phone).await;

    let login = json!({"email": ada, "password": PASSWORD});
    d.post(
        "login/basic/",
        None,
        json!({"email": ada, "password": "wrong"}),
        401,
    )
    .await;
    let session = d.post("login/basic/", None, login.clone(), 200).await;
    let old = json!({ "refresh": token(&session, "refresh") });
    d.post("token/refresh/", None, old.clone(), 200).await;
    let used_at = blockauth::clock::now();
    // Repeated in the grace window (the first use's pair), then reused after it (theft).
    d.post("token/refresh/", None, old.clone(), 200).await;
    while blockauth::clock::now() < used_at + GRACE + 1 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    d.post("token/refresh/", None, old, 401).await;
    let revoke = json!({ "refresh": token(&by_mail, "refresh") });
    d.post("token/revoke/", None, revoke, 204).await;
    // ROTATE_REFRESH_TOKENS=false refreshes differently.
    let mut without_rotation = d.settings();
    without_rotation.session.rotate_refresh_tokens = false;
    let kept = d.variant(Feature::TokenRefresh, without_rotation).await;
    let refresh = json!({ "refresh": token(&by_phone, "refresh") });
    d.post_to(&kept, "token/refresh/", None, refresh, 200).await;

    for (field, identifier) in [("email", "grace@example.com"), ("phone", "+14155550102")] {
        d.post(
            "login/passwordless/",
            None,
            json!({ field: identifier }),
            200,
        )
        .await;
        let code = d.code_for(identifier);
        let confirm = json!({ field: identifier, "otp": code });
        d.post("login/passwordless/confirm/", None, confirm, 200)
            .await;
    }

    let new_password = "Another-Horse-7-Battery";
    d.post("password/reset/", None, json!({"phone": phone}), 200)
        .await;
    d.post("password/reset/", None, json!({"email": ada}), 200)
        .await;
    let reset = json!({"email": ada, "otp": d.code_for(ada), "new_password": new_password});
    d.post("password/reset/confirm/", None, reset, 200).await;

    // The phone account is told of its new password by SMS.
    let change = json!({"old_password": PASSWORD, "new_password": new_password});
    d.post(
        "password/change/",
        Some(token(&by_phone, "access")),
        change,
        200,
    )
    .await;
    let login = json!({"email": ada, "password": new_password});
    let session = d.post("login/basic/", None, login, 200).await;
    // The mail account by mail; its new session is the one the change returns.
    let change = json!({"old_password": new_password, "new_password": PASSWORD});
    let session = d
        .post(
            "password/change/",
            Some(token(&session, "access")),
            change,
            200,
        )
        .await;
    let access = token(&session, "access");

    let moved = "ada.lovelace@example.com";
    d.post(
        "email/change/",
        Some(access),
        json!({"new_email": moved}),
        200,
    )
    .await;
    let confirm = json!({"email": moved, "otp": d.code_for(moved)});
    d.post("email/change/confirm/", None, confirm, 200).await;

    let wallet = TestWallet::number(1);
    let challenge = d
        .post(
            "login/wallet/challenge/",
            None,
            json!({"address": wallet.address}),
            200,
        )
        .await;
    let message = challenge["message"].as_str().expect("a message");
    let signed = json!({"message": message, "signature": wallet.sign(message)});
    let session = d.post("login/wallet/", None, signed, 200).await;
    let access = token(&session, "access");
    let added = "wallet@example.com";
    d.post(
        "wallet/email/add/",
        Some(access),
        json!({"email": added}),
        200,
    )
    .await;
    let confirm = json!({"email": added, "otp": d.code_for(added)});
    d.post("wallet/email/add/confirm/", Some(access), confirm, 200)
        .await;

    // Social sign-in: a new account, the same person again, an account joined by its
    // verified email; then with a frontend to go back to, through a one-time code.
    let google = &d.function(Feature::SocialAuth).server;
    let new = json!({"sub": "walk-1", "email": "sam@example.com", "email_verified": true});
    social_sign_in(google, providers, "google", new.clone()).await;
    social_sign_in(google, providers, "google", new).await;
    let join = json!({"sub": "walk-2", "email": ada, "email_verified": true});
    social_sign_in(google, providers, "google", join).await;
    let apple = json!({"sub": "walk-apple"});
    social_sign_in(google, providers, "apple", apple).await;
    let id_token = providers.id_token("google", "walk-app", "walk-nonce").await;
    let app = json!({"id_token": id_token, "nonce": "walk-nonce"});
    d.post_to(google, "google/native/verify/", None, app, 200)
        .await;
    let mut with_frontend = d.settings();
    with_frontend.social.success_redirect = Some("https://app.example.com/in".into());
    let frontend = d.variant(Feature::SocialAuth, with_frontend).await;
    let back = json!({"sub": "walk-3", "email": "tim@example.com", "email_verified": true});
    let back = social_sign_in(&frontend, providers, "google", back).await;
    let code = back["location"]
        .as_str()
        .unwrap()
        .split_once("code=")
        .unwrap()
        .1;
    d.post_to(
        &frontend,
        "social/token/",
        None,
        json!({ "code": code }),
        200,
    )
    .await;

    // Passkeys: one registered, signed in with (for an email, and discoverable), listed,
    // renamed and deleted.
    let pat = "pat@example.com";
    let signed_up = d.sign_up("email", pat).await;
    let token = signed_up["access"].as_str().unwrap();
    let origin = "http://localhost:3000";
    let options = d
        .post("passkey/register/options/", Some(token), json!({}), 200)
        .await;
    let (mut authenticator, credential) = Authenticator::create(&options, origin);
    let body = json!({"credential": credential, "name": "Walk"});
    let created = d
        .post("passkey/register/verify/", Some(token), body, 201)
        .await;
    for email in [Some(pat), None] {
        let body = email.map_or(json!({}), |email| json!({ "email": email }));
        let options = d.post("passkey/auth/options/", None, body, 200).await;
        let body = json!({"credential": authenticator.assert(&options)});
        d.post("passkey/auth/verify/", None, body, 200).await;
    }
    let path = format!("passkey/credentials/{}/", created["id"].as_str().unwrap());
    let passkeys = Feature::PasskeyAuth;
    d.call(
        passkeys,
        Method::GET,
        "passkey/credentials/",
        token,
        None,
        200,
    )
    .await;
    let body = Some(json!({"name": "Renamed"}));
    d.call(passkeys, Method::PATCH, &path, token, body, 200)
        .await;
    d.call(passkeys, Method::DELETE, &path, token, None, 204)
        .await;

    // The account: the user, its sessions (one ended, then all others), the export, a
    // wallet linked and unlinked, and the account deleted.
    let kim = "kim@example.com";
    let first = d.sign_up("email", kim).await;
    let login = json!({"email": kim, "password": PASSWORD});
    let second = d.post("login/basic/", None, login.clone(), 200).await;
    let token = second["access"].as_str().unwrap();
    let account = Feature::Account;
    for path in ["me/", "sessions/", "me/export/"] {
        d.call(account, Method::GET, path, token, None, 200).await;
    }
    let sid = claims(first["access"].as_str().unwrap())["sid"].clone();
    let path = format!("sessions/{}/", sid.as_str().unwrap());
    d.call(account, Method::DELETE, &path, token, None, 204)
        .await;
    d.post("login/basic/", None, login, 200).await;
    d.call(
        account,
        Method::POST,
        "sessions/revoke-all/",
        token,
        None,
        204,
    )
    .await;
    let wallet = TestWallet::number(2);
    let address = json!({"address": wallet.address});
    let challenge = d
        .post("wallet/link/challenge/", Some(token), address.clone(), 200)
        .await;
    let message = challenge["message"].as_str().unwrap();
    let signed = json!({"message": message, "signature": wallet.sign(message)});
    d.post("wallet/link/", Some(token), signed, 200).await;
    d.post("wallet/unlink/", Some(token), address, 200).await;
    d.call(account, Method::DELETE, "me/", token, None, 204)
        .await;
    // The second factor: set up and turned on (by email and by phone, whose notice goes by
    // SMS), a step-up receipt, new backup codes, a sign-in completed by a backup code
    // after a wrong code, and turned off by another.
    let mut tokens = Vec::new();
    for (field, identifier) in [("email", "mia@example.com"), ("phone", "+14155550104")] {
        let signed_up = d.sign_up(field, identifier).await;
        let token = signed_up["access"].as_str().unwrap().to_owned();
        let set_up = d.post("totp/setup/", Some(&token), json!({}), 200).await;
        let secret = set_up["secret"].as_str().unwrap().to_owned();
        let now = early_in_a_step().await;
        let confirm = json!({ "code": totp_code(&secret, now - 30) });
        d.post("totp/confirm/", Some(&token), confirm, 200).await;
        tokens.push((token, secret, now));
    }
    let (token, secret, now) = &tokens[0];
    let code = |at: i64| json!({ "code": totp_code(secret, at) });
    d.call(Feature::Mfa, Method::GET, "totp/status/", token, None, 200)
        .await;
    let mut receipt = code(*now);
    receipt["scope"] = json!("walk");
    d.post("stepup/", Some(token), receipt, 200).await;
    let renewed = d
        .post(
            "totp/backup-codes/regenerate/",
            Some(token),
            code(now + 30),
            200,
        )
        .await;
    let backup = |i: usize| renewed["backup_codes"][i].clone();
    let login = json!({"email": "mia@example.com", "password": PASSWORD});
    let pending = d.post("login/basic/", None, login, 200).await;
    let verify = |code: Value| json!({"mfa_token": pending["mfa_token"], "code": code});
    d.post("totp/verify/", None, verify(json!("000000")), 400)
        .await;
    let session = d.post("totp/verify/", None, verify(backup(0)), 200).await;
    let token = session["access"].as_str().unwrap();
    d.post(
        "totp/disable/",
        Some(token),
        json!({"code": backup(1)}),
        200,
    )
    .await;

    // A phone account's deletion notice goes by SMS.
    let by_phone = d.sign_up("phone", "+14155550103").await;
    let token = by_phone["access"].as_str().unwrap();
    d.call(account, Method::DELETE, "me/", token, None, 204)
        .await;
}

/// The actions a function's policy allows, by service: `{"dynamodb": {"GetItem", ..}}`.
fn allowed(function: &Node) -> BTreeMap<String, BTreeSet<String>> {
    let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for policy in function.at(&["Properties", "Policies"]).items() {
        for statement in policy.at(&["Statement"]).items() {
            // SES and SNS only with DELIVERY SES (the default these tests run with):
            // `!If [DeliversBySes, statement, !Ref AWS::NoValue]`.
            let statement = match statement.intrinsic() {
                Some((name, arguments)) => {
                    assert_eq!(name, "If");
                    let arguments = arguments.items();
                    assert_eq!(arguments[0].text(), "DeliversBySes");
                    assert_eq!(arguments[2].reference(), Some("AWS::NoValue"));
                    let action = arguments[1].at(&["Action"]).text();
                    assert!(
                        action.starts_with("ses:") || action.starts_with("sns:"),
                        "{action}"
                    );
                    arguments[1].clone()
                }
                None => statement.clone(),
            };
            assert_eq!(statement.at(&["Effect"]).text(), "Allow");
            let actions = match statement.at(&["Action"]) {
                Node::List(actions) => actions.iter().map(Node::text).collect(),
                single => vec![single.text()],
            };
            for action in actions {
                let (service, name) = action.split_once(':').expect("service:Action");
                let names = allowed.entry(service.to_owned()).or_default();
                names.insert(name.to_owned());
            }
        }
    }
    allowed
}

#[tokio::test]
async fn each_policy_allows_exactly_what_its_function_calls() {
    let template = Template::load();
    let Some(providers) = Providers::start(&["google", "apple"]).await else {
        return;
    };
    let deployment = Deployment::start(social(&providers)).await;
    walk(&deployment, &providers).await;

    let messages = deployment.messages();
    let put_events = super::policy_roles(&template, "EventsPut");
    let mut seen: Vec<String> = Vec::new();
    for function in &deployment.functions {
        let name = format!("{:?}Function", function.feature);
        let allowed = allowed(template.resource(&name));
        let called = iam_actions(&function.calls);
        assert_eq!(
            allowed.get("dynamodb").cloned().unwrap_or_default(),
            called,
            "{name}: DynamoDB actions in the policy against those the walk made"
        );
        let sent = |suffix: &str| {
            messages
                .iter()
                .any(|(file, f, _)| *f == function.feature && file.ends_with(suffix))
        };
        let grants =
            |service: &str, action: &str| allowed.get(service).is_some_and(|a| a.contains(action));
        assert_eq!(grants("ses", "SendEmail"), sent(".eml"), "{name}: mail");
        let published = !event_log(&function.outbox).read().is_empty();
        assert_eq!(
            put_events.contains(&format!("{name}Role")),
            published,
            "{name}: lifecycle events"
        );
        assert_eq!(grants("sns", "Publish"), sent(".sms.txt"), "{name}: SMS");
        assert_eq!(
            allowed.get("secretsmanager"),
            Some(&BTreeSet::from(["GetSecretValue".to_owned()])),
            "{name}: the signing key"
        );
        let services: Vec<&String> = allowed.keys().collect();
        assert!(
            services
                .iter()
                .all(|s| ["dynamodb", "secretsmanager", "ses", "sns"].contains(&s.as_str())),
            "{name}: {services:?}"
        );
        seen.push(name);
    }
    assert_eq!(seen.len(), template.functions().len());
}

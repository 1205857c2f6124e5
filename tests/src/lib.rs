//! The test harness: a fresh local server per test (in-memory embedded DynamoDB, outbox mail
//! in a temporary folder, a random key), and a client that speaks to it over HTTP.
//!
//! When `DYNAMODB_LOCAL` names an address (`infra/test` starts Amazon's DynamoDB Local
//! there), servers use that DynamoDB instead, each with a table of its own.

pub mod authenticator;
pub mod logs;
pub mod oidc;
pub mod wallet;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use blockauth::Settings;
use blockauth::events::{EventLog, Events};
use blockauth::identity::identifier::Identifier;
use blockauth::mail::{Mailer, Outbox};
use blockauth::signing_key::SigningKey;
use blockauth_local::{Options, Running, Storage};
use serde_json::{Value, json};

/// The local event log's name, in a test server's outbox folder.
const EVENT_LOG: &str = "events.jsonl";

/// A strong password that every validator accepts.
pub const PASSWORD: &str = "Correct-Horse-9-Battery";

pub struct TestApp {
    pub server: Running,
    pub http: reqwest::Client,
    /// The key HS256 tokens are signed with.
    pub key: SigningKey,
    outbox: tempfile::TempDir,
}

/// Every code this server mailed is one the logs' scan looks for.
impl Drop for TestApp {
    fn drop(&mut self) {
        for code in self.messages().iter().filter_map(|m| code_in(m)) {
            logs::secret("a code", &code);
        }
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A client whose requests come from the loopback address `127.0.0.<host>`: another client
/// network as far as the server's rate limits can tell. Like `browser`, it shows redirects
/// rather than following them.
pub fn client_from(host: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(std::net::IpAddr::from([127, 0, 0, host]))
        .build()
        .expect("client")
}

/// Sends `request` and reads its answer (a JSON body, or none).
pub async fn send(request: reqwest::RequestBuilder) -> Reply {
    try_send(request).await.expect("request reaches the server")
}

/// `send`, or the error of a request that got no whole answer.
pub async fn try_send(request: reqwest::RequestBuilder) -> Result<Reply, reqwest::Error> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON body, got {text:?}"))
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

impl TestApp {
    /// A server with the default settings.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server whose settings `adjust` changes first.
    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = test_settings();
        adjust(&mut settings);
        let (settings, mailer, outbox) = outbox_mailer(settings);
        Self::start_with_mailer(settings, mailer, outbox).await
    }

    /// A server on the embedded DynamoDB even in the DynamoDB Local pass, for tests that
    /// stop it or sweep its expired items.
    pub async fn start_embedded() -> Self {
        let (settings, mailer, outbox) = outbox_mailer(test_settings());
        Self::start_on(settings, mailer, None, outbox, Storage::Memory).await
    }

    /// A server whose DynamoDB calls pass through a `Proxy` (to the embedded DynamoDB of
    /// another server, also returned: keep it), so that a test can fail any one of them.
    pub async fn start_behind_proxy(adjust: impl FnOnce(&mut Settings)) -> (Self, Proxy, Self) {
        let database = Self::start_embedded().await;
        let proxy = Proxy::start(database.server.dynamodb_address).await;
        let mut settings = test_settings();
        adjust(&mut settings);
        let (settings, mailer, outbox) = outbox_mailer(settings);
        let storage = Storage::External(proxy.address);
        let app = Self::start_on(settings, mailer, None, outbox, storage).await;
        (app, proxy, database)
    }

    /// A server with the given settings and mailer (e.g. SES against moto).
    pub async fn start_with_mailer(
        settings: Settings,
        mailer: Mailer,
        outbox: tempfile::TempDir,
    ) -> Self {
        let (settings, storage) = storage_for(settings);
        Self::start_on(settings, mailer, None, outbox, storage).await
    }

    /// A server whose lifecycle events go to `events` rather than the local log.
    pub async fn start_with_events(events: Events) -> Self {
        let (settings, mailer, outbox) = outbox_mailer(test_settings());
        let (settings, storage) = storage_for(settings);
        Self::start_on(settings, mailer, Some(events), outbox, storage).await
    }

    /// A server with exactly `settings` on 127.0.0.1:`port`, for a test whose settings name
    /// the server's own origin before it starts (a browser's passkeys); Err when the port
    /// was taken meanwhile.
    pub async fn start_at(settings: Settings, port: u16) -> Result<Self, String> {
        let (settings, mailer, outbox) = outbox_mailer(settings);
        let (settings, storage) = storage_for(settings);
        Self::listen(
            settings,
            mailer,
            None,
            outbox,
            storage,
            SocketAddr::from(([127, 0, 0, 1], port)),
        )
        .await
    }

    /// A server on a port that was free a moment ago, with the settings `settings` makes
    /// for that port (which they name: a passkey origin, a token issuer); tried again on
    /// another should something have taken it in between.
    pub async fn start_on_a_free_port(settings: impl Fn(u16) -> Settings) -> Self {
        let mut last = String::new();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port();
            match Self::start_at(settings(port), port).await {
                Ok(app) => return app,
                Err(e) => last = e,
            }
        }
        panic!("no local server started: {last}");
    }

    async fn start_on(
        settings: Settings,
        mailer: Mailer,
        events: Option<Events>,
        outbox: tempfile::TempDir,
        storage: Storage,
    ) -> Self {
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        Self::listen(settings, mailer, events, outbox, storage, any_port)
            .await
            .expect("local server starts")
    }

    async fn listen(
        settings: Settings,
        mailer: Mailer,
        events: Option<Events>,
        outbox: tempfile::TempDir,
        storage: Storage,
        listen: SocketAddr,
    ) -> Result<Self, String> {
        logs::capture();
        let key = fresh_key();
        let factor_key = fresh_key();
        logs::key(key.bytes());
        logs::key(factor_key.bytes());
        let events = events.unwrap_or_else(|| {
            Events::Log(EventLog {
                path: outbox.path().join(EVENT_LOG),
                announce: false,
            })
        });
        let server = blockauth_local::start(Options {
            settings,
            listen,
            storage,
            mailer,
            events,
            key: key.clone(),
            factor_key,
            token_keys: Some(outbox.path().join("token-keys.json")),
            retry: false,
        })
        .await?;
        Ok(TestApp {
            server,
            http: reqwest::Client::new(),
            key,
            outbox,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.server.base_url, path.trim_start_matches('/'))
    }

    /// POSTs `body` as JSON to `path` (relative to the base path).
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        logs::passwords_in(&body);
        self.send(self.http.post(self.url(path)).json(&body)).await
    }

    /// POSTs `body` to a protected route with `Authorization: Bearer <access>`.
    pub async fn post_as(&self, access: &str, path: &str, body: Value) -> Reply {
        logs::passwords_in(&body);
        self.send(
            self.http
                .post(self.url(path))
                .bearer_auth(access)
                .json(&body),
        )
        .await
    }

    /// GETs a protected route with `Authorization: Bearer <access>`.
    pub async fn get_as(&self, access: &str, path: &str) -> Reply {
        self.send(self.http.get(self.url(path)).bearer_auth(access))
            .await
    }

    /// PATCHes `body` to a protected route with `Authorization: Bearer <access>`.
    pub async fn patch_as(&self, access: &str, path: &str, body: Value) -> Reply {
        logs::passwords_in(&body);
        self.send(
            self.http
                .patch(self.url(path))
                .bearer_auth(access)
                .json(&body),
        )
        .await
    }

    /// DELETEs a protected route's resource with `Authorization: Bearer <access>`.
    pub async fn delete_as(&self, access: &str, path: &str) -> Reply {
        self.send(self.http.delete(self.url(path)).bearer_auth(access))
            .await
    }

    /// `token` (HS256, of this server) as if issued `seconds_ago`: the same claims, its
    /// `iat` and `exp` moved back, signed again with the server's key.
    pub fn issued_earlier(&self, token: &str, seconds_ago: i64) -> String {
        let mut payload = claims(token);
        for name in ["iat", "exp"] {
            payload[name] = json!(payload[name].as_i64().expect("a time") - seconds_ago);
        }
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        let key = jsonwebtoken::EncodingKey::from_secret(self.key.bytes());
        jsonwebtoken::encode(&header, &payload, &key).expect("signed")
    }

    /// POSTs `body` as JSON to `path` from the loopback address `127.0.0.<host>`: another
    /// client network as far as the server's rate limits can tell.
    pub async fn post_from(&self, host: u8, path: &str, body: Value) -> Reply {
        logs::passwords_in(&body);
        self.send(client_from(host).post(self.url(path)).json(&body))
            .await
    }

    /// POSTs raw bytes to `path`.
    pub async fn post_raw(&self, path: &str, bytes: Vec<u8>) -> Reply {
        self.send(
            self.http
                .post(self.url(path))
                .header("content-type", "application/json")
                .body(bytes),
        )
        .await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        send(request).await
    }

    /// The folder where this server's mail lands, one file per message.
    pub fn outbox_dir(&self) -> &std::path::Path {
        self.outbox.path()
    }

    /// Every lifecycle event the server logged, oldest first.
    pub fn events(&self) -> Vec<Value> {
        EventLog {
            path: self.outbox.path().join(EVENT_LOG),
            announce: false,
        }
        .read()
    }

    /// Every message in the outbox, oldest first, as file contents.
    fn messages(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.outbox.path())
            .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .collect()
    }

    /// Every message in the outbox to `to`, oldest first, as file contents.
    pub fn messages_to(&self, to: &str) -> Vec<String> {
        self.messages()
            .into_iter()
            .filter(|m| {
                m.lines()
                    .any(|l| l == format!("To: {to}") || l == format!("To: {to}\r"))
            })
            .collect()
    }

    /// The code in the newest message to `to`.
    pub fn code_for(&self, to: &str) -> String {
        let messages = self.messages_to(to);
        let last = messages
            .last()
            .unwrap_or_else(|| panic!("no message to {to}"));
        code_in(last).unwrap_or_else(|| panic!("no code in {last}"))
    }

    /// Writes `user`, known by `known_by`, straight into the table (an account as an import
    /// leaves it, say with a Django password hash).
    pub async fn put_user(&self, user: &blockauth::identity::user::User, known_by: &Identifier) {
        self.server
            .context
            .store
            .transact(user.create(known_by))
            .await
            .expect("the user is written");
    }

    /// The partition key of every item in the server's table (a scan): what a failed step
    /// may not have left behind.
    pub async fn partition_keys(&self) -> Vec<String> {
        let client = blockauth_local::dynamodb_client(self.server.dynamodb_address, false);
        let pages = client
            .scan()
            .table_name(self.server.context.store.table())
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await;
        pages
            .into_iter()
            .map(|item| {
                let item = item.expect("the table scans");
                item["pk"].as_s().expect("a pk").clone()
            })
            .collect()
    }

    /// The stored user with this id.
    pub async fn user(&self, id: &str) -> Option<blockauth::identity::user::User> {
        blockauth::identity::user::get(&self.server.context, id)
            .await
            .expect("the store answers")
    }

    /// `login/basic/` with `email` and `password`: the answer, whatever it is.
    pub async fn log_in(&self, email: &str, password: &str) -> Reply {
        self.post(
            "login/basic/",
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// Signs up and confirms `email` with `password`; returns the confirm answer.
    pub async fn sign_up(&self, email: &str, password: &str) -> Reply {
        let started = self
            .post("signup/", json!({"email": email, "password": password}))
            .await;
        assert_eq!(started.status, 200, "{:?}", started.body);
        let code = self.code_for(email);
        let confirmed = self
            .post("signup/confirm/", json!({"email": email, "otp": code}))
            .await;
        assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
        confirmed
    }
}

/// Waits, if need be, until the current 30-second TOTP step has at least 20 seconds left,
/// so that a test's codes keep to the step it computed them for; the time then.
pub async fn early_in_a_step() -> i64 {
    let into = blockauth::clock::now().rem_euclid(30);
    if into > 10 {
        tokio::time::sleep(std::time::Duration::from_secs((30 - into) as u64)).await;
    }
    blockauth::clock::now()
}

/// The TOTP code of the base32 `secret` (as `totp/setup/` shows it) at Unix time `time`,
/// by the API's own arithmetic (the second-factor tests use pyotp's instead).
pub fn totp_code(secret: &str, time: i64) -> String {
    let (mut bits, mut buffer, mut bytes) = (0u32, 0u32, Vec::new());
    for c in secret.chars() {
        let value = match c {
            'A'..='Z' => c as u32 - 'A' as u32,
            '2'..='7' => c as u32 - '2' as u32 + 26,
            _ => panic!("not base32: {secret}"),
        };
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            bytes.push((buffer >> bits) as u8);
        }
    }
    blockauth::mfa::totp::code_at(&bytes, blockauth::mfa::totp::step_of(time))
}

/// A new random key (a signing key, or the key that seals TOTP secrets).
pub fn fresh_key() -> SigningKey {
    SigningKey::from_text(&SigningKey::generate_text().expect("key")).expect("key")
}

/// The default settings, but for the route limit's window: an hour rather than 30 s, so
/// that a test's few requests never straddle the end of a fixed window (which would reset
/// the count between them) however slow the machine.
pub fn test_settings() -> Settings {
    let mut settings = Settings::default();
    settings.limits.request_window = 3600;
    settings
}

/// The embedded DynamoDB in memory, or, in the DynamoDB Local pass, that DynamoDB with a
/// table of this server's own (it is shared by every test).
fn storage_for(mut settings: Settings) -> (Settings, Storage) {
    match dynamodb_local() {
        Some(address) => {
            static TABLES: AtomicU32 = AtomicU32::new(0);
            let n = TABLES.fetch_add(1, Ordering::Relaxed);
            settings.table_name = format!("{}-{}-{n}", settings.table_name, std::process::id());
            (settings, Storage::External(address))
        }
        None => (settings, Storage::Memory),
    }
}

/// Mail to a fresh temporary outbox.
fn outbox_mailer(settings: Settings) -> (Settings, Mailer, tempfile::TempDir) {
    let outbox = tempfile::tempdir().expect("temporary outbox");
    let mailer = Mailer::Outbox(Outbox {
        dir: outbox.path().to_owned(),
        from: settings.email_from.clone(),
        announce: false,
    });
    (settings, mailer, outbox)
}

/// Runs `n` requests at once, the `i`th made by `request(i)`; their results, in order.
pub async fn parallel<T, F>(n: usize, request: impl Fn(usize) -> F) -> Vec<T>
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(request(i))).collect();
    let mut results = Vec::with_capacity(n);
    for task in tasks {
        results.push(task.await.expect("a parallel request panicked"));
    }
    results
}

/// The access token of a sign-in answer.
pub fn access(reply: &Reply) -> String {
    reply.body["access"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// The refresh token of a sign-in answer.
pub fn refresh(reply: &Reply) -> String {
    reply.body["refresh"]
        .as_str()
        .expect("a refresh token")
        .to_owned()
}

/// The code in a message: the digits after "code: " in its subject or "code is " in its
/// text, or those a text message (SMS) starts with ("123456 is your ... code").
pub fn code_in(message: &str) -> Option<String> {
    let digits_at = |text: &str| {
        let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
        (!digits.is_empty()).then_some(digits)
    };
    ["code: ", "code is ", "Your code is "]
        .iter()
        .find_map(|marker| digits_at(&message[message.find(marker)? + marker.len()..]))
        .or_else(|| {
            let text = message.split("\n\n").nth(1)?;
            digits_at(text).filter(|digits| text[digits.len()..].starts_with(" is your"))
        })
}

/// The claims of a JWT, without verifying it (the server verifies; tests only look).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64_url_decode(payload);
    serde_json::from_slice(&bytes).expect("JWT claims are JSON")
}

fn base64_url_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|a| *a == c).expect("base64url") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

/// None, saying loudly which tool is missing and how to get it; in CI a missing tool is a
/// failure, never a skip.
/// Starts `command` (a `node` script) with its stdio piped, killed when dropped; None
/// (loudly, or a failure in CI) where Node.js is missing.
pub fn spawn_node(mut command: tokio::process::Command) -> Option<tokio::process::Child> {
    let spawned = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    match spawned {
        Ok(node) => Some(node),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            missing("Node.js (node) is not installed")
        }
        Err(e) => panic!("node does not start: {e}"),
    }
}

/// A client that shows each redirect instead of following it, as the tests' browser.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

pub fn missing<T>(what: &str) -> Option<T> {
    if std::env::var("CI").is_ok() {
        panic!("{what}: run infra/test");
    }
    eprintln!("SKIPPED: {what}; run `bash infra/test` to include this test");
    None
}

/// The moto server the test command started, or None (loudly) where it is not running.
/// In CI a missing moto is a failure, never a skip.
pub fn moto_url() -> Option<String> {
    match std::env::var("MOTO_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").is_ok() => panic!("MOTO_URL is not set: run infra/test"),
        Err(_) => {
            eprintln!("SKIPPED: moto is not running; run `bash infra/test` to include this test");
            None
        }
    }
}

/// One request a recording proxy passed on.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// Every request a recording proxy has passed on, oldest first.
pub type Recording = std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>;

/// What a proxy does to one request instead of passing it on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answers 500 (DynamoDB's InternalServerError), as a service failing.
    Refuse,
    /// Never answers, as a service that stalls.
    Stall,
}

/// The requests, counted from a proxy's start, that meet its fault: from the first, up to
/// the last (None: every later one).
type FaultWindow = Option<(usize, Option<usize>, Fault)>;

/// A proxy on a free port to an HTTP service (DynamoDB, moto) that records each request it
/// passes on (what went over the wire, for a test to look at) and fails one on demand.
pub struct Proxy {
    pub address: SocketAddr,
    pub calls: Recording,
    fault: std::sync::Arc<std::sync::Mutex<FaultWindow>>,
}

impl Proxy {
    /// A proxy to `backend`.
    pub async fn start(backend: SocketAddr) -> Proxy {
        use axum::http::{HeaderMap, StatusCode};
        let calls = Recording::default();
        let fault = std::sync::Arc::new(std::sync::Mutex::new(FaultWindow::None));
        let (recorded, faults) = (calls.clone(), fault.clone());
        let http = reqwest::Client::new();
        let forward = move |request: axum::extract::Request| {
            let (http, recorded, faults) = (http.clone(), recorded.clone(), faults.clone());
            async move {
                let (parts, body) = request.into_parts();
                let body = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .expect("a request body");
                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                let index = {
                    let mut recorded = recorded.lock().unwrap();
                    recorded.push(Recorded {
                        method: parts.method.to_string(),
                        path: path.to_owned(),
                        headers: parts.headers.clone(),
                        body: body.to_vec(),
                    });
                    recorded.len() - 1
                };
                let fault = match *faults.lock().unwrap() {
                    Some((first, last, fault))
                        if index >= first && last.is_none_or(|last| index <= last) =>
                    {
                        Some(fault)
                    }
                    _ => None,
                };
                match fault {
                    Some(Fault::Refuse) => {
                        let mut headers = HeaderMap::new();
                        headers.insert(
                            "content-type",
                            "application/x-amz-json-1.0".parse().unwrap(),
                        );
                        let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"a fault the test proxy injected"}"#;
                        return (StatusCode::INTERNAL_SERVER_ERROR, headers, body.into());
                    }
                    Some(Fault::Stall) => std::future::pending().await,
                    None => {}
                }
                let mut request = http
                    .request(parts.method, format!("http://{backend}{path}"))
                    .body(body);
                for (name, value) in &parts.headers {
                    if name != "host" && name != "content-length" {
                        request = request.header(name, value);
                    }
                }
                let response = request.send().await.expect("the service answers");
                let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
                let mut answer = HeaderMap::new();
                for (name, value) in response.headers() {
                    if !matches!(
                        name.as_str(),
                        "content-length" | "transfer-encoding" | "connection"
                    ) {
                        answer.insert(name.clone(), value.clone());
                    }
                }
                let body = response.bytes().await.expect("a body");
                (status, answer, body)
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(forward);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Proxy {
            address,
            calls,
            fault,
        }
    }

    /// The `n`th request from now (0: the next) meets `fault`; every other passes.
    pub fn fail(&self, n: usize, fault: Fault) {
        let at = self.calls.lock().unwrap().len() + n;
        *self.fault.lock().unwrap() = Some((at, Some(at), fault));
    }

    /// Every request from now meets `fault`, until `heal`: the service is down.
    pub fn down(&self, fault: Fault) {
        let next = self.calls.lock().unwrap().len();
        *self.fault.lock().unwrap() = Some((next, None, fault));
    }

    /// Every request passes again.
    pub fn heal(&self) {
        *self.fault.lock().unwrap() = None;
    }
}

/// Every mail the moto at `url` has accepted through SES, oldest first.
pub async fn moto_mail(url: &str) -> Vec<Value> {
    let data: Value = reqwest::get(format!("{url}/moto-api/data.json"))
        .await
        .expect("moto answers")
        .json()
        .await
        .expect("moto's data is JSON");
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The mails among `messages` (moto's) addressed to `to`.
pub fn mail_to<'a>(messages: &'a [Value], to: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t == to))
        })
        .collect()
}

/// The address of the DynamoDB Local that `infra/test` started, if this is its pass.
pub fn dynamodb_local() -> Option<SocketAddr> {
    let address = std::env::var("DYNAMODB_LOCAL").ok()?;
    Some(
        address
            .parse()
            .unwrap_or_else(|_| panic!("DYNAMODB_LOCAL={address:?}: expected 127.0.0.1:PORT")),
    )
}

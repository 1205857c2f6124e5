//! Local OpenID Connect providers for the social-login tests: `tests/oidc/providers.mjs`
//! (oauth2-mock-server under Node.js) run as a child process, one provider per name, each with
//! its own issuer, keys, claims and fault. The comment at the top of that script says what a
//! provider does with `nonce`, PKCE and the code, and what each fault does.
//!
//! ```ignore
//! let Some(providers) = Providers::start(&["google"]).await else { return };
//! providers.set("google", json!({"sub": "123", "email": "ada@example.com"})).await;
//! let issuer = providers.issuer("google"); // http://localhost:PORT, as in `iss`
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use blockauth::social::apple;
use blockauth::social::settings::{AppleSigner, Provider, ProviderKind};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::missing;

/// Starts `node providers.mjs NAMES` in `dir`: the child and the line it printed once
/// listening, or why it stopped first; None (loudly) where Node.js is missing.
async fn launch(dir: &std::path::Path, names: &[&str]) -> Option<Result<(Child, String), String>> {
    let mut command = Command::new("node");
    command.arg("providers.mjs").args(names).current_dir(dir);
    let mut node = crate::spawn_node(command)?;
    let stdout = node.stdout.take().expect("piped stdout");
    let mut line = String::new();
    // Each provider makes two RSA keys first (its own and the bad_signature one).
    tokio::time::timeout(
        Duration::from_secs(60),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("providers.mjs listens within 60 s")
    .expect("providers.mjs's stdout");
    if line.is_empty() {
        let status = node.wait().await;
        let mut stderr = String::new();
        if let Some(mut err) = node.stderr.take() {
            let _ = err.read_to_string(&mut stderr).await;
        }
        return Some(Err(format!("{status:?}: {stderr}")));
    }
    Some(Ok((node, line)))
}

/// Running providers; dropping this kills them.
pub struct Providers {
    control: String,
    issuers: HashMap<String, String>,
    /// The deployer's Sign in with Apple key, as Apple would have them download it.
    apple_key: AppleSigner,
    apple_private_key: String,
    unknown_apple_key: String,
    http: reqwest::Client,
    // Killed on drop; its stdin closing stops it too, should the kill be missed.
    _node: Child,
}

impl Providers {
    /// One provider per name, or None (loudly) where Node.js or the npm folder is missing.
    /// In CI a missing tool is a failure, never a skip.
    pub async fn start(names: &[&str]) -> Option<Providers> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc");
        if !dir.join("node_modules/oauth2-mock-server").is_dir() {
            return missing("oauth2-mock-server is not installed in tests/oidc");
        }
        // A start that fails is tried once more, saying why (seen once under the whole
        // suite's load: node closed its output before listening).
        let (node, line) = match launch(&dir, names).await? {
            Ok(started) => started,
            Err(why) => {
                eprintln!("providers.mjs did not start, trying again: {why}");
                launch(&dir, names)
                    .await?
                    .unwrap_or_else(|why| panic!("providers.mjs did not start: {why}"))
            }
        };
        let started: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("providers.mjs printed {line:?}, not JSON"));
        let issuers: HashMap<String, String> =
            serde_json::from_value(started["providers"].clone()).expect("issuers by name");
        let key = &started["apple_key"];
        let text = |name: &str| key[name].as_str().expect("apple_key").to_owned();
        Some(Providers {
            control: started["control"].as_str().expect("control URL").to_owned(),
            issuers,
            apple_key: AppleSigner {
                team_id: text("team_id"),
                key_id: text("key_id"),
            },
            apple_private_key: text("private_key"),
            unknown_apple_key: text("unknown_private_key"),
            http: reqwest::Client::new(),
            _node: node,
        })
    }

    /// The provider's issuer (`http://localhost:PORT`): its `iss`, and the base of its
    /// discovery document (`/.well-known/openid-configuration`).
    pub fn issuer(&self, name: &str) -> String {
        self.issuers
            .get(name)
            .unwrap_or_else(|| panic!("no provider {name:?} was started"))
            .clone()
    }

    /// The claims of the provider's later ID tokens and userinfo answers, over its defaults.
    pub async fn set(&self, name: &str, claims: Value) {
        self.configure(name, json!({ "claims": claims })).await;
    }

    /// How long the provider's codes may wait for their exchange (0: every code is late).
    pub async fn code_ttl(&self, name: &str, seconds: u32) {
        self.configure(name, json!({ "code_ttl": seconds })).await;
    }

    /// The `user` Apple's next form_post carries (a person's first authorization).
    pub async fn first_user(&self, name: &str, user: Value) {
        self.configure(name, json!({ "first_user": user })).await;
    }

    /// Apple (the provider started as `apple`) as the API's settings name it: its key
    /// signs the client secrets, which that provider checks.
    pub fn apple(&self, link_by_email: bool) -> Provider {
        Provider {
            client_secret: self.apple_private_key.clone(),
            signer: Some(self.apple_key.clone()),
            scopes: vec!["name".into(), "email".into()],
            ..provider(
                "apple",
                ProviderKind::Apple,
                self.issuer("apple"),
                link_by_email,
            )
        }
    }

    /// A P-256 key (PEM) that Apple does not know: a deployer's wrong `.p8`.
    pub fn unknown_apple_key(&self) -> String {
        self.unknown_apple_key.clone()
    }

    /// Makes the provider's later sign-ins fail in one way (see providers.mjs), or, with
    /// None, behave again.
    pub async fn fault(&self, name: &str, fault: Option<&str>) {
        self.configure(name, json!({ "fault": fault })).await;
    }

    /// An ID token straight from provider `name`, as a mobile app's SDK gets one for
    /// `client_id` with `nonce`.
    pub async fn id_token(&self, name: &str, client_id: &str, nonce: &str) -> String {
        let issuer = self.issuer(name);
        let browser = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        let authorized = browser
            .get(format!(
                "{issuer}/authorize?response_type=code&scope=openid&state=s&client_id={client_id}\
                 &redirect_uri=http%3A%2F%2Flocalhost%2Fapp&nonce={nonce}"
            ))
            .send()
            .await
            .expect("the provider answers");
        let location = authorized.headers()["location"]
            .to_str()
            .expect("a location");
        let code = location
            .split(['?', '&'])
            .find_map(|pair| pair.strip_prefix("code="))
            .expect("a code")
            .to_owned();
        // Apple's app gets its token with a client secret signed by the team's key.
        let secret = if name == "apple" {
            let app = Provider {
                client_id: client_id.to_owned(),
                ..self.apple(false)
            };
            format!(
                "&client_secret={}",
                apple::client_secret(&app).expect("a secret")
            )
        } else {
            String::new()
        };
        let answer: Value = browser
            .post(format!("{issuer}/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!(
                "grant_type=authorization_code&code={code}&client_id={client_id}\
                 &redirect_uri=http%3A%2F%2Flocalhost%2Fapp{secret}"
            ))
            .send()
            .await
            .expect("the provider answers")
            .json()
            .await
            .expect("JSON");
        answer["id_token"].as_str().expect("an ID token").to_owned()
    }

    /// The query parameters of the last `/authorize` request the provider saw (null if none).
    pub async fn last_authorize(&self, name: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/providers/{name}/last-authorize", self.control))
            .send()
            .await
            .expect("the control server answers");
        assert_eq!(response.status(), 200, "last-authorize of {name:?}");
        response.json().await.expect("JSON")
    }

    async fn configure(&self, name: &str, body: Value) {
        let response = self
            .http
            .post(format!("{}/providers/{name}", self.control))
            .json(&body)
            .send()
            .await
            .expect("the control server answers");
        let status = response.status();
        let answer = response.text().await.unwrap_or_default();
        assert_eq!(status, 200, "setting {body} on {name:?}: {answer}");
    }
}

/// What Apple's page posts to the callback: the form's action and its fields, in order.
pub struct FormPost {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

impl FormPost {
    /// The fields as the browser posts them (`application/x-www-form-urlencoded`).
    pub fn body(&self) -> String {
        self.fields
            .iter()
            .map(|(name, value)| format!("{name}={}", percent(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Signs in at a provider's `/authorize` URL asked for a `form_post` (the provider named
/// `apple`): the page it answers with, read as a browser would submit it.
pub async fn form_post(authorize_url: &str) -> FormPost {
    let page = reqwest::get(authorize_url)
        .await
        .expect("the provider answers");
    assert_eq!(page.status(), 200, "a form_post answers with a page");
    let html = page.text().await.expect("the page");
    let attribute = |tag: &str, name: &str| {
        tag.split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(unescape)
            .unwrap_or_else(|| panic!("no {name} in {tag}"))
    };
    FormPost {
        action: attribute(&html, "action"),
        fields: html
            .split("<input ")
            .skip(1)
            .map(|input| (attribute(input, "name"), attribute(input, "value")))
            .collect(),
    }
}

/// `&#NN;` escapes undone (what the provider's page escapes).
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("&#") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').expect("an escape ends") + at;
        let code: u32 = rest[at + 2..end].parse().expect("a decimal escape");
        out.push(char::from_u32(code).expect("a character"));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `text` percent-encoded for a query or a form.
pub fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `name` as the API's settings name it, at the local provider whose issuer is `issuer`
/// (Facebook, which has no discovery, at that provider's own endpoints). Its callback is
/// `http://localhost/auth/<name>/callback/`: the local providers redirect to whatever it
/// says, and a test sends the browser to its own server with the query they gave.
pub fn provider(name: &str, kind: ProviderKind, issuer: String, link_by_email: bool) -> Provider {
    let at = |path: &str| Some(format!("{issuer}{path}"));
    let facebook = kind == ProviderKind::Facebook;
    Provider {
        name: name.to_owned(),
        kind,
        client_id: format!("{name}-client"),
        client_secret: "test-secret".to_owned(),
        client_secret_name: None,
        signer: None,
        redirect_uri: format!("http://localhost/auth/{name}/callback/"),
        authorize_url: if facebook { at("/authorize") } else { None },
        token_url: if facebook { at("/token") } else { None },
        jwks_url: None,
        userinfo_url: if facebook { at("/userinfo") } else { None },
        issuer,
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        native_client_ids: Vec::new(),
        link_by_email,
    }
}

//! The OpenID Connect providers of `blockauth_tests::oidc`, tested on their own: an
//! authorization-code flow with PKCE and a nonce, done by hand, gets the claims the control
//! server set; each fault breaks that flow the way it says.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use blockauth_tests::claims;
use blockauth_tests::oidc::Providers;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Url;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const CLIENT_ID: &str = "blockauth-test-client";
// Never reached: /authorize redirects there and the test reads the Location header.
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// A relying party's view of one provider: its discovery document and JWKS.
struct Client {
    issuer: String,
    discovery: Value,
    jwks: Value,
    http: reqwest::Client,
}

/// What one sign-in sends, to compare with what comes back.
struct Sent {
    state: String,
    nonce: String,
    verifier: String,
    challenge: String,
}

impl Sent {
    fn new(tag: &str) -> Self {
        let verifier = format!("{tag}-verifier-{}", "v".repeat(43));
        Sent {
            state: format!("{tag}-state"),
            nonce: format!("{tag}-nonce"),
            challenge: URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            verifier,
        }
    }
}

impl Client {
    async fn new(providers: &Providers, name: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .build()
            .expect("client");
        let issuer = providers.issuer(name);
        let get = async |url: &str| -> Value {
            let response = http.get(url).send().await.expect("the provider answers");
            assert_eq!(response.status(), 200, "{url}");
            response.json().await.expect("JSON")
        };
        let discovery = get(&format!("{issuer}/.well-known/openid-configuration")).await;
        let jwks = get(discovery["jwks_uri"].as_str().expect("jwks_uri")).await;
        Client {
            issuer,
            discovery,
            jwks,
            http,
        }
    }

    fn endpoint(&self, name: &str) -> &str {
        self.discovery[name].as_str().expect("an endpoint")
    }

    /// /authorize, then the code and verifier to the token endpoint: its answer.
    async fn sign_in(&self, tag: &str) -> (Sent, reqwest::Result<reqwest::Response>) {
        let sent = Sent::new(tag);
        let code = self.authorize(&sent).await;
        let token = self
            .http
            .post(self.endpoint("token_endpoint"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", CLIENT_ID),
                ("code_verifier", &sent.verifier),
            ])
            .send()
            .await;
        (sent, token)
    }

    /// The code /authorize redirects with, at once (no login page).
    async fn authorize(&self, sent: &Sent) -> String {
        let url = Url::parse_with_params(
            self.endpoint("authorization_endpoint"),
            [
                ("client_id", CLIENT_ID),
                ("redirect_uri", REDIRECT_URI),
                ("response_type", "code"),
                ("scope", "openid email"),
                ("state", &sent.state),
                ("nonce", &sent.nonce),
                ("code_challenge", &sent.challenge),
                ("code_challenge_method", "S256"),
            ],
        )
        .expect("authorize URL");
        let response = self.http.get(url).send().await.expect("/authorize answers");
        assert_eq!(response.status(), 302);
        let location = response.headers()["location"].to_str().expect("text");
        let back = Url::parse(location).expect("a URL");
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        let param = |name: &str| {
            back.query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        assert_eq!(param("state").as_deref(), Some(sent.state.as_str()));
        param("code").expect("a code")
    }

    /// The ID token's claims, verified as a relying party must: RS256 with the JWKS key of
    /// its kid, this issuer, this client, not expired.
    fn verify(&self, id_token: &str) -> Result<Value, ErrorKind> {
        let kid = jsonwebtoken::decode_header(id_token)
            .expect("a JWT header")
            .kid
            .expect("a kid");
        let jwk = self.jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|key| key["kid"] == kid.as_str())
            .expect("the kid is in the JWKS");
        let key = DecodingKey::from_rsa_components(
            jwk["n"].as_str().expect("n"),
            jwk["e"].as_str().expect("e"),
        )
        .expect("an RSA key");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[CLIENT_ID]);
        jsonwebtoken::decode::<Value>(id_token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| e.into_kind())
    }
}

async fn id_token(token: reqwest::Result<reqwest::Response>) -> String {
    let response = token.expect("the token endpoint answers");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    body["id_token"].as_str().expect("an ID token").to_owned()
}

#[tokio::test]
async fn two_providers_sign_in_with_the_claims_set_through_the_control_server() {
    let Some(providers) = Providers::start(&["google", "facebook"]).await else {
        return;
    };
    assert_ne!(providers.issuer("google"), providers.issuer("facebook"));
    for name in ["google", "facebook"] {
        let user = json!({
            "sub": format!("{name}-123"),
            "email": "ada@example.com",
            "email_verified": true,
            "name": "Ada",
        });
        providers.set(name, user.clone()).await;
        let client = Client::new(&providers, name).await;
        assert_eq!(client.discovery["issuer"], client.issuer);

        let (sent, token) = client.sign_in(name).await;
        let response = token.expect("the token endpoint answers");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("JSON");
        let id_claims = client
            .verify(body["id_token"].as_str().expect("an ID token"))
            .expect("the ID token verifies against the JWKS");
        for field in ["sub", "email", "email_verified", "name"] {
            assert_eq!(id_claims[field], user[field], "{field}");
        }
        assert_eq!(id_claims["nonce"], sent.nonce.as_str());
        assert_eq!(id_claims["iss"], client.issuer.as_str());

        let seen = providers.last_authorize(name).await;
        assert_eq!(seen["state"], sent.state.as_str());
        assert_eq!(seen["nonce"], sent.nonce.as_str());
        assert_eq!(seen["code_challenge"], sent.challenge.as_str());
        assert_eq!(seen["code_challenge_method"], "S256");
        assert_eq!(seen["scope"], "openid email");
        assert_eq!(seen["redirect_uri"], REDIRECT_URI);

        // A Facebook-like client reads the same claims from userinfo.
        let userinfo: Value = client
            .http
            .get(client.endpoint("userinfo_endpoint"))
            .bearer_auth(body["access_token"].as_str().expect("an access token"))
            .send()
            .await
            .expect("userinfo answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(userinfo, user);
    }
}

#[tokio::test]
async fn the_token_endpoint_checks_the_pkce_verifier() {
    let Some(providers) = Providers::start(&["okta"]).await else {
        return;
    };
    let client = Client::new(&providers, "okta").await;
    let sent = Sent::new("pkce");
    let code = client.authorize(&sent).await;
    let response = client
        .http
        .post(client.endpoint("token_endpoint"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", CLIENT_ID),
            ("code_verifier", &"w".repeat(43)),
        ])
        .send()
        .await
        .expect("the token endpoint answers");
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn each_fault_breaks_the_sign_in_its_own_way() {
    let Some(providers) = Providers::start(&["okta"]).await else {
        return;
    };
    let client = Client::new(&providers, "okta").await;
    for (fault, refusal) in [
        ("wrong_audience", "InvalidAudience"),
        ("wrong_issuer", "InvalidIssuer"),
        ("expired", "ExpiredSignature"),
        // Its kid is the provider's (verify finds it in the JWKS): the key is not.
        ("bad_signature", "InvalidSignature"),
    ] {
        providers.fault("okta", Some(fault)).await;
        let token = id_token(client.sign_in(fault).await.1).await;
        let kind = client.verify(&token).expect_err(fault);
        assert_eq!(format!("{kind:?}"), refusal, "{fault}");
        if fault == "wrong_audience" {
            assert_ne!(claims(&token)["aud"], CLIENT_ID);
        }
    }

    providers.fault("okta", Some("wrong_nonce")).await;
    let (sent, token) = client.sign_in("wrong_nonce").await;
    let token_claims = client.verify(&id_token(token).await).expect("verifies");
    assert_ne!(token_claims["nonce"], sent.nonce.as_str());

    providers.fault("okta", Some("html")).await;
    let response = client.sign_in("html").await.1.expect("an answer");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );

    providers.fault("okta", Some("down")).await;
    let error = client.sign_in("down").await.1.expect_err("no answer");
    assert!(!error.is_timeout(), "{error}");

    // The client gives up after 5 s; the provider would answer after 30.
    providers.fault("okta", Some("slow")).await;
    let error = client
        .sign_in("slow")
        .await
        .1
        .expect_err("no answer in time");
    assert!(error.is_timeout(), "{error}");

    providers.fault("okta", None).await;
    let (sent, token) = client.sign_in("again").await;
    let token_claims = client.verify(&id_token(token).await).expect("verifies");
    assert_eq!(token_claims["nonce"], sent.nonce.as_str());
}

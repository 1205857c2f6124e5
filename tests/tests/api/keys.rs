//! Asymmetric tokens (RS256, ES256, EdDSA): a third party (PyJWT, tests/tokens/verify.py)
//! verifies them knowing only the issuer, through its discovery document and JWKS, and
//! never takes a refresh token for an access token; a rotated key is published before it
//! signs, and tokens of the old key keep working; forged headers are refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use blockauth::Settings;
use blockauth::session::keys::{self, KeySet};
use blockauth::session::settings::Algorithm;
use blockauth_tests::wallet::eth_account_python;
use blockauth_tests::{PASSWORD, Reply, TestApp, access, refresh, test_settings};
use serde_json::{Value, json};

fn settings(algorithm: Algorithm) -> impl Fn(u16) -> Settings {
    move |port| {
        let mut settings = test_settings();
        settings.session.algorithm = algorithm;
        settings.session.token_issuer = format!("http://127.0.0.1:{port}/auth");
        settings
    }
}

fn issuer(app: &TestApp) -> String {
    app.server.context.settings.session.token_issuer.clone()
}

/// What tests/tokens/verify.py answers for each (token, audience); None where the tools'
/// Python is not installed (never in CI).
pub async fn third_party(app: &TestApp, tokens: &[(&str, &str)]) -> Option<Vec<Value>> {
    let python = eth_account_python()?;
    let requests: Vec<Value> = tokens
        .iter()
        .map(|(token, audience)| json!({"token": token, "issuer": issuer(app), "audience": audience}))
        .collect();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tokens/verify.py");
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(Value::from(requests).to_string().as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("a JSON list"))
}

fn header(token: &str) -> Value {
    let part = token.split('.').next().unwrap();
    serde_json::from_slice(&B64.decode(part).unwrap()).unwrap()
}

async fn get(app: &TestApp, path: &str) -> Reply {
    app.send(app.http.get(app.url(path))).await
}

#[tokio::test]
async fn each_algorithm_verifies_with_a_third_party_from_the_published_keys() {
    for algorithm in [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa] {
        let app = TestApp::start_on_a_free_port(settings(algorithm)).await;
        let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
        let (access, refresh) = (access(&signed_up), refresh(&signed_up));
        let kid = header(&access)["kid"].as_str().unwrap().to_owned();
        assert_eq!(header(&access)["alg"], algorithm.name());

        let jwks = get(&app, ".well-known/jwks.json").await;
        assert_eq!(jwks.status, 200);
        assert_eq!(
            jwks.header("cache-control"),
            Some("public, max-age=300, stale-while-revalidate=300")
        );
        let keys = jwks.body["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kid"], kid.as_str());
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(keys[0].get(private).is_none(), "{private} published");
        }
        let discovery = get(&app, ".well-known/openid-configuration").await;
        assert_eq!(discovery.body["issuer"], issuer(&app));
        assert_eq!(
            discovery.body["jwks_uri"],
            format!("{}/.well-known/jwks.json", issuer(&app))
        );

        let Some(answers) = third_party(
            &app,
            &[
                (&access, "blockauth"),
                (&refresh, "blockauth"),
                (&refresh, "blockauth:refresh"),
            ],
        )
        .await
        else {
            return;
        };
        assert_eq!(answers[0]["ok"], true, "{algorithm:?}: {}", answers[0]);
        assert_eq!(answers[0]["kid"], kid.as_str());
        assert_eq!(
            answers[0]["claims"]["user_id"],
            signed_up.body["user"]["id"]
        );
        // A verifier of access tokens (signature, issuer, audience) refuses a refresh token.
        assert_eq!(answers[1]["ok"], false, "{algorithm:?}: {}", answers[1]);
        assert!(answers[1]["error"].as_str().unwrap().contains("Audience"));
        assert_eq!(answers[2]["ok"], true, "{}", answers[2]);
    }
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs_and_old_tokens_keep_working() {
    let app = TestApp::start_on_a_free_port(settings(Algorithm::Es256)).await;
    let file = app.outbox_dir().join("token-keys.json");
    let before = app.sign_up("ada@example.com", PASSWORD).await;
    let old_kid = header(&access(&before))["kid"].clone();
    let login = || async {
        let reply = app.log_in("ada@example.com", PASSWORD).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        reply
    };

    // Rotated with a grace period: published at once, signing nothing yet.
    let (grace, keep) = (3600, 86400);
    let rotated = keys::rotate_file(&file, Algorithm::Es256, grace, keep).unwrap();
    let pending = rotated.keys[1].kid.clone();
    let jwks = get(&app, ".well-known/jwks.json").await;
    let kids: Vec<&Value> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["kid"])
        .collect();
    assert_eq!(kids, [&old_kid, &json!(pending)]);
    assert_eq!(header(&access(&login().await))["kid"], old_kid);

    // Once a new key's time has come (here a rotation without grace), it signs.
    let rotated = keys::rotate_file(&file, Algorithm::Es256, 0, keep).unwrap();
    let now_signing = json!(rotated.keys[2].kid);
    let after = login().await;
    assert_eq!(header(&access(&after))["kid"], now_signing);

    // The old key's tokens still work, here and for a third party.
    let refreshed = app
        .post("token/refresh/", json!({"refresh": refresh(&before)}))
        .await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    assert_eq!(header(&access(&refreshed))["kid"], now_signing);
    let (old, new) = (access(&before), access(&after));
    if let Some(answers) = third_party(&app, &[(&old, "blockauth"), (&new, "blockauth")]).await {
        assert!(answers.iter().all(|a| a["ok"] == true), "{answers:?}");
    }
}

/// `token` with its header replaced by `header` and its signature by `signature`.
fn forged(token: &str, header: &Value, signature: &[u8]) -> String {
    let payload = token.split('.').nth(1).unwrap();
    format!(
        "{}.{payload}.{}",
        B64.encode(header.to_string()),
        B64.encode(signature)
    )
}

#[tokio::test]
async fn forged_headers_and_foreign_keys_are_refused() {
    let app = TestApp::start_on_a_free_port(settings(Algorithm::Rs256)).await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    let token = access(&signed_up);
    let kid = header(&token)["kid"].as_str().unwrap().to_owned();
    let signing_input = token.rsplit_once('.').unwrap().0.to_owned();
    let jwks = get(&app, ".well-known/jwks.json").await;
    let public_jwk = jwks.body["keys"][0].to_string();

    let hmac = |key: &[u8], header: &Value| {
        let payload = token.split('.').nth(1).unwrap();
        let input = format!("{}.{payload}", B64.encode(header.to_string()));
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
        aws_lc_rs::hmac::sign(&key, input.as_bytes())
            .as_ref()
            .to_vec()
    };
    let signature = B64.decode(token.rsplit('.').next().unwrap()).unwrap();
    // A key of another type (P-256), and another RSA key, each claiming our key's kid.
    let foreign = |algorithm: Algorithm| {
        let set = KeySet::generate(algorithm, 0).unwrap();
        let key = set.load(algorithm).unwrap().remove(0);
        let claims: Value =
            serde_json::from_slice(&B64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
        let mut header = jsonwebtoken::Header::new(algorithm.jwt());
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, &claims, &key.encoding).unwrap()
    };
    let none = json!({"alg": "none", "typ": "JWT", "kid": kid});
    let confused = json!({"alg": "HS256", "typ": "JWT", "kid": kid});
    let attempts = [
        (
            "an unknown kid",
            forged(
                &token,
                &json!({"alg": "RS256", "typ": "JWT", "kid": "nope"}),
                &signature,
            ),
        ),
        (
            "no kid",
            forged(&token, &json!({"alg": "RS256", "typ": "JWT"}), &signature),
        ),
        ("alg none", forged(&token, &none, &[])),
        (
            "HS256 keyed with the public JWK",
            forged(&token, &confused, &hmac(public_jwk.as_bytes(), &confused)),
        ),
        (
            "HS256 keyed with the modulus",
            forged(
                &token,
                &confused,
                &hmac(
                    &B64.decode(jwks.body["keys"][0]["n"].as_str().unwrap())
                        .unwrap(),
                    &confused,
                ),
            ),
        ),
        ("ES256 under the RSA key's kid", foreign(Algorithm::Es256)),
        ("another RSA key under its kid", foreign(Algorithm::Rs256)),
        (
            "a changed payload",
            format!("{signing_input}x.{}", B64.encode(&signature)),
        ),
    ];
    for (what, forged) in attempts {
        let reply = app
            .post_as(
                &forged,
                "password/change/",
                json!({"old_password": PASSWORD, "new_password": "X-Another-1"}),
            )
            .await;
        assert_eq!(reply.status, 401, "{what}: {:?}", reply.body);
    }
    // The genuine token still works.
    let reply = app
        .post_as(
            &token,
            "password/change/",
            json!({"old_password": PASSWORD, "new_password": "X-Another-1"}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test]
async fn hs256_publishes_no_keys() {
    let app = TestApp::start().await;
    for path in [".well-known/jwks.json", ".well-known/openid-configuration"] {
        assert_eq!(get(&app, path).await.status, 404, "{path}");
    }
}

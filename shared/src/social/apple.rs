//! What Sign in with Apple does differently from other OpenID Connect providers:
//!
//! - Its client secret is a JWT (ES256) that the deployer's `.p8` key signs, naming the team
//!   (`iss`), the services id (`sub`) and Apple (`aud`). One is made per container and kept
//!   until shortly before it expires (Apple allows six months; ours last an hour).
//! - Its callback is a `form_post`: Apple's page POSTs `code`, `state` and, at a person's
//!   first authorization only, `user` (their name) to the callback. A cross-site POST carries
//!   no `SameSite=Lax` cookie, so the state cookie is `SameSite=None; Secure` (see
//!   `flow::start`): the cookie still only goes back to this API, HttpOnly, on the callback's
//!   path, and must equal the posted state, which a page on another site cannot read.
//! - Its native apps send the SHA-256 of their nonce to Apple, so the ID token carries that.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::settings::{Provider, ProviderKind};
use crate::{AuthError, clock};

/// Seconds a client secret lasts, and how long before its end a new one is made.
const SECRET_LIFETIME: i64 = 3600;
const RENEW_BEFORE: i64 = 300;

#[derive(Serialize)]
struct SecretClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// Whether `provider`'s key can sign client secrets (checked at start, so that a wrong key
/// stops the function rather than every sign-in).
pub fn check_key(provider: &Provider) -> Result<(), String> {
    if provider.kind != ProviderKind::Apple {
        return Ok(());
    }
    signing_key(&provider.client_secret)
        .map(drop)
        .ok_or_else(|| "the private key is not a P-256 key in PEM (PKCS #8, a .p8 file)".into())
}

/// The `.p8` file's key: PKCS #8 in PEM.
fn signing_key(pem: &str) -> Option<EncodingKey> {
    use base64::Engine;
    let body = pem
        .trim()
        .strip_prefix("-----BEGIN PRIVATE KEY-----")?
        .strip_suffix("-----END PRIVATE KEY-----")?;
    let body: String = body.split_whitespace().collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    // jsonwebtoken takes any DER here and fails at signing: sign once to know.
    let key = EncodingKey::from_ec_der(&der);
    jsonwebtoken::encode(&Header::new(Algorithm::ES256), &serde_json::json!({}), &key).ok()?;
    Some(key)
}

/// The client secret of a code exchange: the configured one, or Apple's signed JWT.
pub fn client_secret(provider: &Provider) -> Result<String, AuthError> {
    let Some(signer) = &provider.signer else {
        return Ok(provider.client_secret.clone());
    };
    // Per configuration (one Apple provider per deployment; several in one test run).
    type Made = HashMap<String, (i64, String)>;
    static MADE: OnceLock<Mutex<Made>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let configuration = [
        &provider.issuer,
        &provider.client_id,
        &signer.team_id,
        &signer.key_id,
        &provider.client_secret,
    ]
    .map(String::as_str)
    .join("\n");
    let now = clock::now();
    if let Some((_, secret)) = made
        .lock()
        .ok()
        .and_then(|made| made.get(&configuration).cloned())
        .filter(|(expires, _)| expires - RENEW_BEFORE > now)
    {
        return Ok(secret);
    }
    let unavailable = |e: &dyn std::fmt::Display| AuthError::unavailable("apple client secret", e);
    let key =
        signing_key(&provider.client_secret).ok_or_else(|| unavailable(&"not a P-256 key"))?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(signer.key_id.clone());
    let claims = SecretClaims {
        iss: &signer.team_id,
        sub: &provider.client_id,
        aud: provider.issuer.trim_end_matches('/'),
        iat: now,
        exp: now + SECRET_LIFETIME,
    };
    let secret = jsonwebtoken::encode(&header, &claims, &key).map_err(|e| unavailable(&e))?;
    if let Ok(mut made) = made.lock() {
        made.insert(configuration, (now + SECRET_LIFETIME, secret.clone()));
    }
    Ok(secret)
}

/// The person's name from the `user` field Apple posts at their first authorization
/// (`{"name": {"firstName": ..., "lastName": ...}, "email": ...}`); None when it is absent
/// or not of that shape. Only a new account takes it: Apple never sends it again.
pub fn first_authorization_name(user: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct FirstAuthorization {
        name: Name,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Name {
        #[serde(default)]
        first_name: Option<String>,
        #[serde(default)]
        last_name: Option<String>,
    }
    let Name {
        first_name,
        last_name,
    } = serde_json::from_str::<FirstAuthorization>(user).ok()?.name;
    let name = [first_name, last_name]
        .into_iter()
        .flatten()
        .map(|part| part.trim().to_owned())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let name: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(NAME_LIMIT)
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Characters of a name kept.
const NAME_LIMIT: usize = 150;

/// The nonce an Apple ID token from a native app carries: the SHA-256 (hex) of the one the
/// app holds.
pub fn native_nonce(nonce: &str) -> String {
    crate::encode::hex(
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, nonce.as_bytes()).as_ref(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_comes_from_the_first_authorization_only_when_well_formed() {
        let name = first_authorization_name(
            r#"{"name": {"firstName": " Ada ", "lastName": "Lovelace"}, "email": "a@b.c"}"#,
        );
        assert_eq!(name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(
            first_authorization_name(r#"{"name": {"firstName": "Ada"}}"#).as_deref(),
            Some("Ada")
        );
        for bad in [
            "",
            "null",
            "1",
            r#"["x"]"#,
            r#"{"name": "Ada"}"#,
            r#"{"name": {}}"#,
            "{",
        ] {
            assert_eq!(first_authorization_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_native_nonce_is_the_sha256_of_the_apps() {
        assert_eq!(
            native_nonce("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

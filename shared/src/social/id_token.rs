//! OpenID Connect ID tokens, checked as the provider publishes its keys: the signature
//! against its JWKS (cached per container, fetched again once for a `kid` it does not
//! hold), the algorithm the key names (never the one the token names), and `iss`, `aud`,
//! `exp` and `nonce`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::constant_time;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::outbound;
use crate::AuthError;

/// An ID token the provider did not sign, or not for this sign-in.
pub const ID_TOKEN_INVALID: AuthError = AuthError::BadGateway {
    code: "id_token_invalid",
    detail: "The sign-in provider's ID token could not be verified.",
};

/// What an ID token says about the person signing in.
#[derive(Debug, Clone, Deserialize)]
pub struct IdClaims {
    pub sub: String,
    /// Seconds since the epoch.
    #[serde(default)]
    pub exp: i64,
    #[serde(default)]
    pub email: Option<String>,
    /// Some providers send `"true"` as text.
    #[serde(default, deserialize_with = "flag")]
    pub email_verified: bool,
    #[serde(default)]
    pub nonce: Option<String>,
    /// The person's full name, where the provider gives it.
    #[serde(default)]
    pub name: Option<String>,
}

fn flag<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => b,
        serde_json::Value::String(s) => s == "true",
        _ => false,
    })
}

/// Each JWKS URL's keys, as last fetched.
fn cache() -> &'static Mutex<HashMap<String, Arc<JwkSet>>> {
    static KEYS: OnceLock<Mutex<HashMap<String, Arc<JwkSet>>>> = OnceLock::new();
    KEYS.get_or_init(Default::default)
}

async fn keys(jwks_url: &str, fresh: bool) -> Result<Arc<JwkSet>, AuthError> {
    if !fresh {
        let cached = cache().lock().ok().and_then(|c| c.get(jwks_url).cloned());
        if let Some(keys) = cached {
            return Ok(keys);
        }
    }
    let keys: Arc<JwkSet> = Arc::new(outbound::get_json(jwks_url).await?);
    if let Ok(mut cache) = cache().lock() {
        cache.insert(jwks_url.to_owned(), keys.clone());
    }
    Ok(keys)
}

/// The key `kid` names, fetching the set again once if the cached one lacks it (the
/// provider rotated its keys).
async fn key_for(jwks_url: &str, kid: Option<&str>) -> Result<Jwk, AuthError> {
    for fresh in [false, true] {
        let keys = keys(jwks_url, fresh).await?;
        let found = match kid {
            Some(kid) => keys.find(kid).cloned(),
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        };
        if let Some(key) = found {
            return Ok(key);
        }
    }
    Err(ID_TOKEN_INVALID)
}

/// The algorithms an ID token may be signed with: asymmetric only (a provider's token
/// signed with its client secret, or unsigned, is refused).
const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::PS256,
];

/// Verifies `token` as an ID token from `issuer` for one of `audiences` (client ids), for
/// the sign-in that sent `nonce`.
pub async fn verify(
    token: &str,
    jwks_url: &str,
    issuer: &str,
    audiences: &[&str],
    nonce: &str,
) -> Result<IdClaims, AuthError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| ID_TOKEN_INVALID)?;
    let jwk = key_for(jwks_url, header.kid.as_deref()).await?;
    // The key decides the algorithm: its own `alg` when it names one, else the token's as
    // long as it suits the key's type.
    let algorithm = match jwk.common.key_algorithm {
        Some(named) => named
            .to_string()
            .parse::<Algorithm>()
            .map_err(|_| ID_TOKEN_INVALID)?,
        None => header.alg,
    };
    if !ALGORITHMS.contains(&algorithm) || header.alg != algorithm {
        return Err(ID_TOKEN_INVALID);
    }
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| ID_TOKEN_INVALID)?;
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[issuer]);
    validation.set_audience(audiences);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 60;
    let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
        .map_err(|e| {
            tracing::warn!(error = %e, "ID token refused");
            ID_TOKEN_INVALID
        })?
        .claims;
    let same_nonce = claims.nonce.as_deref().is_some_and(|n| {
        constant_time::verify_slices_are_equal(n.as_bytes(), nonce.as_bytes()).is_ok()
    });
    if !same_nonce {
        tracing::warn!("ID token for another sign-in (nonce)");
        return Err(ID_TOKEN_INVALID);
    }
    Ok(claims)
}

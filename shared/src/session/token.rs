//! JWT access and refresh tokens: the one place tokens are issued and verified.
//!
//! Claims: `user_id`, `type`, `jti`, `iat`, `exp`, `sub` (= user_id), `iss`, `aud` (a
//! refresh token's is `<audience>:refresh`), and `sid`, the refresh family (login session)
//! the token belongs to. Signed with `ALGORITHM`: HS256 with the signing key, or an
//! asymmetric key of the key set (`session::keys`), named by `kid`. Verification pins the
//! algorithm (never the token's `alg`) and checks the key, `exp`, `iss`, `aud` and `type`.

use std::sync::{Arc, RwLock};

use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::AuthError;
use crate::session::keys::{self, Key, KeySet};
use crate::session::settings::Algorithm;
use crate::settings::Settings;
use crate::signing_key::SigningKey;

/// A token that is not one of ours, not of the asked type, expired, or of an ended session.
pub const INVALID_TOKEN: AuthError = AuthError::Unauthorized {
    code: "token_not_valid",
    detail: "Token is invalid or expired.",
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
    /// A step-up receipt (`stepup/`): a fresh second factor, for another service.
    StepUp,
}

/// How long a step-up receipt lives.
pub const RECEIPT_LIFETIME: i64 = 120;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub user_id: String,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub sub: String,
    pub iss: String,
    pub aud: String,
    /// The refresh family: every token of one login shares it.
    pub sid: String,
    /// Custom claims (`session::claims`): in both tokens, so a refresh can carry them on.
    #[serde(flatten)]
    pub custom: serde_json::Map<String, serde_json::Value>,
}

/// A freshly issued pair.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub refresh_claims: Claims,
}

/// Where an asymmetric key set is read again from: a rotation elsewhere adds keys.
pub enum KeySource {
    /// Given once (tests).
    Fixed,
    /// The Secrets Manager secret (Lambda).
    SecretsManager {
        client: aws_sdk_secretsmanager::Client,
        secret_id: String,
    },
    /// The local key file, read again when it changes.
    File(std::path::PathBuf),
}

/// A container reads the key set again after this many seconds (so that it signs with a
/// rotated key in time), and at once, at most this often, for a `kid` it does not know.
const KEY_SET_MAX_AGE: i64 = 300;
const UNKNOWN_KID_RETRY: i64 = 30;

struct Loaded {
    keys: Arc<Vec<Key>>,
    read_at: i64,
    /// The key file's modification time when read.
    version: Option<std::time::SystemTime>,
}

enum Signer {
    Secret {
        encoding: EncodingKey,
        decoding: DecodingKey,
    },
    KeySet {
        loaded: RwLock<Loaded>,
        source: KeySource,
    },
}

pub struct Tokens {
    algorithm: Algorithm,
    signer: Signer,
    access: Validation,
    refresh: Validation,
    issuer: String,
    audience: String,
    refresh_audience: String,
    access_lifetime: i64,
    refresh_lifetime: i64,
}

impl Tokens {
    /// HS256 tokens signed with `key`.
    pub fn new(key: &SigningKey, settings: &Settings) -> Self {
        let signer = Signer::Secret {
            encoding: EncodingKey::from_secret(key.bytes()),
            decoding: DecodingKey::from_secret(key.bytes()),
        };
        Self::with_signer(Algorithm::Hs256, signer, settings)
    }

    /// Tokens signed with the key set `set` of the settings' asymmetric algorithm, read
    /// again from `source`.
    pub fn with_key_set(
        set: &KeySet,
        source: KeySource,
        settings: &Settings,
    ) -> Result<Self, String> {
        let algorithm = settings.session.algorithm;
        // May be empty: a deployment's first rotation makes the first key meanwhile.
        let keys = set.load(algorithm)?;
        let version = match &source {
            KeySource::File(path) => modified(path),
            _ => None,
        };
        let loaded = Loaded {
            keys: Arc::new(keys),
            read_at: clock::now(),
            version,
        };
        let signer = Signer::KeySet {
            loaded: RwLock::new(loaded),
            source,
        };
        Ok(Self::with_signer(algorithm, signer, settings))
    }

    fn with_signer(algorithm: Algorithm, signer: Signer, settings: &Settings) -> Self {
        let session = &settings.session;
        let validation = |audience: &str| {
            let mut validation = Validation::new(algorithm.jwt());
            validation.set_issuer(&[&session.token_issuer]);
            validation.set_audience(&[audience]);
            validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
            validation.leeway = 0;
            validation
        };
        Tokens {
            algorithm,
            signer,
            access: validation(&session.token_audience),
            refresh: validation(&session.refresh_audience()),
            issuer: session.token_issuer.clone(),
            audience: session.token_audience.clone(),
            refresh_audience: session.refresh_audience(),
            access_lifetime: session.access_token_lifetime as i64,
            refresh_lifetime: session.refresh_token_lifetime as i64,
        }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// A step-up receipt for `user_id` in session `sid`: `type` `stepup`, `scope`, `aud` the
    /// consuming service's `audience`, living `RECEIPT_LIFETIME` seconds; signed as access
    /// tokens are, so the published keys verify it.
    pub async fn receipt(
        &self,
        user_id: &str,
        sid: &str,
        scope: &str,
        audience: &str,
    ) -> Result<String, AuthError> {
        let now = clock::now();
        let mut custom = serde_json::Map::new();
        custom.insert("scope".into(), scope.into());
        let claims = Claims {
            user_id: user_id.to_owned(),
            token_type: TokenType::StepUp,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iat: now,
            exp: now + RECEIPT_LIFETIME,
            sub: user_id.to_owned(),
            iss: self.issuer.clone(),
            aud: audience.to_owned(),
            sid: sid.to_owned(),
            custom,
        };
        let keys = self.keys(None).await;
        self.sign(&claims, keys.as_ref().map(|k| k.as_slice()), now)
    }

    /// A new access/refresh pair for `user_id` in refresh family `sid`, with `custom` claims.
    pub async fn issue(
        &self,
        user_id: &str,
        sid: &str,
        custom: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<TokenPair, AuthError> {
        let now = clock::now();
        let claims = |token_type, lifetime, audience: &str| Claims {
            user_id: user_id.to_owned(),
            token_type,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iat: now,
            exp: now + lifetime,
            sub: user_id.to_owned(),
            iss: self.issuer.clone(),
            aud: audience.to_owned(),
            sid: sid.to_owned(),
            custom: custom.clone(),
        };
        let access_claims = claims(TokenType::Access, self.access_lifetime, &self.audience);
        let refresh_claims = claims(
            TokenType::Refresh,
            self.refresh_lifetime,
            &self.refresh_audience,
        );
        let keys = self.keys(None).await;
        let access = self.sign(&access_claims, keys.as_ref().map(|k| k.as_slice()), now)?;
        let refresh = self.sign(&refresh_claims, keys.as_ref().map(|k| k.as_slice()), now)?;
        Ok(TokenPair {
            access,
            refresh,
            refresh_claims,
        })
    }

    fn sign(&self, claims: &Claims, keys: Option<&[Key]>, now: i64) -> Result<String, AuthError> {
        let mut header = Header::new(self.algorithm.jwt());
        let encoding = match (&self.signer, keys) {
            (Signer::Secret { encoding, .. }, _) => encoding,
            (Signer::KeySet { .. }, Some(keys)) => {
                let key = keys::signing(keys, now).ok_or_else(|| {
                    AuthError::unavailable("token signing", &"no key of the set signs yet")
                })?;
                header.kid = Some(key.kid.clone());
                &key.encoding
            }
            (Signer::KeySet { .. }, None) => {
                return Err(AuthError::unavailable("token signing", &"no key set"));
            }
        };
        jsonwebtoken::encode(&header, claims, encoding)
            .map_err(|e| AuthError::unavailable("token signing", &e))
    }

    /// The claims of a valid, unexpired token of `expected` type, or 401.
    pub async fn verify(&self, token: &str, expected: TokenType) -> Result<Claims, AuthError> {
        let validation = match expected {
            TokenType::Access => &self.access,
            TokenType::Refresh => &self.refresh,
            // Receipts are for other services: this API never takes one.
            TokenType::StepUp => return Err(INVALID_TOKEN),
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| INVALID_TOKEN)?;
        if header.alg != self.algorithm.jwt() {
            return Err(INVALID_TOKEN);
        }
        let claims = match &self.signer {
            Signer::Secret { decoding, .. } => {
                jsonwebtoken::decode::<Claims>(token, decoding, validation)
            }
            Signer::KeySet { .. } => {
                let kid = header.kid.as_deref().ok_or(INVALID_TOKEN)?;
                let keys = self.keys(Some(kid)).await.ok_or(INVALID_TOKEN)?;
                let key = keys.iter().find(|k| k.kid == kid).ok_or(INVALID_TOKEN)?;
                jsonwebtoken::decode::<Claims>(token, &key.decoding, validation)
            }
        }
        .map_err(|_| INVALID_TOKEN)?
        .claims;
        if claims.token_type != expected || claims.sub != claims.user_id {
            return Err(INVALID_TOKEN);
        }
        Ok(claims)
    }

    /// The published keys (JWKS) of an asymmetric algorithm; None for HS256.
    pub async fn published(&self) -> Option<serde_json::Value> {
        self.keys(None).await.map(|keys| keys::jwks(&keys))
    }

    /// The key set, read again when it is stale or (at most every `UNKNOWN_KID_RETRY`
    /// seconds) when it lacks `kid`; None for HS256. A failed read keeps the keys held.
    async fn keys(&self, kid: Option<&str>) -> Option<Arc<Vec<Key>>> {
        let Signer::KeySet { loaded, source } = &self.signer else {
            return None;
        };
        let now = clock::now();
        let (held, read_at, version) = {
            let loaded = loaded.read().unwrap_or_else(|e| e.into_inner());
            (loaded.keys.clone(), loaded.read_at, loaded.version)
        };
        let unknown = held.is_empty() || kid.is_some_and(|kid| !held.iter().any(|k| k.kid == kid));
        let stale = match source {
            KeySource::Fixed => false,
            KeySource::File(path) => modified(path) != version,
            KeySource::SecretsManager { .. } => {
                now - read_at >= KEY_SET_MAX_AGE || (unknown && now - read_at >= UNKNOWN_KID_RETRY)
            }
        };
        if !stale {
            return Some(held);
        }
        match self.read_again(source).await {
            Ok((keys, version)) => {
                let keys = Arc::new(keys);
                *loaded.write().unwrap_or_else(|e| e.into_inner()) = Loaded {
                    keys: keys.clone(),
                    read_at: now,
                    version,
                };
                Some(keys)
            }
            Err(why) => {
                tracing::error!(error = %why, "token key set not read again");
                loaded.write().unwrap_or_else(|e| e.into_inner()).read_at = now;
                Some(held)
            }
        }
    }

    async fn read_again(
        &self,
        source: &KeySource,
    ) -> Result<(Vec<Key>, Option<std::time::SystemTime>), String> {
        let (text, version) = match source {
            KeySource::Fixed => return Err("a fixed key set".into()),
            KeySource::File(path) => (
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
                modified(path),
            ),
            KeySource::SecretsManager { client, secret_id } => (
                crate::signing_key::secret_text(client, secret_id).await?,
                None,
            ),
        };
        let keys = KeySet::parse(&text)?.load(self.algorithm)?;
        if keys.is_empty() {
            return Err(format!("no {} key", self.algorithm.name()));
        }
        Ok((keys, version))
    }
}

fn modified(path: &std::path::Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(settings: &Settings) -> Tokens {
        Tokens::new(&SigningKey::from_text(&"k".repeat(40)).unwrap(), settings)
    }

    #[tokio::test]
    async fn issued_tokens_verify_by_type() {
        let t = tokens(&Settings::default());
        let pair = t
            .issue("user-1", "family-1", &Default::default())
            .await
            .unwrap();
        let access = t.verify(&pair.access, TokenType::Access).await.unwrap();
        assert_eq!(access.user_id, "user-1");
        assert_eq!(access.sid, "family-1");
        assert_eq!(access.exp - access.iat, 3600);
        let refresh = t.verify(&pair.refresh, TokenType::Refresh).await.unwrap();
        assert_eq!(refresh, pair.refresh_claims);
        assert_eq!(refresh.exp - refresh.iat, 86400);
        assert_eq!(
            t.verify(&pair.access, TokenType::Refresh).await,
            Err(INVALID_TOKEN)
        );
        assert_eq!(
            t.verify(&pair.refresh, TokenType::Access).await,
            Err(INVALID_TOKEN)
        );
    }

    #[tokio::test]
    async fn foreign_and_garbage_tokens_fail() {
        let t = tokens(&Settings::default());
        let pair = t.issue("u", "f", &Default::default()).await.unwrap();
        let other = Tokens::new(
            &SigningKey::from_text(&"o".repeat(40)).unwrap(),
            &Settings::default(),
        );
        assert!(other.verify(&pair.access, TokenType::Access).await.is_err());
        let mut audience = Settings::default();
        audience.session.token_audience = "someone-else".into();
        assert!(
            tokens(&audience)
                .verify(&pair.access, TokenType::Access)
                .await
                .is_err()
        );
        for garbage in ["", "a.b.c", "not a token", &"x".repeat(10_000)] {
            assert!(t.verify(garbage, TokenType::Access).await.is_err());
        }
        // alg=none with the same claims is refused: the algorithm is pinned.
        let body = pair.access.split('.').nth(1).unwrap();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{body}.");
        assert!(t.verify(&none, TokenType::Access).await.is_err());
    }
}

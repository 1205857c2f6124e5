//! JWT access and refresh tokens: the one place tokens are issued and verified.
//!
//! Claims: `user_id`, `type`, `jti`, `iat`, `exp`, `sub` (= user_id), `iss`, `aud`, and `sid`,
//! the refresh family (login session) the token belongs to. HS256; verification pins the
//! algorithm and checks `exp`, `iss`, `aud` and `type`.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::AuthError;
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
}

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

pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    access_lifetime: i64,
    refresh_lifetime: i64,
}

impl Tokens {
    pub fn new(key: &SigningKey, settings: &Settings) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.session.token_issuer]);
        validation.set_audience(&[&settings.session.token_audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 0;
        Tokens {
            encoding: EncodingKey::from_secret(key.bytes()),
            decoding: DecodingKey::from_secret(key.bytes()),
            validation,
            issuer: settings.session.token_issuer.clone(),
            audience: settings.session.token_audience.clone(),
            access_lifetime: settings.session.access_token_lifetime as i64,
            refresh_lifetime: settings.session.refresh_token_lifetime as i64,
        }
    }

    /// A new access/refresh pair for `user_id` in refresh family `sid`, with `custom` claims.
    pub fn issue(
        &self,
        user_id: &str,
        sid: &str,
        custom: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<TokenPair, AuthError> {
        let now = clock::now();
        let claims = |token_type, lifetime| Claims {
            user_id: user_id.to_owned(),
            token_type,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            iat: now,
            exp: now + lifetime,
            sub: user_id.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sid: sid.to_owned(),
            custom: custom.clone(),
        };
        let access = self.sign(&claims(TokenType::Access, self.access_lifetime))?;
        let refresh_claims = claims(TokenType::Refresh, self.refresh_lifetime);
        let refresh = self.sign(&refresh_claims)?;
        Ok(TokenPair {
            access,
            refresh,
            refresh_claims,
        })
    }

    fn sign(&self, claims: &Claims) -> Result<String, AuthError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AuthError::unavailable("token signing", &e))
    }

    /// The claims of a valid, unexpired token of `expected` type, or 401.
    pub fn verify(&self, token: &str, expected: TokenType) -> Result<Claims, AuthError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| INVALID_TOKEN)?
            .claims;
        if claims.token_type != expected || claims.sub != claims.user_id {
            return Err(INVALID_TOKEN);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(settings: &Settings) -> Tokens {
        Tokens::new(&SigningKey::from_text(&"k".repeat(40)).unwrap(), settings)
    }

    #[test]
    fn issued_tokens_verify_by_type() {
        let t = tokens(&Settings::default());
        let pair = t.issue("user-1", "family-1", &Default::default()).unwrap();
        let access = t.verify(&pair.access, TokenType::Access).unwrap();
        assert_eq!(access.user_id, "user-1");
        assert_eq!(access.sid, "family-1");
        assert_eq!(access.exp - access.iat, 3600);
        let refresh = t.verify(&pair.refresh, TokenType::Refresh).unwrap();
        assert_eq!(refresh, pair.refresh_claims);
        assert_eq!(refresh.exp - refresh.iat, 86400);
        assert_eq!(
            t.verify(&pair.access, TokenType::Refresh),
            Err(INVALID_TOKEN)
        );
        assert_eq!(
            t.verify(&pair.refresh, TokenType::Access),
            Err(INVALID_TOKEN)
        );
    }

    #[test]
    fn foreign_and_garbage_tokens_fail() {
        let t = tokens(&Settings::default());
        let pair = t.issue("u", "f", &Default::default()).unwrap();
        let other = Tokens::new(
            &SigningKey::from_text(&"o".repeat(40)).unwrap(),
            &Settings::default(),
        );
        assert!(other.verify(&pair.access, TokenType::Access).is_err());
        let mut audience = Settings::default();
        audience.session.token_audience = "someone-else".into();
        assert!(
            tokens(&audience)
                .verify(&pair.access, TokenType::Access)
                .is_err()
        );
        for garbage in ["", "a.b.c", "not a token", &"x".repeat(10_000)] {
            assert!(t.verify(garbage, TokenType::Access).is_err());
        }
        // alg=none with the same claims is refused: the algorithm is pinned.
        let body = pair.access.split('.').nth(1).unwrap();
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{body}.");
        assert!(t.verify(&none, TokenType::Access).is_err());
    }
}

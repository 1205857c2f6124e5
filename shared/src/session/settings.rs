//! The sessions' settings section.

use crate::settings::read::{Section, SettingsError, Values, error};

/// `ALGORITHM`: how tokens are signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC with the signing key (the default): only this API can verify its tokens.
    Hs256,
    /// Asymmetric, from the key set, published at `.well-known/jwks.json`: RSA (the one API
    /// Gateway's HTTP API JWT authorizer takes), P-256, Ed25519.
    Rs256,
    Es256,
    EdDsa,
}

impl Algorithm {
    pub const ALL: [Algorithm; 4] = [
        Algorithm::Hs256,
        Algorithm::Rs256,
        Algorithm::Es256,
        Algorithm::EdDsa,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Rs256 => "RS256",
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    pub fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::Hs256 => jsonwebtoken::Algorithm::HS256,
            Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
            Algorithm::Es256 => jsonwebtoken::Algorithm::ES256,
            Algorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        }
    }

    /// Whether tokens are verified with published public keys.
    pub fn is_asymmetric(self) -> bool {
        self != Algorithm::Hs256
    }
}

/// The sessions' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// Lifetimes in seconds (`ACCESS_TOKEN_LIFETIME`, `REFRESH_TOKEN_LIFETIME`).
    pub access_token_lifetime: u64,
    pub refresh_token_lifetime: u64,
    /// `ROTATE_REFRESH_TOKENS`: refresh issues a new pair and retires the old refresh token.
    pub rotate_refresh_tokens: bool,
    /// `REFRESH_REUSE_GRACE`: seconds after a refresh token's first use during which it
    /// gets the same new pair again, rather than revoking its family (0: never).
    pub refresh_reuse_grace: u64,
    pub algorithm: Algorithm,
    /// `TOKEN_KEYS_SECRET`: the Secrets Manager secret holding the key set of an
    /// asymmetric algorithm (Lambda; locally a file beside the signing key).
    pub token_keys_secret: Option<String>,
    /// `KEY_ROTATION_GRACE`: seconds between a new key's publication and its first
    /// signature; longer than every cache of the published keys.
    pub key_rotation_grace: u64,
    /// `TOKEN_ISSUER` and `TOKEN_AUDIENCE`: the `iss` and `aud` claims.
    pub token_issuer: String,
    pub token_audience: String,
    /// `AUTH_HEADER_NAME` in Django's META spelling (`HTTP_AUTHORIZATION`).
    pub auth_header_name: String,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            access_token_lifetime: 3600,
            refresh_token_lifetime: 86400,
            rotate_refresh_tokens: true,
            refresh_reuse_grace: 10,
            algorithm: Algorithm::Hs256,
            token_keys_secret: None,
            key_rotation_grace: 10800,
            token_issuer: "blockauth".into(),
            token_audience: "blockauth".into(),
            auth_header_name: "HTTP_AUTHORIZATION".into(),
        }
    }
}

impl SessionSettings {
    /// The `aud` of refresh tokens: never the access tokens', so that a verifier checking
    /// only the signature, `iss` and `aud` (API Gateway's JWT authorizer cannot read
    /// `type`) never takes a refresh token for an access token.
    pub fn refresh_audience(&self) -> String {
        format!("{}:refresh", self.token_audience)
    }

    /// The HTTP header `AUTH_HEADER_NAME` means: `HTTP_X_AUTH_TOKEN` → `x-auth-token`.
    pub fn auth_header(&self) -> String {
        self.auth_header_name["HTTP_".len()..]
            .to_ascii_lowercase()
            .replace('_', "-")
    }
}

impl Section for SessionSettings {
    const NAMES: &'static [&'static str] = &[
        "ACCESS_TOKEN_LIFETIME",
        "REFRESH_TOKEN_LIFETIME",
        "ROTATE_REFRESH_TOKENS",
        "REFRESH_REUSE_GRACE",
        "ALGORITHM",
        "TOKEN_KEYS_SECRET",
        "KEY_ROTATION_GRACE",
        "TOKEN_ISSUER",
        "TOKEN_AUDIENCE",
        "AUTH_HEADER_NAME",
    ];

    fn read(&mut self, values: &Values) -> Result<(), SettingsError> {
        values.number("ACCESS_TOKEN_LIFETIME", &mut self.access_token_lifetime, 1)?;
        values.number(
            "REFRESH_TOKEN_LIFETIME",
            &mut self.refresh_token_lifetime,
            1,
        )?;
        values.boolean("ROTATE_REFRESH_TOKENS", &mut self.rotate_refresh_tokens)?;
        values.number("REFRESH_REUSE_GRACE", &mut self.refresh_reuse_grace, 0)?;
        if let Some(v) = values.get("ALGORITHM").filter(|v| !v.trim().is_empty()) {
            self.algorithm = Algorithm::ALL
                .into_iter()
                .find(|a| a.name().eq_ignore_ascii_case(v.trim()))
                .ok_or_else(|| error("ALGORITHM", "expected HS256, RS256, ES256 or EdDSA"))?;
        }
        if let Some(v) = values.get("TOKEN_KEYS_SECRET").filter(|v| !v.is_empty()) {
            self.token_keys_secret = Some(v.to_owned());
        }
        values.number("KEY_ROTATION_GRACE", &mut self.key_rotation_grace, 0)?;
        values.text("TOKEN_ISSUER", &mut self.token_issuer)?;
        // The discovery document names the key set under the issuer.
        if self.algorithm.is_asymmetric() && !crate::https::is_url(&self.token_issuer) {
            return Err(error(
                "TOKEN_ISSUER",
                "with an asymmetric ALGORITHM, the API's base URL (e.g. https://abc.execute-api.eu-west-1.amazonaws.com/auth)",
            ));
        }
        values.text("TOKEN_AUDIENCE", &mut self.token_audience)?;
        values.text("AUTH_HEADER_NAME", &mut self.auth_header_name)?;
        if !self.auth_header_name.starts_with("HTTP_") {
            return Err(error(
                "AUTH_HEADER_NAME",
                "expected Django's META spelling, e.g. HTTP_AUTHORIZATION",
            ));
        }
        Ok(())
    }
}

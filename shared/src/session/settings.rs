//! The sessions' settings section.

use crate::settings::read::{Section, SettingsError, Values, error};

/// The sessions' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// Lifetimes in seconds (`ACCESS_TOKEN_LIFETIME`, `REFRESH_TOKEN_LIFETIME`).
    pub access_token_lifetime: u64,
    pub refresh_token_lifetime: u64,
    /// `ROTATE_REFRESH_TOKENS`: refresh issues a new pair and retires the old refresh token.
    pub rotate_refresh_tokens: bool,
    /// `ALGORITHM`: the JWT signing algorithm (HS256).
    pub algorithm: String,
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
            algorithm: "HS256".into(),
            token_issuer: "blockauth".into(),
            token_audience: "blockauth".into(),
            auth_header_name: "HTTP_AUTHORIZATION".into(),
        }
    }
}

impl SessionSettings {
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
        "ALGORITHM",
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
        values.text("ALGORITHM", &mut self.algorithm)?;
        if self.algorithm != "HS256" {
            return Err(error("ALGORITHM", "only HS256 is supported"));
        }
        values.text("TOKEN_ISSUER", &mut self.token_issuer)?;
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

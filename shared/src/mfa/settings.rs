//! The second factor's settings: in every function, since every function reads every
//! setting (the functions that sign in defer to it; the `mfa` function checks the codes).

use crate::settings::read::{Section, SettingsError, Values, error, list};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaSettings {
    /// `MFA_TOKEN_TTL`: seconds a sign-in waits for its second factor.
    pub token_ttl: u64,
    /// `TOTP_ISSUER`: the issuer authenticator apps show; empty: `PRODUCT_NAME`.
    pub issuer: String,
    /// `TOTP_KEY_SECRET`: the Secrets Manager secret whose key encrypts TOTP secrets at
    /// rest (Lambda; not the token signing key). Locally a generated key file.
    pub key_secret: Option<String>,
    /// `STEPUP_AUDIENCES`: the services a step-up receipt may name as its `aud`, besides
    /// the default `<TOKEN_AUDIENCE>:stepup`.
    pub stepup_audiences: Vec<String>,
}

impl Default for MfaSettings {
    fn default() -> Self {
        MfaSettings {
            token_ttl: 300,
            issuer: String::new(),
            key_secret: None,
            stepup_audiences: Vec::new(),
        }
    }
}

impl Section for MfaSettings {
    const NAMES: &'static [&'static str] = &[
        "MFA_TOKEN_TTL",
        "TOTP_ISSUER",
        "TOTP_KEY_SECRET",
        "STEPUP_AUDIENCES",
    ];

    fn read(&mut self, values: &Values) -> Result<(), SettingsError> {
        values.number("MFA_TOKEN_TTL", &mut self.token_ttl, 30)?;
        if let Some(v) = values.get("TOTP_ISSUER") {
            if v.contains(':') {
                return Err(error("TOTP_ISSUER", "an issuer cannot contain ':'"));
            }
            self.issuer = v.trim().to_owned();
        }
        if let Some(v) = values.get("TOTP_KEY_SECRET").filter(|v| !v.is_empty()) {
            self.key_secret = Some(v.to_owned());
        }
        if let Some(v) = values.get("STEPUP_AUDIENCES") {
            self.stepup_audiences = list(v).map(str::to_owned).collect();
            if let Some(bad) = self
                .stepup_audiences
                .iter()
                .find(|a| a.len() > 200 || a.chars().any(char::is_control))
            {
                return Err(error(
                    "STEPUP_AUDIENCES",
                    &format!("{bad:?} is not an audience"),
                ));
            }
        }
        Ok(())
    }
}

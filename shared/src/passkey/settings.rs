//! Passkeys' settings section: the relying party and the limits. In every function, since
//! every function reads every setting.

use crate::settings::read::{Section, SettingsError, Values, error, list};

/// Passkeys' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeySettings {
    /// `PASSKEY_RP_ID`: the relying party id, the domain passkeys are bound to (the site's
    /// host or a registrable suffix of it).
    pub rp_id: String,
    /// `PASSKEY_RP_NAME`: the name browsers show.
    pub rp_name: String,
    /// `PASSKEY_ALLOWED_ORIGINS`: the origins (`https://app.example.com`) whose ceremonies
    /// are accepted, comma-separated; each must be on `PASSKEY_RP_ID` or a subdomain of it.
    pub allowed_origins: Vec<String>,
    /// `PASSKEY_CHALLENGE_TTL`: seconds between the options and the verification.
    pub challenge_ttl: u64,
    /// `PASSKEY_MAX_CREDENTIALS`: passkeys per account.
    pub max_credentials: u32,
}

impl Default for PasskeySettings {
    fn default() -> Self {
        PasskeySettings {
            rp_id: "localhost".into(),
            rp_name: "BlockAuth".into(),
            allowed_origins: vec!["http://localhost:3000".into()],
            challenge_ttl: 300,
            max_credentials: 10,
        }
    }
}

impl Section for PasskeySettings {
    const NAMES: &'static [&'static str] = &[
        "PASSKEY_RP_ID",
        "PASSKEY_RP_NAME",
        "PASSKEY_ALLOWED_ORIGINS",
        "PASSKEY_CHALLENGE_TTL",
        "PASSKEY_MAX_CREDENTIALS",
    ];

    fn read(&mut self, values: &Values) -> Result<(), SettingsError> {
        values.text("PASSKEY_RP_ID", &mut self.rp_id)?;
        let rp_id = self.rp_id.to_ascii_lowercase();
        if rp_id.is_empty()
            || !rp_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(error(
                "PASSKEY_RP_ID",
                "expected a domain, e.g. example.com",
            ));
        }
        self.rp_id = rp_id;
        values.text("PASSKEY_RP_NAME", &mut self.rp_name)?;
        if let Some(v) = values.get("PASSKEY_ALLOWED_ORIGINS") {
            self.allowed_origins = list(v)
                .map(|o| o.trim_end_matches('/').to_owned())
                .collect();
        }
        if self.allowed_origins.is_empty() {
            return Err(error("PASSKEY_ALLOWED_ORIGINS", "name at least one origin"));
        }
        if let Some(bad) = self
            .allowed_origins
            .iter()
            .find(|origin| !on_rp_id(origin, &self.rp_id))
        {
            return Err(error(
                "PASSKEY_ALLOWED_ORIGINS",
                &format!(
                    "{bad:?} is not an http(s) origin on PASSKEY_RP_ID ({})",
                    self.rp_id
                ),
            ));
        }
        values.number("PASSKEY_CHALLENGE_TTL", &mut self.challenge_ttl, 1)?;
        values.number("PASSKEY_MAX_CREDENTIALS", &mut self.max_credentials, 1)
    }
}

/// Whether `origin` is `scheme://host[:port]` with a host that is `rp_id` or under it
/// (WebAuthn's rule: a credential for `example.com` serves `login.example.com`).
fn on_rp_id(origin: &str, rp_id: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
    else {
        return false;
    };
    let host = match rest.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => rest,
    };
    let host = host.to_ascii_lowercase();
    !host.contains('/') && (host == rp_id || host.ends_with(&format!(".{rp_id}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn read(pairs: &[(&str, &str)]) -> Result<PasskeySettings, SettingsError> {
        let values: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut settings = PasskeySettings::default();
        settings.read(&Values(&values))?;
        Ok(settings)
    }

    #[test]
    fn origins_must_sit_on_the_relying_party() {
        let ok = read(&[
            ("PASSKEY_RP_ID", "Example.com"),
            (
                "PASSKEY_ALLOWED_ORIGINS",
                "https://example.com, https://login.example.com:8443/",
            ),
        ])
        .unwrap();
        assert_eq!(ok.rp_id, "example.com");
        assert_eq!(
            ok.allowed_origins,
            ["https://example.com", "https://login.example.com:8443"]
        );
        for bad in [
            "https://evil.com",
            "https://notexample.com",
            "ftp://example.com",
            "https://example.com/path",
            "",
        ] {
            let err = read(&[
                ("PASSKEY_RP_ID", "example.com"),
                ("PASSKEY_ALLOWED_ORIGINS", bad),
            ])
            .unwrap_err();
            assert_eq!(err.name, "PASSKEY_ALLOWED_ORIGINS", "{bad}");
        }
    }
}

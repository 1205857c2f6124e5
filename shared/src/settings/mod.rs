//! The one settings model, with the seeds' names.
//!
//! In Lambda every setting comes from an environment variable `BLOCKAUTH_<NAME>`; the local
//! server also reads a TOML file with the same names, which the environment overrides.
//! A bad value stops start-up with a message naming the setting.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

pub mod read;

pub use read::SettingsError;
use read::{Section, Values, error, list};

use crate::codes::settings::CodeSettings;
use crate::events::settings::EventSettings;
use crate::mail::settings::{Delivery, DeliverySettings};
use crate::mail::templates::Templates;
use crate::mfa::settings::MfaSettings;
use crate::passkey::settings::PasskeySettings;
use crate::password::PasswordPolicy;
use crate::rate_limit::settings::Limits;
use crate::session::hook::ClaimsSettings;
use crate::session::settings::SessionSettings;
use crate::social::settings::SocialSettings;
use crate::wallet::settings::WalletSettings;

/// A feature flag: each is one Lambda function, deployed or omitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    Signup,
    BasicLogin,
    PasswordlessLogin,
    WalletLogin,
    TokenRefresh,
    PasswordReset,
    PasswordChange,
    EmailChange,
    WalletEmailAdd,
    SocialAuth,
    PasskeyAuth,
    Account,
    Mfa,
    /// The published keys: only with an asymmetric `ALGORITHM`.
    Keys,
}

impl Feature {
    pub const ALL: [Feature; 14] = [
        Feature::Signup,
        Feature::BasicLogin,
        Feature::PasswordlessLogin,
        Feature::WalletLogin,
        Feature::TokenRefresh,
        Feature::PasswordReset,
        Feature::PasswordChange,
        Feature::EmailChange,
        Feature::WalletEmailAdd,
        Feature::SocialAuth,
        Feature::PasskeyAuth,
        Feature::Account,
        Feature::Mfa,
        Feature::Keys,
    ];

    /// The flag's name in `FEATURES`.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Signup => "SIGNUP",
            Feature::BasicLogin => "BASIC_LOGIN",
            Feature::PasswordlessLogin => "PASSWORDLESS_LOGIN",
            Feature::WalletLogin => "WALLET_LOGIN",
            Feature::TokenRefresh => "TOKEN_REFRESH",
            Feature::PasswordReset => "PASSWORD_RESET",
            Feature::PasswordChange => "PASSWORD_CHANGE",
            Feature::EmailChange => "EMAIL_CHANGE",
            Feature::WalletEmailAdd => "WALLET_EMAIL_ADD",
            Feature::SocialAuth => "SOCIAL_AUTH",
            Feature::PasskeyAuth => "PASSKEY_AUTH",
            Feature::Account => "ACCOUNT",
            Feature::Mfa => "MFA",
            Feature::Keys => "KEYS",
        }
    }

    /// The function (crate under `functions/`, and Lambda function) that serves this flag.
    pub fn function(self) -> &'static str {
        match self {
            Feature::Signup => "signup",
            Feature::BasicLogin => "login-basic",
            Feature::PasswordlessLogin => "login-passwordless",
            Feature::WalletLogin => "login-wallet",
            Feature::TokenRefresh => "token",
            Feature::PasswordReset => "password-reset",
            Feature::PasswordChange => "password-change",
            Feature::EmailChange => "email-change",
            Feature::WalletEmailAdd => "wallet-email",
            Feature::SocialAuth => "social",
            Feature::PasskeyAuth => "passkey",
            Feature::Account => "account",
            Feature::Mfa => "mfa",
            Feature::Keys => "keys",
        }
    }
}

impl FromStr for Feature {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Feature::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s))
            .ok_or(())
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `FEATURES`: the enabled features (default: all).
    pub features: BTreeSet<Feature>,
    /// `BASE_PATH`: where the routes live (default `/auth`).
    pub base_path: String,
    /// `TABLE_NAME`: the DynamoDB table.
    pub table_name: String,
    /// The rate limits (`REQUEST_*`, `SEND_*`, `LOGIN_FAILURE_*`).
    pub limits: Limits,
    /// One-time codes (`OTP_*`).
    pub codes: CodeSettings,
    /// Tokens and how protected routes take them (`*_TOKEN_*`, `ALGORITHM`, `TOKEN_*`,
    /// `AUTH_HEADER_NAME`).
    pub session: SessionSettings,
    /// `EMAIL_FROM`: the sender of every mail.
    pub email_from: String,
    /// `SES_CONFIGURATION_SET`: the SES configuration set every mail names (Lambda, with
    /// `DELIVERY` SES); none: SES's defaults.
    pub ses_configuration_set: Option<String>,
    /// `PRODUCT_NAME`: how mails name the product.
    pub product_name: String,
    /// `SIGNING_KEY_SECRET`: the Secrets Manager secret holding the signing key (Lambda).
    pub signing_key_secret: Option<String>,
    /// `PASSWORD_VALIDATORS` and `PASSWORD_MIN_LENGTH`.
    pub password_policy: PasswordPolicy,
    /// `PASSWORDLESS_AUTO_CREATE`: a passwordless login of an unknown identifier creates it.
    pub passwordless_auto_create: bool,
    /// `TEMPLATES_DIR`: a folder whose files override the built-in message templates.
    pub templates: Templates,
    /// Sign-In with Ethereum (`WALLET_*`).
    pub wallet: WalletSettings,
    /// Social login (`AUTH_PROVIDERS`, `SOCIAL_*`).
    pub social: SocialSettings,
    /// Passkeys (`PASSKEY_*`).
    pub passkey: PasskeySettings,
    /// Custom claims and their hook (`CUSTOM_CLAIMS`, `CLAIMS_*`).
    pub claims: ClaimsSettings,
    /// How messages leave (`DELIVERY`, `DELIVERY_*`, `MESSAGE_LOCALE`).
    pub delivery: DeliverySettings,
    /// Lifecycle events (`EVENT_BUS`, `EVENT_SOURCE`).
    pub events: EventSettings,
    /// The second factor (`MFA_TOKEN_TTL`, `TOTP_*`, `STEPUP_AUDIENCES`).
    pub mfa: MfaSettings,
    /// `WEBHOOK_SECRET`: signs what is POSTed to a webhook (a claims hook or a delivery URL).
    pub webhook_secret: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            features: Feature::ALL.into_iter().collect(),
            base_path: "/auth".into(),
            table_name: "blockauth".into(),
            limits: Limits::default(),
            codes: CodeSettings::default(),
            session: SessionSettings::default(),
            email_from: "BlockAuth <no-reply@localhost>".into(),
            product_name: "BlockAuth".into(),
            signing_key_secret: None,
            ses_configuration_set: None,
            password_policy: PasswordPolicy::default(),
            passwordless_auto_create: true,
            templates: Templates::default(),
            wallet: WalletSettings::default(),
            social: SocialSettings::default(),
            passkey: PasskeySettings::default(),
            claims: ClaimsSettings::default(),
            delivery: DeliverySettings::default(),
            events: EventSettings::default(),
            mfa: MfaSettings::default(),
            webhook_secret: None,
        }
    }
}

const PREFIX: &str = "BLOCKAUTH_";

impl Settings {
    /// The names the settings themselves read; each section reads its own.
    const OWN_NAMES: [&'static str; 12] = [
        "FEATURES",
        "BASE_PATH",
        "TABLE_NAME",
        "EMAIL_FROM",
        "SES_CONFIGURATION_SET",
        "PRODUCT_NAME",
        "SIGNING_KEY_SECRET",
        "PASSWORD_VALIDATORS",
        "PASSWORD_MIN_LENGTH",
        "PASSWORDLESS_AUTO_CREATE",
        "TEMPLATES_DIR",
        "WEBHOOK_SECRET",
    ];

    /// Every name this model reads; anything else in a settings file is a mistake.
    pub fn names() -> Vec<&'static str> {
        [
            &Self::OWN_NAMES[..],
            Limits::NAMES,
            CodeSettings::NAMES,
            SessionSettings::NAMES,
            WalletSettings::NAMES,
            SocialSettings::NAMES,
            PasskeySettings::NAMES,
            ClaimsSettings::NAMES,
            DeliverySettings::NAMES,
            EventSettings::NAMES,
            MfaSettings::NAMES,
        ]
        .concat()
    }

    /// From `BLOCKAUTH_*` environment variables (Lambda).
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_values(&env_values())
    }

    /// From a TOML settings file, overridden by the environment (local server).
    pub fn from_file_and_env(toml_text: &str) -> Result<Self, SettingsError> {
        let mut values = file_values(toml_text)?;
        values.extend(env_values());
        Self::from_values(&values)
    }

    /// From values in their text form (`NAME` → text), defaults for the rest.
    pub fn from_values(values: &BTreeMap<String, String>) -> Result<Self, SettingsError> {
        let names = Self::names();
        if let Some(unknown) = values.keys().find(|k| !names.contains(&k.as_str())) {
            return Err(error(unknown, "unknown setting"));
        }
        let values = Values(values);
        let mut s = Settings::default();
        if let Some(v) = values.get("FEATURES") {
            s.features = list(v)
                .map(|f| {
                    f.parse()
                        .map_err(|_| error("FEATURES", &format!("unknown feature {f:?}")))
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = values.get("BASE_PATH") {
            let trimmed = v.trim_matches('/');
            if trimmed.is_empty() || trimmed.contains(|c: char| c.is_whitespace()) {
                return Err(error("BASE_PATH", "expected a path such as /auth"));
            }
            s.base_path = format!("/{trimmed}");
        }
        values.text("TABLE_NAME", &mut s.table_name)?;
        values.text("EMAIL_FROM", &mut s.email_from)?;
        values.text("PRODUCT_NAME", &mut s.product_name)?;
        if let Some(v) = values.get("SIGNING_KEY_SECRET").filter(|v| !v.is_empty()) {
            s.signing_key_secret = Some(v.to_owned());
        }
        if let Some(v) = values
            .get("SES_CONFIGURATION_SET")
            .filter(|v| !v.is_empty())
        {
            s.ses_configuration_set = Some(v.to_owned());
        }
        if let Some(v) = values.get("PASSWORD_VALIDATORS") {
            s.password_policy.validators = list(v)
                .map(|name| {
                    name.parse().map_err(|_| {
                        error(
                            "PASSWORD_VALIDATORS",
                            &format!("unknown validator {name:?}"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        values.number("PASSWORD_MIN_LENGTH", &mut s.password_policy.min_length, 1)?;
        values.boolean("PASSWORDLESS_AUTO_CREATE", &mut s.passwordless_auto_create)?;
        if let Some(v) = values.get("TEMPLATES_DIR").filter(|v| !v.is_empty()) {
            let dir = std::path::Path::new(v);
            if !dir.is_dir() {
                return Err(error("TEMPLATES_DIR", &format!("{v:?} is not a folder")));
            }
            s.templates = Templates::load(dir).map_err(|e| error("TEMPLATES_DIR", &e))?;
        }
        s.limits.read(&values)?;
        s.codes.read(&values)?;
        s.session.read(&values)?;
        s.wallet.read(&values)?;
        s.social.read(&values)?;
        s.passkey.read(&values)?;
        s.claims.read(&values)?;
        s.delivery.read(&values)?;
        s.events.read(&values)?;
        s.mfa.read(&values)?;
        if let Some(v) = values.get("WEBHOOK_SECRET").filter(|v| !v.is_empty()) {
            if v.len() < 32 {
                return Err(error("WEBHOOK_SECRET", "use at least 32 characters"));
            }
            s.webhook_secret = Some(v.to_owned());
        }
        let webhook = s.claims.hook.as_deref().is_some_and(crate::https::is_url)
            || s.delivery.delivery == Delivery::Webhook;
        if webhook && s.webhook_secret.is_none() {
            return Err(error(
                "WEBHOOK_SECRET",
                "a webhook (CLAIMS_HOOK or DELIVERY) needs a secret to sign its calls",
            ));
        }
        Ok(s)
    }

    /// Whether `feature` serves: listed in `FEATURES`, and for the published keys, tokens
    /// signed with an asymmetric algorithm (HS256's key is never published).
    pub fn enabled(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
            && (feature != Feature::Keys || self.session.algorithm.is_asymmetric())
    }
}

fn env_values() -> BTreeMap<String, String> {
    std::env::vars()
        .filter_map(|(k, v)| k.strip_prefix(PREFIX).map(|name| (name.to_owned(), v)))
        .collect()
}

/// A TOML file's values in the same text form as environment variables.
fn file_values(toml_text: &str) -> Result<BTreeMap<String, String>, SettingsError> {
    let table: toml::Table =
        toml::from_str(toml_text).map_err(|e| error("(settings file)", &e.to_string()))?;
    table
        .into_iter()
        .map(|(name, value)| {
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        toml::Value::String(s) => Ok(s.clone()),
                        _ => Err(error(&name, "expected a list of strings")),
                    })
                    .collect::<Result<Vec<_>, SettingsError>>()?
                    .join(","),
                _ => return Err(error(&name, "expected a string, number, boolean or list")),
            };
            Ok((name, text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_follow_the_seeds() {
        let s = Settings::from_values(&BTreeMap::new()).unwrap();
        assert_eq!(s.features.len(), Feature::ALL.len());
        assert_eq!((s.limits.request_limit, s.limits.request_window), (3, 30));
        assert_eq!(s.codes.validity, 60);
        assert_eq!(s.session.access_token_lifetime, 3600);
        assert_eq!(s.session.refresh_token_lifetime, 86400);
        assert!(s.session.rotate_refresh_tokens);
        assert_eq!(s.session.auth_header(), "authorization");
    }

    #[test]
    fn values_parse_from_text() {
        let s = Settings::from_values(&values(&[
            ("FEATURES", "SIGNUP, basic_login"),
            ("REQUEST_LIMIT", "10"),
            ("ROTATE_REFRESH_TOKENS", "false"),
            ("AUTH_HEADER_NAME", "HTTP_X_AUTH_TOKEN"),
            ("BASE_PATH", "api/auth/"),
        ]))
        .unwrap();
        assert_eq!(
            s.features,
            [Feature::Signup, Feature::BasicLogin].into_iter().collect()
        );
        assert_eq!(s.limits.request_limit, 10);
        assert!(!s.session.rotate_refresh_tokens);
        assert_eq!(s.session.auth_header(), "x-auth-token");
        assert_eq!(s.base_path, "/api/auth");
    }

    #[test]
    fn a_bad_value_names_the_setting() {
        for (name, value) in [
            ("REQUEST_LIMIT", "three"),
            ("REQUEST_LIMIT", "0"),
            ("FEATURES", "SIGNUP,TELEPORT"),
            ("ROTATE_REFRESH_TOKENS", "maybe"),
            ("ALGORITHM", "none"),
            ("AUTH_HEADER_NAME", "Authorization"),
            ("OTP_LENGTH", "12"),
            ("NO_SUCH_SETTING", "1"),
            ("SEND_LIMIT", "-1"),
            ("PASSWORDLESS_AUTO_CREATE", "sometimes"),
            ("TEMPLATES_DIR", "/no/such/folder"),
            ("WALLET_CHAIN_IDS", "1,mainnet"),
            ("WALLET_CHAIN_IDS", " , "),
            ("WALLET_NONCE_TTL", "0"),
        ]
        .into_iter()
        // EIP-4361's grammar checks these only where Sign-In with Ethereum is built in.
        .chain(
            cfg!(feature = "wallet")
                .then_some([
                    ("WALLET_DOMAIN", "https://app.example.com"),
                    ("WALLET_URI", "app.example.com"),
                ])
                .into_iter()
                .flatten(),
        ) {
            let Err(err) = Settings::from_values(&values(&[(name, value)])) else {
                panic!("{name}={value} was accepted");
            };
            assert_eq!(err.name, name, "{value}");
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn a_settings_file_uses_the_same_names() {
        let s = Settings::from_file_and_env(
            "FEATURES = [\"SIGNUP\", \"TOKEN_REFRESH\"]\nOTP_VALIDITY = 120\nROTATE_REFRESH_TOKENS = true\n",
        )
        .unwrap();
        assert_eq!(s.codes.validity, 120);
        assert!(s.enabled(Feature::TokenRefresh));
        assert!(!s.enabled(Feature::BasicLogin));
        let err = Settings::from_file_and_env("REQUEST_LIMIT = \"x\"").unwrap_err();
        assert_eq!(err.name, "REQUEST_LIMIT");
    }
}

//! The one settings model, with the seeds' names.
//!
//! In Lambda every setting comes from an environment variable `BLOCKAUTH_<NAME>`; the local
//! server also reads a TOML file with the same names, which the environment overrides.
//! A bad value stops start-up with a message naming the setting.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use crate::mail::templates::Templates;
use crate::password::PasswordPolicy;
#[cfg(feature = "wallet")]
use crate::wallet::siwe;

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
}

impl Feature {
    pub const ALL: [Feature; 11] = [
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
    /// `REQUEST_LIMIT` requests per `REQUEST_WINDOW` seconds per (identifier, subject, IP).
    pub request_limit: u32,
    pub request_window: u64,
    /// `OTP_VALIDITY` seconds, `OTP_LENGTH` digits, `OTP_MAX_ATTEMPTS` wrong tries.
    pub otp_validity: u64,
    pub otp_length: u32,
    pub otp_max_attempts: u32,
    /// Lifetimes in seconds.
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
    /// `EMAIL_FROM`: the sender of every mail.
    pub email_from: String,
    /// `PRODUCT_NAME`: how mails name the product.
    pub product_name: String,
    /// `SIGNING_KEY_SECRET`: the Secrets Manager secret holding the signing key (Lambda).
    pub signing_key_secret: Option<String>,
    /// `PASSWORD_VALIDATORS` and `PASSWORD_MIN_LENGTH`.
    pub password_policy: PasswordPolicy,
    /// `PASSWORDLESS_AUTO_CREATE`: a passwordless login of an unknown identifier creates it.
    pub passwordless_auto_create: bool,
    /// `SEND_LIMIT` messages per `SEND_WINDOW` seconds to one identifier asked for from one
    /// client network, and `SEND_TOTAL_LIMIT` from all networks together (mail bombing).
    pub send_limit: u32,
    pub send_total_limit: u32,
    pub send_window: u64,
    /// `LOGIN_FAILURE_LIMIT` failed password logins per `LOGIN_FAILURE_WINDOW` seconds for
    /// one identifier from one client network, and `LOGIN_FAILURE_TOTAL_LIMIT` from every
    /// network the account never signed in from, together.
    pub login_failure_limit: u32,
    pub login_failure_total_limit: u32,
    pub login_failure_window: u64,
    /// `TEMPLATES_DIR`: a folder whose files override the built-in message templates.
    pub templates: Templates,
    /// `WALLET_DOMAIN`: the RFC 3986 authority of the site that asks for the signature; a
    /// Sign-In with Ethereum message for any other domain is refused.
    pub wallet_domain: String,
    /// `WALLET_URI`: the URI that messages must name (its scheme, when a message has one).
    pub wallet_uri: String,
    /// `WALLET_CHAIN_IDS`: the chains a message may name; challenges default to the first.
    pub wallet_chain_ids: Vec<u64>,
    /// `WALLET_NONCE_TTL`: seconds a challenge's nonce stays usable.
    pub wallet_nonce_ttl: u64,
    /// `WALLET_LOGIN_AUTO_CREATE`: a wallet login of an unknown address creates its account.
    pub wallet_login_auto_create: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            features: Feature::ALL.into_iter().collect(),
            base_path: "/auth".into(),
            table_name: "blockauth".into(),
            request_limit: 3,
            request_window: 30,
            otp_validity: 60,
            otp_length: 6,
            otp_max_attempts: 5,
            access_token_lifetime: 3600,
            refresh_token_lifetime: 86400,
            rotate_refresh_tokens: true,
            algorithm: "HS256".into(),
            token_issuer: "blockauth".into(),
            token_audience: "blockauth".into(),
            auth_header_name: "HTTP_AUTHORIZATION".into(),
            email_from: "BlockAuth <no-reply@localhost>".into(),
            product_name: "BlockAuth".into(),
            signing_key_secret: None,
            password_policy: PasswordPolicy::default(),
            passwordless_auto_create: true,
            send_limit: 5,
            send_total_limit: 20,
            send_window: 3600,
            login_failure_limit: 20,
            login_failure_total_limit: 100,
            login_failure_window: 3600,
            templates: Templates::default(),
            wallet_domain: "localhost:3000".into(),
            wallet_uri: "http://localhost:3000".into(),
            wallet_chain_ids: vec![1],
            wallet_nonce_ttl: 300,
            wallet_login_auto_create: true,
        }
    }
}

/// A setting that could not be read: names it and says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub name: String,
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting {}: {}", self.name, self.message)
    }
}

impl std::error::Error for SettingsError {}

const PREFIX: &str = "BLOCKAUTH_";

impl Settings {
    /// Every name this model reads; anything else in a settings file is a mistake.
    pub const NAMES: [&'static str; 33] = [
        "FEATURES",
        "BASE_PATH",
        "TABLE_NAME",
        "REQUEST_LIMIT",
        "REQUEST_WINDOW",
        "OTP_VALIDITY",
        "OTP_LENGTH",
        "OTP_MAX_ATTEMPTS",
        "ACCESS_TOKEN_LIFETIME",
        "REFRESH_TOKEN_LIFETIME",
        "ROTATE_REFRESH_TOKENS",
        "ALGORITHM",
        "TOKEN_ISSUER",
        "TOKEN_AUDIENCE",
        "AUTH_HEADER_NAME",
        "EMAIL_FROM",
        "PRODUCT_NAME",
        "SIGNING_KEY_SECRET",
        "PASSWORD_VALIDATORS",
        "PASSWORD_MIN_LENGTH",
        "PASSWORDLESS_AUTO_CREATE",
        "SEND_LIMIT",
        "SEND_TOTAL_LIMIT",
        "SEND_WINDOW",
        "LOGIN_FAILURE_LIMIT",
        "LOGIN_FAILURE_TOTAL_LIMIT",
        "LOGIN_FAILURE_WINDOW",
        "TEMPLATES_DIR",
        "WALLET_DOMAIN",
        "WALLET_URI",
        "WALLET_CHAIN_IDS",
        "WALLET_NONCE_TTL",
        "WALLET_LOGIN_AUTO_CREATE",
    ];

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
        if let Some(unknown) = values.keys().find(|k| !Self::NAMES.contains(&k.as_str())) {
            return Err(error(unknown, "unknown setting"));
        }
        let mut s = Settings::default();
        let get = |name: &str| values.get(name).map(|v| v.trim());
        if let Some(v) = get("FEATURES") {
            s.features = list(v)
                .map(|f| {
                    f.parse()
                        .map_err(|_| error("FEATURES", &format!("unknown feature {f:?}")))
                })
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = get("BASE_PATH") {
            let trimmed = v.trim_matches('/');
            if trimmed.is_empty() || trimmed.contains(|c: char| c.is_whitespace()) {
                return Err(error("BASE_PATH", "expected a path such as /auth"));
            }
            s.base_path = format!("/{trimmed}");
        }
        text(&get, "TABLE_NAME", &mut s.table_name)?;
        number(&get, "REQUEST_LIMIT", &mut s.request_limit, 1)?;
        number(&get, "REQUEST_WINDOW", &mut s.request_window, 1)?;
        number(&get, "OTP_VALIDITY", &mut s.otp_validity, 1)?;
        number(&get, "OTP_LENGTH", &mut s.otp_length, 4)?;
        if s.otp_length > 10 {
            return Err(error("OTP_LENGTH", "expected 4 to 10 digits"));
        }
        number(&get, "OTP_MAX_ATTEMPTS", &mut s.otp_max_attempts, 1)?;
        number(
            &get,
            "ACCESS_TOKEN_LIFETIME",
            &mut s.access_token_lifetime,
            1,
        )?;
        number(
            &get,
            "REFRESH_TOKEN_LIFETIME",
            &mut s.refresh_token_lifetime,
            1,
        )?;
        if let Some(v) = get("ROTATE_REFRESH_TOKENS") {
            s.rotate_refresh_tokens = boolean("ROTATE_REFRESH_TOKENS", v)?;
        }
        text(&get, "ALGORITHM", &mut s.algorithm)?;
        if s.algorithm != "HS256" {
            return Err(error("ALGORITHM", "only HS256 is supported"));
        }
        text(&get, "TOKEN_ISSUER", &mut s.token_issuer)?;
        text(&get, "TOKEN_AUDIENCE", &mut s.token_audience)?;
        text(&get, "AUTH_HEADER_NAME", &mut s.auth_header_name)?;
        if !s.auth_header_name.starts_with("HTTP_") {
            return Err(error(
                "AUTH_HEADER_NAME",
                "expected Django's META spelling, e.g. HTTP_AUTHORIZATION",
            ));
        }
        text(&get, "EMAIL_FROM", &mut s.email_from)?;
        text(&get, "PRODUCT_NAME", &mut s.product_name)?;
        if let Some(v) = get("SIGNING_KEY_SECRET").filter(|v| !v.is_empty()) {
            s.signing_key_secret = Some(v.to_owned());
        }
        if let Some(v) = get("PASSWORD_VALIDATORS") {
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
        number(
            &get,
            "PASSWORD_MIN_LENGTH",
            &mut s.password_policy.min_length,
            1,
        )?;
        if let Some(v) = get("PASSWORDLESS_AUTO_CREATE") {
            s.passwordless_auto_create = boolean("PASSWORDLESS_AUTO_CREATE", v)?;
        }
        number(&get, "SEND_LIMIT", &mut s.send_limit, 1)?;
        number(&get, "SEND_TOTAL_LIMIT", &mut s.send_total_limit, 1)?;
        number(&get, "SEND_WINDOW", &mut s.send_window, 1)?;
        number(&get, "LOGIN_FAILURE_LIMIT", &mut s.login_failure_limit, 1)?;
        number(
            &get,
            "LOGIN_FAILURE_TOTAL_LIMIT",
            &mut s.login_failure_total_limit,
            1,
        )?;
        number(&get, "LOGIN_FAILURE_WINDOW", &mut s.login_failure_window, 1)?;
        if let Some(v) = get("TEMPLATES_DIR").filter(|v| !v.is_empty()) {
            let dir = std::path::Path::new(v);
            if !dir.is_dir() {
                return Err(error("TEMPLATES_DIR", &format!("{v:?} is not a folder")));
            }
            s.templates = Templates::load(dir).map_err(|e| error("TEMPLATES_DIR", &e))?;
        }
        text(&get, "WALLET_DOMAIN", &mut s.wallet_domain)?;
        text(&get, "WALLET_URI", &mut s.wallet_uri)?;
        // Checked where Sign-In with Ethereum is built in (the only function that reads them).
        #[cfg(feature = "wallet")]
        check_wallet_urls(&s)?;
        if let Some(v) = get("WALLET_CHAIN_IDS") {
            s.wallet_chain_ids = list(v)
                .map(|id| {
                    id.parse().map_err(|_| {
                        error("WALLET_CHAIN_IDS", &format!("{id:?} is not a chain ID"))
                    })
                })
                .collect::<Result<_, _>>()?;
            if s.wallet_chain_ids.is_empty() {
                return Err(error("WALLET_CHAIN_IDS", "name at least one chain ID"));
            }
        }
        number(&get, "WALLET_NONCE_TTL", &mut s.wallet_nonce_ttl, 1)?;
        if let Some(v) = get("WALLET_LOGIN_AUTO_CREATE") {
            s.wallet_login_auto_create = boolean("WALLET_LOGIN_AUTO_CREATE", v)?;
        }
        Ok(s)
    }

    pub fn enabled(&self, feature: Feature) -> bool {
        self.features.contains(&feature)
    }

    /// The HTTP header `AUTH_HEADER_NAME` means: `HTTP_X_AUTH_TOKEN` → `x-auth-token`.
    pub fn auth_header(&self) -> String {
        self.auth_header_name["HTTP_".len()..]
            .to_ascii_lowercase()
            .replace('_', "-")
    }
}

fn error(name: &str, message: &str) -> SettingsError {
    SettingsError {
        name: name.to_owned(),
        message: message.to_owned(),
    }
}

fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn text<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    name: &str,
    slot: &mut String,
) -> Result<(), SettingsError> {
    if let Some(v) = get(name) {
        if v.is_empty() {
            return Err(error(name, "must not be empty"));
        }
        *slot = v.to_owned();
    }
    Ok(())
}

/// `WALLET_DOMAIN` and `WALLET_URI` as EIP-4361's grammar wants them.
#[cfg(feature = "wallet")]
fn check_wallet_urls(s: &Settings) -> Result<(), SettingsError> {
    if !siwe::is_authority(&s.wallet_domain) {
        return Err(error(
            "WALLET_DOMAIN",
            "expected a host with an optional port, e.g. app.example.com",
        ));
    }
    if !siwe::is_uri(&s.wallet_uri) {
        return Err(error(
            "WALLET_URI",
            "expected an absolute URI, e.g. https://app.example.com",
        ));
    }
    Ok(())
}

fn number<'a, T: FromStr + PartialOrd + fmt::Display + Copy>(
    get: &impl Fn(&str) -> Option<&'a str>,
    name: &str,
    slot: &mut T,
    min: T,
) -> Result<(), SettingsError> {
    if let Some(v) = get(name) {
        let parsed: T = v
            .parse()
            .map_err(|_| error(name, &format!("expected a whole number, got {v:?}")))?;
        if parsed < min {
            return Err(error(name, &format!("must be at least {min}")));
        }
        *slot = parsed;
    }
    Ok(())
}

fn boolean(name: &str, v: &str) -> Result<bool, SettingsError> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(error(name, &format!("expected true or false, got {v:?}"))),
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
        assert_eq!((s.request_limit, s.request_window), (3, 30));
        assert_eq!(s.otp_validity, 60);
        assert_eq!(s.access_token_lifetime, 3600);
        assert_eq!(s.refresh_token_lifetime, 86400);
        assert!(s.rotate_refresh_tokens);
        assert_eq!(s.auth_header(), "authorization");
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
        assert_eq!(s.request_limit, 10);
        assert!(!s.rotate_refresh_tokens);
        assert_eq!(s.auth_header(), "x-auth-token");
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
            ("WALLET_DOMAIN", "https://app.example.com"),
            ("WALLET_URI", "app.example.com"),
            ("WALLET_CHAIN_IDS", "1,mainnet"),
            ("WALLET_CHAIN_IDS", " , "),
            ("WALLET_NONCE_TTL", "0"),
        ] {
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
        assert_eq!(s.otp_validity, 120);
        assert!(s.enabled(Feature::TokenRefresh));
        assert!(!s.enabled(Feature::BasicLogin));
        let err = Settings::from_file_and_env("REQUEST_LIMIT = \"x\"").unwrap_err();
        assert_eq!(err.name, "REQUEST_LIMIT");
    }
}

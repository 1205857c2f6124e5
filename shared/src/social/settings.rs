//! Social login's settings section: the providers (`AUTH_PROVIDERS`) and where a finished
//! sign-in goes (`SOCIAL_SUCCESS_REDIRECT`, `SOCIAL_REDIRECT_ALLOWLIST`). In every function,
//! since every function reads every setting.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::settings::read::{Section, SettingsError, Values, error, list};

/// Social login's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SocialSettings {
    /// `AUTH_PROVIDERS`: each configured provider, by the name its routes use (`google`).
    pub providers: BTreeMap<String, Provider>,
    /// `SOCIAL_SUCCESS_REDIRECT`: where the browser goes after a sign-in, with a one-time
    /// `code` (or an `error`) in the query. Without it the callback answers with tokens.
    pub success_redirect: Option<String>,
    /// `SOCIAL_REDIRECT_ALLOWLIST`: the only URLs a sign-in's `next` may name (exact
    /// matches, comma-separated); any other `next` is refused, so the API is never an open
    /// redirect.
    pub redirect_allowlist: Vec<String>,
}

/// What kind of provider an `AUTH_PROVIDERS` entry is: the name says it for the four known
/// ones; any other name is an OpenID Connect issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    Google,
    LinkedIn,
    /// OAuth 2.0 without ID tokens: the person is read from the Graph API.
    Facebook,
    /// OpenID Connect whose callback is a `form_post` (a cross-site POST), whose client
    /// secret is a short-lived JWT signed with the deployer's key, and which sends the
    /// person's name once, at their first authorization.
    Apple,
    OpenIdConnect,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 5] = [
        ProviderKind::Google,
        ProviderKind::LinkedIn,
        ProviderKind::Facebook,
        ProviderKind::Apple,
        ProviderKind::OpenIdConnect,
    ];

    /// The kind whose `sign_in_name` is `name`.
    pub fn named(name: &str) -> Option<ProviderKind> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.sign_in_name() == name)
    }

    /// As `authentication_types` lists it.
    pub fn sign_in_name(self) -> &'static str {
        match self {
            ProviderKind::Google => "GOOGLE",
            ProviderKind::LinkedIn => "LINKEDIN",
            ProviderKind::Facebook => "FACEBOOK",
            ProviderKind::Apple => "APPLE",
            ProviderKind::OpenIdConnect => "OIDC",
        }
    }
}

/// One provider, as configured (URLs left out default to the provider's real ones, or come
/// from the issuer's discovery document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// The name in its routes: `google` for `GOOGLE`.
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    /// `CLIENT_SECRET` (local use), or in Lambda the secret read from `CLIENT_SECRET_NAME`
    /// at start. Apple's is its `.p8` private key (PEM, `PRIVATE_KEY` or
    /// `PRIVATE_KEY_NAME`), which signs the client secret of each code exchange.
    pub client_secret: String,
    /// `CLIENT_SECRET_NAME` (Apple: `PRIVATE_KEY_NAME`): the Secrets Manager secret (under
    /// `blockauth/social/`) that holds the client secret, read once per container; Lambda
    /// takes no other.
    pub client_secret_name: Option<String>,
    /// Apple's `TEAM_ID` and `KEY_ID`: who signs the client secret, with which key.
    pub signer: Option<AppleSigner>,
    /// This API's callback as registered with the provider: `https://.../auth/google/callback/`.
    pub redirect_uri: String,
    pub issuer: String,
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub jwks_url: Option<String>,
    /// Where the person is read with the access token (Facebook's Graph API `/me`).
    pub userinfo_url: Option<String>,
    pub scopes: Vec<String>,
    /// `NATIVE_CLIENT_IDS`: the mobile apps' client ids whose ID tokens
    /// `{provider}/native/verify/` takes (none: no such route for this provider).
    pub native_client_ids: Vec<String>,
    /// `LINK_BY_EMAIL`: a first sign-in may join the account that has the provider's
    /// (verified) email. On by default for Google only: other providers let users set an
    /// unverified or changeable email.
    pub link_by_email: bool,
}

/// Apple's developer team and the id of the `.p8` key that signs client secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppleSigner {
    pub team_id: String,
    pub key_id: String,
}

impl Provider {
    /// The setting that names this provider's secret in Secrets Manager.
    pub fn secret_name_setting(&self) -> &'static str {
        match self.kind {
            ProviderKind::Apple => "PRIVATE_KEY_NAME",
            _ => "CLIENT_SECRET_NAME",
        }
    }

    /// Whether the `{provider}` route `template` (as an `Operation` declares it) answers
    /// `method` for this provider: Apple's callback is a POST (its `form_post`), every
    /// other one a GET; `native/verify/` only where mobile apps are configured.
    pub fn serves(&self, method: &str, template: &str) -> bool {
        let apple = self.kind == ProviderKind::Apple;
        match (method, template.trim_matches('/')) {
            ("get", "{provider}/callback") => !apple,
            ("post", "{provider}/callback") => apple,
            ("post", "{provider}/native/verify") => {
                !self.native_client_ids.is_empty() && self.kind != ProviderKind::Facebook
            }
            _ => true,
        }
    }
}

const NAMES: [&str; 3] = [
    "AUTH_PROVIDERS",
    "SOCIAL_SUCCESS_REDIRECT",
    "SOCIAL_REDIRECT_ALLOWLIST",
];

impl Section for SocialSettings {
    const NAMES: &'static [&'static str] = &NAMES;

    fn read(&mut self, values: &Values) -> Result<(), SettingsError> {
        if let Some(v) = values
            .get("AUTH_PROVIDERS")
            .filter(|v| !v.trim().is_empty())
        {
            let parsed: BTreeMap<String, Value> = serde_json::from_str(v)
                .map_err(|e| error("AUTH_PROVIDERS", &format!("expected a JSON object: {e}")))?;
            self.providers = parsed
                .iter()
                .map(|(name, entry)| provider(name, entry).map(|p| (p.name.clone(), p)))
                .collect::<Result<_, _>>()?;
        }
        if let Some(v) = values
            .get("SOCIAL_SUCCESS_REDIRECT")
            .filter(|v| !v.is_empty())
        {
            if !is_web_url(v) {
                return Err(error("SOCIAL_SUCCESS_REDIRECT", "expected an http(s) URL"));
            }
            self.success_redirect = Some(v.to_owned());
        }
        if let Some(v) = values.get("SOCIAL_REDIRECT_ALLOWLIST") {
            self.redirect_allowlist = list(v).map(str::to_owned).collect();
            if let Some(bad) = self.redirect_allowlist.iter().find(|u| !is_web_url(u)) {
                return Err(error(
                    "SOCIAL_REDIRECT_ALLOWLIST",
                    &format!("{bad:?} is not an http(s) URL"),
                ));
            }
        }
        Ok(())
    }
}

fn is_web_url(text: &str) -> bool {
    (text.starts_with("https://") || text.starts_with("http://"))
        && !text.contains(|c: char| c.is_whitespace() || c.is_control())
}

/// One `AUTH_PROVIDERS` entry: `"GOOGLE": {"CLIENT_ID": ..., "CLIENT_SECRET" (or
/// "CLIENT_SECRET_NAME"): ...,
/// "REDIRECT_URI": ..., and optionally "ISSUER", "AUTHORIZE_URL", "TOKEN_URL", "JWKS_URL",
/// "SCOPES", "LINK_BY_EMAIL"}`; Apple's takes "TEAM_ID", "KEY_ID" and "PRIVATE_KEY" (or
/// "PRIVATE_KEY_NAME") in place of a client secret.
fn provider(key: &str, entry: &Value) -> Result<Provider, SettingsError> {
    let setting = format!("AUTH_PROVIDERS.{key}");
    let fail = |message: &str| error(&setting, message);
    let name = key.to_ascii_lowercase();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(fail("a provider's name is letters, digits and hyphens"));
    }
    // A provider's routes sit beside every other route's first segment.
    const RESERVED: [&str; 11] = [
        "signup", "login", "token", "password", "email", "wallet", "social", "passkey", "me",
        "sessions", "totp",
    ];
    if RESERVED.contains(&name.as_str()) {
        return Err(fail("this name is taken by other routes"));
    }
    let Value::Object(fields) = entry else {
        return Err(fail("expected a JSON object"));
    };
    let known = [
        "CLIENT_ID",
        "CLIENT_SECRET",
        "CLIENT_SECRET_NAME",
        "REDIRECT_URI",
        "ISSUER",
        "AUTHORIZE_URL",
        "TOKEN_URL",
        "JWKS_URL",
        "USERINFO_URL",
        "NATIVE_CLIENT_IDS",
        "SCOPES",
        "LINK_BY_EMAIL",
        "TEAM_ID",
        "KEY_ID",
        "PRIVATE_KEY",
        "PRIVATE_KEY_NAME",
    ];
    if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(fail(&format!("unknown field {unknown:?}")));
    }
    let text = |field: &str| -> Result<Option<String>, SettingsError> {
        match fields.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some(_) => Err(fail(&format!("{field} must be non-empty text"))),
        }
    };
    let url = |field: &str| -> Result<Option<String>, SettingsError> {
        match text(field)? {
            Some(u) if !is_web_url(&u) => Err(fail(&format!("{field} must be an http(s) URL"))),
            other => Ok(other),
        }
    };
    let required = |field: &str| text(field)?.ok_or_else(|| fail(&format!("{field} is required")));
    let (kind, issuer, scopes, link_by_email) = match name.as_str() {
        "google" => (
            ProviderKind::Google,
            "https://accounts.google.com",
            "openid email profile",
            true,
        ),
        "linkedin" => (
            ProviderKind::LinkedIn,
            "https://www.linkedin.com/oauth",
            "openid email profile",
            false,
        ),
        "facebook" => (
            ProviderKind::Facebook,
            "https://www.facebook.com",
            "email,public_profile",
            false,
        ),
        "apple" => (
            ProviderKind::Apple,
            "https://appleid.apple.com",
            "name email",
            false,
        ),
        _ => (
            ProviderKind::OpenIdConnect,
            "",
            "openid email profile",
            false,
        ),
    };
    if kind == ProviderKind::Facebook
        && (url("AUTHORIZE_URL")?.is_none() != url("TOKEN_URL")?.is_none())
    {
        return Err(fail("give both AUTHORIZE_URL and TOKEN_URL, or neither"));
    }
    let issuer = match url("ISSUER")? {
        Some(issuer) => issuer,
        None if !issuer.is_empty() => issuer.to_owned(),
        None => return Err(fail("ISSUER is required for an OpenID Connect provider")),
    };
    let redirect_uri = required("REDIRECT_URI")?;
    if !is_web_url(&redirect_uri) {
        return Err(fail("REDIRECT_URI must be an http(s) URL"));
    }
    let link_by_email = match fields.get("LINK_BY_EMAIL") {
        None | Some(Value::Null) => link_by_email,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(fail("LINK_BY_EMAIL must be true or false")),
    };
    // Apple has no client secret to configure: it is signed with the deployer's key.
    let (secret, secret_name, signer) = if kind == ProviderKind::Apple {
        let signer = AppleSigner {
            team_id: required("TEAM_ID")?,
            key_id: required("KEY_ID")?,
        };
        ("PRIVATE_KEY", "PRIVATE_KEY_NAME", Some(signer))
    } else {
        ("CLIENT_SECRET", "CLIENT_SECRET_NAME", None)
    };
    let (client_secret, client_secret_name) = match (text(secret)?, text(secret_name)?) {
        (Some(secret), None) => (secret, None),
        (None, Some(name)) => (String::new(), Some(name)),
        _ => {
            return Err(fail(&format!(
                "give exactly one of {secret} and {secret_name}"
            )));
        }
    };
    let apple_only = ["TEAM_ID", "KEY_ID", "PRIVATE_KEY", "PRIVATE_KEY_NAME"];
    if let Some(field) = apple_only
        .iter()
        .find(|f| signer.is_none() && fields.contains_key(**f))
    {
        return Err(fail(&format!("{field} is for Apple only")));
    }
    Ok(Provider {
        kind,
        client_id: required("CLIENT_ID")?,
        client_secret,
        client_secret_name,
        signer,
        redirect_uri,
        issuer,
        authorize_url: url("AUTHORIZE_URL")?,
        token_url: url("TOKEN_URL")?,
        jwks_url: url("JWKS_URL")?,
        userinfo_url: match (kind, url("USERINFO_URL")?) {
            (_, Some(url)) => Some(url),
            (ProviderKind::Facebook, None) => {
                Some("https://graph.facebook.com/v19.0/me?fields=id,name,email".into())
            }
            (_, None) => None,
        },
        native_client_ids: text("NATIVE_CLIENT_IDS")?
            .as_deref()
            .map(|ids| list(ids).map(str::to_owned).collect())
            .unwrap_or_default(),
        scopes: text("SCOPES")?
            .as_deref()
            .unwrap_or(scopes)
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        link_by_email,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(providers: &str) -> Result<SocialSettings, SettingsError> {
        let values: BTreeMap<String, String> =
            [("AUTH_PROVIDERS".to_owned(), providers.to_owned())].into();
        let mut settings = SocialSettings::default();
        settings.read(&Values(&values))?;
        Ok(settings)
    }

    #[test]
    fn google_gets_its_defaults_and_links_by_email() {
        let settings = read(
            r#"{"GOOGLE": {"CLIENT_ID": "id", "CLIENT_SECRET": "s",
                "REDIRECT_URI": "https://api.example.com/auth/google/callback/"}}"#,
        )
        .unwrap();
        let google = &settings.providers["google"];
        assert_eq!(google.kind, ProviderKind::Google);
        assert_eq!(google.issuer, "https://accounts.google.com");
        assert!(google.link_by_email);
        assert_eq!(google.scopes, ["openid", "email", "profile"]);
    }

    #[test]
    fn any_other_name_is_an_issuer_that_never_links_by_default() {
        let settings = read(
            r#"{"OKTA": {"CLIENT_ID": "id", "CLIENT_SECRET": "s", "ISSUER": "https://example.okta.com",
                "REDIRECT_URI": "https://api.example.com/auth/okta/callback/"}}"#,
        )
        .unwrap();
        assert_eq!(settings.providers["okta"].kind, ProviderKind::OpenIdConnect);
        assert!(!settings.providers["okta"].link_by_email);
    }

    #[test]
    fn apple_signs_its_client_secret_and_never_links_by_default() {
        let settings = read(
            r#"{"APPLE": {"CLIENT_ID": "com.example.web", "TEAM_ID": "T", "KEY_ID": "K",
                "PRIVATE_KEY_NAME": "blockauth/social/apple",
                "REDIRECT_URI": "https://api.example.com/auth/apple/callback/"}}"#,
        )
        .unwrap();
        let apple = &settings.providers["apple"];
        assert_eq!(apple.kind, ProviderKind::Apple);
        assert_eq!(apple.issuer, "https://appleid.apple.com");
        assert_eq!(apple.scopes, ["name", "email"]);
        assert!(!apple.link_by_email);
        assert_eq!(apple.secret_name_setting(), "PRIVATE_KEY_NAME");
        assert_eq!(
            apple.client_secret_name.as_deref(),
            Some("blockauth/social/apple")
        );
        assert_eq!(apple.signer.as_ref().unwrap().team_id, "T");
        // Its callback is a POST; the GET is every other provider's.
        assert!(apple.serves("post", "{provider}/callback"));
        assert!(!apple.serves("get", "{provider}/callback"));
        assert!(!apple.serves("post", "{provider}/native/verify"));
    }

    #[test]
    fn mistakes_name_the_provider() {
        for bad in [
            r#"{"OKTA": {"CLIENT_ID": "id", "CLIENT_SECRET": "s", "REDIRECT_URI": "https://a.b/c"}}"#,
            r#"{"GOOGLE": {"CLIENT_ID": "id", "REDIRECT_URI": "https://a.b/c"}}"#,
            r#"{"GOOGLE": {"CLIENT_ID": "id", "CLIENT_SECRET": "s", "REDIRECT_URI": "https://a.b/c", "TYPO": 1}}"#,
            r#"{"GOOGLE": {"CLIENT_ID": "id", "CLIENT_SECRET": "s", "REDIRECT_URI": "ftp://a.b/c"}}"#,
            r#"{"GO OGLE": {}}"#,
            r#"{"APPLE": {"CLIENT_ID": "id", "CLIENT_SECRET": "s", "REDIRECT_URI": "https://a.b/c"}}"#,
            r#"{"APPLE": {"CLIENT_ID": "id", "KEY_ID": "K", "PRIVATE_KEY": "p", "REDIRECT_URI": "https://a.b/c"}}"#,
            r#"{"GOOGLE": {"CLIENT_ID": "id", "CLIENT_SECRET": "s", "TEAM_ID": "T", "REDIRECT_URI": "https://a.b/c"}}"#,
            r#"{"SIGNUP": {"CLIENT_ID": "id", "CLIENT_SECRET": "s", "ISSUER": "https://a.b", "REDIRECT_URI": "https://a.b/c"}}"#,
            r#"[]"#,
        ] {
            let err = read(bad).unwrap_err();
            assert!(err.name.starts_with("AUTH_PROVIDERS"), "{bad}: {err}");
        }
    }
}

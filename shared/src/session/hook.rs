//! The claims settings and the hook's transport (what `claims` calls): a Lambda function
//! (invoked synchronously) in AWS, or an HTTP URL (a webhook: POSTed JSON, signed with
//! `WEBHOOK_SECRET`, see `signature`) locally; and what a hook may answer.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::AuthError;
use crate::aws::SdkConfig;
use crate::settings::read::{Section, SettingsError, Values, error};

/// Claims our tokens set themselves, which no custom claim may replace.
pub const RESERVED: [&str; 9] = [
    "user_id", "type", "jti", "iat", "exp", "sub", "iss", "aud", "sid",
];

/// The most a hook's answer (and `CUSTOM_CLAIMS`) may weigh, in bytes of JSON.
pub const HOOK_ANSWER_LIMIT: usize = 4096;

/// The version of what a hook is sent; a hook can refuse versions it does not know.
pub const HOOK_VERSION: u32 = 1;

/// The claims settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimsSettings {
    /// `CUSTOM_CLAIMS`: a JSON object added to every token.
    pub custom: Map<String, Value>,
    /// `CLAIMS_HOOK`: a Lambda function's name or ARN, or (locally) an http(s) URL.
    pub hook: Option<String>,
    /// `CLAIMS_HOOK_TIMEOUT`: milliseconds the hook may take.
    pub hook_timeout_ms: u64,
    /// `CLAIMS_ON_REFRESH`: a refresh asks the hook again (a Lambda call per refresh)
    /// rather than reusing the claims of the sign-in.
    pub on_refresh: bool,
}

impl Default for ClaimsSettings {
    fn default() -> Self {
        ClaimsSettings {
            custom: Map::new(),
            hook: None,
            hook_timeout_ms: 2000,
            on_refresh: false,
        }
    }
}

impl Section for ClaimsSettings {
    const NAMES: &'static [&'static str] = &[
        "CUSTOM_CLAIMS",
        "CLAIMS_HOOK",
        "CLAIMS_HOOK_TIMEOUT",
        "CLAIMS_ON_REFRESH",
    ];

    fn read(&mut self, values: &Values) -> Result<(), SettingsError> {
        if let Some(v) = values.get("CUSTOM_CLAIMS").filter(|v| !v.trim().is_empty()) {
            let claims: Value = serde_json::from_str(v)
                .map_err(|e| error("CUSTOM_CLAIMS", &format!("expected a JSON object: {e}")))?;
            self.custom = checked(claims).map_err(|why| error("CUSTOM_CLAIMS", why))?;
        }
        if let Some(v) = values.get("CLAIMS_HOOK").filter(|v| !v.trim().is_empty()) {
            self.hook = Some(v.trim().to_owned());
        }
        values.number("CLAIMS_HOOK_TIMEOUT", &mut self.hook_timeout_ms, 1)?;
        values.boolean("CLAIMS_ON_REFRESH", &mut self.on_refresh)
    }
}

/// `claims` as a map of custom claims, or why not: a JSON object, within the size limit,
/// naming no reserved claim.
pub fn checked(claims: Value) -> Result<Map<String, Value>, &'static str> {
    let Value::Object(claims) = claims else {
        return Err("claims must be a JSON object");
    };
    if serde_json::to_vec(&claims).map_or(usize::MAX, |v| v.len()) > HOOK_ANSWER_LIMIT {
        return Err("claims must be at most 4096 bytes of JSON");
    }
    if claims.keys().any(|k| RESERVED.contains(&k.as_str())) {
        return Err(
            "claims may not name a reserved claim (user_id, type, jti, iat, exp, sub, iss, aud, sid)",
        );
    }
    Ok(claims)
}

/// Where the hook runs.
pub enum ClaimsHook {
    /// No hook: the static claims only.
    None,
    /// A hook this build cannot call (a function built without `claims-hook` that never
    /// signs anyone in): a sign-in here would be a defect, answered 503.
    Unreachable,
    /// A Lambda function, invoked synchronously.
    #[cfg(feature = "claims-hook")]
    Lambda {
        aws: Box<SdkConfig>,
        function: String,
    },
    /// A URL the local server POSTs to.
    Webhook { url: String, secret: String },
}

impl ClaimsHook {
    /// The hook these settings name: a webhook for a URL; for a function name, a Lambda
    /// function reached with `aws` (None where this build has no AWS configuration for it).
    pub fn from_settings(
        settings: &ClaimsSettings,
        webhook_secret: Option<&str>,
        aws: Option<&SdkConfig>,
    ) -> Result<ClaimsHook, String> {
        let Some(hook) = &settings.hook else {
            return Ok(ClaimsHook::None);
        };
        if crate::https::is_url(hook) {
            return Ok(ClaimsHook::Webhook {
                url: hook.clone(),
                secret: webhook_secret.unwrap_or_default().to_owned(),
            });
        }
        match aws {
            #[cfg(feature = "claims-hook")]
            Some(aws) => Ok(ClaimsHook::Lambda {
                aws: Box::new(aws.clone()),
                function: hook.clone(),
            }),
            #[cfg(not(feature = "claims-hook"))]
            Some(_) => Ok(ClaimsHook::Unreachable),
            None => Err(format!(
                "setting CLAIMS_HOOK: {hook:?} names a Lambda function, which this build cannot \
                 call (locally, give a webhook's URL)"
            )),
        }
    }
}

/// Why a sign-in is 503: the hook did not say which claims to add.
pub fn hook_failed(why: &dyn std::fmt::Display) -> AuthError {
    AuthError::unavailable("claims hook", why)
}

impl ClaimsHook {
    /// Whether there is a hook to call.
    pub fn is_none(&self) -> bool {
        matches!(self, ClaimsHook::None)
    }

    /// Calls the hook with `request` within `timeout`: its answer's bytes.
    pub async fn call(&self, request: &Value, timeout: Duration) -> Result<Vec<u8>, AuthError> {
        let body = serde_json::to_vec(request).map_err(|e| hook_failed(&e))?;
        tokio::time::timeout(timeout, self.send(body, timeout))
            .await
            .map_err(|_| hook_failed(&"timed out"))?
    }

    async fn send(&self, body: Vec<u8>, timeout: Duration) -> Result<Vec<u8>, AuthError> {
        match self {
            ClaimsHook::None => Ok(br#"{"claims": {}}"#.to_vec()),
            ClaimsHook::Unreachable => Err(hook_failed(
                &"this function was built without the claims hook",
            )),
            #[cfg(feature = "claims-hook")]
            ClaimsHook::Lambda { aws, function } => {
                let response = crate::aws::invoke(aws, function, body, timeout)
                    .await
                    .map_err(|e| hook_failed(&e))?;
                Ok(response)
            }
            ClaimsHook::Webhook { url, secret } => {
                crate::https::webhook(url, secret, body, timeout)
                    .await
                    .map_err(|e| hook_failed(&e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reserved_oversized_and_non_object_claims_are_refused() {
        assert!(checked(json!({"tenant": "acme", "roles": ["admin"]})).is_ok());
        for bad in [
            json!({"sub": "someone-else"}),
            json!({"exp": 9_999_999_999_i64}),
            json!(["tenant"]),
            json!("tenant"),
            json!({"blob": "x".repeat(HOOK_ANSWER_LIMIT)}),
        ] {
            assert!(checked(bad.clone()).is_err(), "{bad}");
        }
    }
}

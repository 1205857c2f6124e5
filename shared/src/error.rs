//! The one error type of the API, and what each case means to a client.
//!
//! `http` turns it into a status code and a Django REST Framework-shaped body.

use std::collections::BTreeMap;
use std::fmt;

/// Field errors as DRF shows them: `{"email": ["Enter a valid email address."]}`.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthError {
    /// 400 with field errors.
    Invalid(FieldErrors),
    /// 400 with a detail and a machine code (a bad code, a body that is not JSON).
    BadRequest {
        code: &'static str,
        detail: &'static str,
    },
    /// 401: missing, invalid or expired credentials or token.
    Unauthorized {
        code: &'static str,
        detail: &'static str,
    },
    /// 403: valid credentials, but not allowed.
    Forbidden {
        code: &'static str,
        detail: &'static str,
    },
    /// 404: unknown or disabled route.
    NotFound,
    /// 405: the route exists, the method does not.
    MethodNotAllowed,
    /// 409: a conflict the caller can act on.
    Conflict {
        code: &'static str,
        detail: &'static str,
    },
    /// 413: the body is over the limit.
    PayloadTooLarge,
    /// 415: a body that is neither JSON nor a form, or has no `Content-Type`.
    UnsupportedMediaType,
    /// 429: throttled; the client may retry after this many seconds.
    Throttled { retry_after: u64 },
    /// 502: a sign-in provider failed or answered what OAuth does not allow.
    BadGateway {
        code: &'static str,
        detail: &'static str,
    },
    /// 503: a dependency (DynamoDB, SES, Secrets Manager) failed; nothing was half-written.
    Unavailable,
}

impl AuthError {
    /// A 400 with one field error.
    pub fn field(name: &str, message: &str) -> Self {
        let mut errors = FieldErrors::new();
        errors.insert(name.to_owned(), vec![message.to_owned()]);
        AuthError::Invalid(errors)
    }

    /// Logs a dependency failure (never a secret) and answers 503.
    pub fn unavailable(what: &str, error: &dyn fmt::Display) -> Self {
        tracing::error!(dependency = what, error = %error, "dependency failed");
        AuthError::Unavailable
    }

    pub fn status(&self) -> u16 {
        match self {
            AuthError::Invalid(_) | AuthError::BadRequest { .. } => 400,
            AuthError::Unauthorized { .. } => 401,
            AuthError::Forbidden { .. } => 403,
            AuthError::NotFound => 404,
            AuthError::MethodNotAllowed => 405,
            AuthError::Conflict { .. } => 409,
            AuthError::PayloadTooLarge => 413,
            AuthError::UnsupportedMediaType => 415,
            AuthError::Throttled { .. } => 429,
            AuthError::BadGateway { .. } => 502,
            AuthError::Unavailable => 503,
        }
    }

    /// The JSON body: field errors as they are, anything else as `{detail, code}`.
    pub fn body(&self) -> serde_json::Value {
        let (code, detail) = match self {
            AuthError::Invalid(fields) => return serde_json::json!(fields),
            AuthError::BadRequest { code, detail }
            | AuthError::Unauthorized { code, detail }
            | AuthError::Forbidden { code, detail }
            | AuthError::Conflict { code, detail }
            | AuthError::BadGateway { code, detail } => (*code, *detail),
            AuthError::NotFound => ("not_found", "Not found."),
            AuthError::MethodNotAllowed => ("method_not_allowed", "Method not allowed."),
            AuthError::PayloadTooLarge => (
                "request_too_large",
                "The request body is larger than 64 KiB.",
            ),
            AuthError::UnsupportedMediaType => (
                "unsupported_media_type",
                "Unsupported media type in request: send application/json or \
                 application/x-www-form-urlencoded (UTF-8).",
            ),
            AuthError::Throttled { .. } => (
                "throttled",
                "Too many requests. Try again after the time in Retry-After.",
            ),
            AuthError::Unavailable => (
                "service_unavailable",
                "A service the API depends on failed. Nothing was changed; try again.",
            ),
        };
        serde_json::json!({ "detail": detail, "code": code })
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.body())
    }
}

impl std::error::Error for AuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_keep_drf_shape() {
        let error = AuthError::field("email", "Enter a valid email address.");
        assert_eq!(error.status(), 400);
        assert_eq!(
            error.body(),
            serde_json::json!({"email": ["Enter a valid email address."]})
        );
    }

    #[test]
    fn other_errors_carry_detail_and_code() {
        let unauthorized = AuthError::Unauthorized {
            code: "authentication_failed",
            detail: "Invalid credentials.",
        };
        assert_eq!(
            unauthorized.body(),
            serde_json::json!({"detail": "Invalid credentials.", "code": "authentication_failed"})
        );
        assert_eq!(AuthError::Throttled { retry_after: 3 }.status(), 429);
        assert_eq!(AuthError::Unavailable.status(), 503);
        assert_eq!(AuthError::UnsupportedMediaType.status(), 415);
        assert_eq!(
            AuthError::UnsupportedMediaType.body()["code"],
            "unsupported_media_type"
        );
    }
}

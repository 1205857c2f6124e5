//! The HTTP contract as data: each route is declared by its `Operation` (path, what it
//! reads, what it answers, who may call it), and `openapi` turns the operations of the
//! enabled features into an OpenAPI 3.1 description. Handlers read their fields through the
//! same `Field`s (`http::Form`), so a route, its description and what it reads are one
//! declaration.

pub mod openapi;

/// Longest text accepted in any field, in characters.
pub const FIELD_LIMIT: usize = 4096;

/// One route: everything the description says about it.
pub struct Operation {
    /// Relative to the base path, without slashes at either end: `signup/otp/resend`.
    pub path: &'static str,
    pub summary: &'static str,
    pub description: &'static str,
    pub access: Access,
    /// None for a route without a body.
    pub body: Option<Body>,
    /// The query's fields (`identifier` is never set here). A `{name}` in the path is a
    /// path parameter; `{provider}` is one of the configured social providers.
    pub query: Option<Body>,
    pub answer: Answer,
    /// Refusals beyond those every route with a body can give (400, 413, 415, 429, 503)
    /// and the 401 of a protected route.
    pub refusals: &'static [Refusal],
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// An access token in the `AUTH_HEADER_NAME` header.
    Bearer,
    /// Public, but an access token, when sent, narrows what the route may act on.
    OptionalBearer,
}

/// A JSON object (or the same fields as a form): every field read, by name and aliases.
pub struct Body {
    /// The identifier group: `email` or `phone`, or the alias `identifier` with `method`.
    pub identifier: bool,
    pub required: &'static [&'static Field],
    pub optional: &'static [&'static Field],
}

impl Body {
    /// The identifier group and nothing else (the routes that send a code).
    pub const IDENTIFIER: Body = Body {
        identifier: true,
        required: &[],
        optional: &[],
    };
}

/// One field of a body or of an answer.
pub struct Field {
    pub name: &'static str,
    /// Other names a request may use for it (the Python BlockAuth's later names).
    pub aliases: &'static [&'static str],
    pub kind: Kind,
    pub description: &'static str,
}

impl Field {
    /// The canonical name first, then the aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

/// What a field holds, as far as a schema can say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Any text that is not blank, up to the field limit.
    Text,
    /// Text that is a secret (a password).
    Secret,
    /// An email address as `Identifier::email` accepts it.
    Email,
    /// A JWT.
    Token,
    /// An Ethereum address: `0x` and 40 hex digits (mixed case must be EIP-55).
    Address,
    /// A whole number, or its digits as text.
    Integer,
    /// Text, or null.
    NullableText,
    /// An RFC 3339 time.
    Time,
    /// An RFC 3339 time, or null.
    NullableTime,
    /// A JSON object (a form body may carry it as JSON text), e.g. a WebAuthn credential.
    Object,
    /// A list of JSON objects.
    Objects,
    /// A list of texts.
    Texts,
    /// true or false.
    Boolean,
    /// Text the API writes, of any length (an SVG document); never read from a request.
    Document,
}

/// What a route answers when it succeeds.
pub enum Answer {
    /// 200 `{access, refresh, user}`; or, for an account with a second factor, 200
    /// `{mfa_required, mfa_token}` (a sign-in by a first factor).
    SignedIn,
    /// 200 `{access, refresh, user}`: a session, never a second-factor step (a refresh, a
    /// continued session, a sign-in that is both factors or completes them).
    Session,
    /// 200 `{message}`.
    Sent,
    /// 200 `{message, user}`.
    MessageAndUser,
    /// 200 the user.
    User,
    /// 204, no body.
    NoContent,
    /// 302 to the `Location` header, setting a cookie when `sets_cookie`.
    Redirect { sets_cookie: bool },
    /// 302 to the deployer's frontend (`SOCIAL_SUCCESS_REDIRECT`) with a one-time `code` or
    /// an `error` in its query; without one configured, 200 `{access, refresh, user}`.
    RedirectOrSignedIn,
    /// 200 with an object of these fields, all present, named in the description's
    /// components.
    Object {
        name: &'static str,
        fields: &'static [&'static Field],
    },
    /// 201 with an object of these fields, as `Object`: what was made.
    Created {
        name: &'static str,
        fields: &'static [&'static Field],
    },
}

/// A refusal a route can give beyond the common ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400 for a well-formed request refused on its merits: a wrong or expired code, a
    /// password the policy refuses, a message that is not EIP-4361. (A body the description
    /// does not allow gets 400 on every route.)
    Rejected,
    /// 401: the credentials (password, signature, refresh token) are not valid.
    Unauthorized,
    /// 403: valid credentials, not allowed.
    Forbidden,
    /// 404: the thing the path names is not the caller's (or does not exist).
    NotFound,
    /// 409: a conflict the caller can act on.
    Conflict,
    /// 502: a sign-in provider failed or answered what OAuth does not allow.
    BadGateway,
}

/// The fields several features read.
pub mod fields {
    use super::Answer;

    /// A wallet's address (Sign-In with Ethereum, wallet links).
    pub const ADDRESS: Field = Field {
        name: "address",
        aliases: &[],
        kind: Kind::Address,
        description: "The wallet's address: `0x` and 40 hex digits, mixed case only as EIP-55.",
    };

    pub const CHAIN_ID: Field = Field {
        name: "chain_id",
        aliases: &[],
        kind: Kind::Integer,
        description: "An EIP-155 chain id from `WALLET_CHAIN_IDS`; the first one by default.",
    };

    pub const SIWE_MESSAGE: Field = Field {
        name: "message",
        aliases: &[],
        kind: Kind::Text,
        description: "The EIP-4361 message, exactly as its challenge gave it.",
    };

    pub const SIGNATURE: Field = Field {
        name: "signature",
        aliases: &[],
        kind: Kind::Text,
        description: "The wallet's EIP-191 signature of the message: `0x` and 130 hex digits.",
    };

    /// What a Sign-In with Ethereum challenge answers (`wallet::challenge::answer`).
    pub const WALLET_CHALLENGE: Answer = Answer::Object {
        name: "WalletChallenge",
        fields: &[
            &Field {
                name: "message",
                aliases: &[],
                kind: Kind::Text,
                description: "The complete EIP-4361 message for the wallet to sign.",
            },
            &Field {
                name: "nonce",
                aliases: &[],
                kind: Kind::Text,
                description: "The message's nonce: single use.",
            },
            &Field {
                name: "issued_at",
                aliases: &[],
                kind: Kind::Time,
                description: "When the message was issued.",
            },
            &Field {
                name: "expires_at",
                aliases: &[],
                kind: Kind::NullableTime,
                description: "When the nonce expires (`WALLET_NONCE_TTL`).",
            },
        ],
    };
    use super::{Field, Kind};

    pub const OTP: Field = Field {
        name: "otp",
        aliases: &["code"],
        kind: Kind::Text,
        description: "The one-time code that was sent.",
    };

    pub const PASSWORD: Field = Field {
        name: "password",
        aliases: &[],
        kind: Kind::Secret,
        description: "The password.",
    };

    pub const NEW_PASSWORD: Field = Field {
        name: "new_password",
        aliases: &[],
        kind: Kind::Secret,
        description: "The new password; it must pass the password policy \
                      (`PASSWORD_VALIDATORS`).",
    };

    pub const REFRESH: Field = Field {
        name: "refresh",
        aliases: &["refresh_token"],
        kind: Kind::Token,
        description: "A refresh token.",
    };

    pub const EMAIL: Field = Field {
        name: "email",
        aliases: &[],
        kind: Kind::Email,
        description: "An email address (compared case-insensitively).",
    };
}

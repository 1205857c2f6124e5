//! The OpenAPI 3.1 description of the routes the enabled features declare: built from their
//! `Operation`s, so that a route cannot exist in the code and not in the description.

use serde_json::{Map, Value, json};

use super::{Access, Answer, Body, FIELD_LIMIT, Field, Kind, Operation, Refusal};
use crate::identity::identifier::{EMAIL_MAX_LENGTH, EMAIL_PATTERN, PHONE_PATTERN};
use crate::identity::user::SignInMethod;
use crate::settings::{Feature, Settings};

/// Text that is not blank: it holds a character that is not Unicode White_Space (what
/// Rust's `trim` removes; ECMA-262's `\S` differs at U+0085 and U+FEFF).
pub const NOT_BLANK: &str =
    r"[^\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// One feature's operations: (lowercase HTTP method, operation), as its routes declare them.
pub struct Described {
    pub feature: Feature,
    pub operations: Vec<(&'static str, &'static Operation)>,
}

/// The description of `features` as these settings serve them (base path, token header).
pub fn describe(settings: &Settings, features: &[Described]) -> Value {
    let mut paths = Map::new();
    let mut schemas = common_schemas();
    let present: Vec<String> = features
        .iter()
        .flat_map(|f| {
            f.operations
                .iter()
                .map(|(method, op)| operation_id(method, op))
        })
        .collect();
    for feature in features {
        for (method, op) in &feature.operations {
            // A provider without configuration has no routes; with none, neither has this.
            if op.path.contains("{provider}") && served_by(settings, method, op).is_empty() {
                continue;
            }
            let id = operation_id(method, op);
            let mut operation = json!({
                "operationId": id,
                "summary": op.summary,
                "description": op.description,
                "tags": [feature.feature.name()],
                "security": security(op.access),
                "responses": responses(op, &id, &mut schemas, &present),
            });
            let parameters = parameters(method, op, settings);
            if !parameters.is_empty() {
                operation["parameters"] = json!(parameters);
            }
            if let Some(body) = &op.body {
                let name = format!("{}Request", pascal(&id));
                schemas.insert(name.clone(), request_schema(body));
                let reference =
                    json!({ "schema": { "$ref": format!("#/components/schemas/{name}") } });
                operation["requestBody"] = json!({
                    "required": true,
                    "content": {
                        "application/json": reference,
                        "application/x-www-form-urlencoded": reference,
                    },
                });
            }
            let path = paths
                .entry(format!("/{}/", op.path))
                .or_insert_with(|| json!({}));
            path[*method] = operation;
        }
    }
    let tags: Vec<Value> = features
        .iter()
        .map(|f| {
            json!({
                "name": f.feature.name(),
                "description": format!("Served when `FEATURES` includes {}.", f.feature.name()),
            })
        })
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "BlockAuth Serverless",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "Authentication for web and Web3 apps: signup, password, passwordless \
                        and wallet sign-in, JWT sessions.",
            "description": "Bodies are JSON (`application/json`) or forms \
                            (`application/x-www-form-urlencoded`), UTF-8, at most 64 KiB. \
                            Every path is also served without its last `/`. Unknown fields \
                            are ignored; a field sent as null is refused like a field of the \
                            wrong type. Every answer carries `Cache-Control: no-store`.",
            "license": { "name": "MIT", "identifier": "MIT" },
        },
        "servers": [{ "url": settings.base_path }],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": common_responses(),
            "headers": {
                "NoStore": {
                    "description": "No cache may keep an answer: they carry tokens and codes.",
                    "required": true,
                    "schema": { "const": "no-store" },
                },
            },
            "securitySchemes": { "access": security_scheme(settings) },
        },
    })
}

/// The configured social providers that serve `method` `op` (a `{provider}` route).
fn served_by<'a>(settings: &'a Settings, method: &str, op: &Operation) -> Vec<&'a str> {
    let providers = &settings.social.providers;
    providers
        .iter()
        .filter(|(_, provider)| provider.serves(method, op.path))
        .map(|(name, _)| name.as_str())
        .collect()
}

/// The path's `{name}` segments and the query's fields. `{provider}` names one of the
/// configured social providers that serve this route.
fn parameters(method: &str, op: &Operation, settings: &Settings) -> Vec<Value> {
    let mut parameters = Vec::new();
    for segment in op.path.split('/') {
        let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            continue;
        };
        let schema = if name == "provider" {
            json!({ "type": "string", "enum": served_by(settings, method, op) })
        } else {
            json!({ "type": "string" })
        };
        parameters.push(json!({ "name": name, "in": "path", "required": true, "schema": schema }));
    }
    if let Some(query) = &op.query {
        for (field, required) in query
            .required
            .iter()
            .map(|f| (f, true))
            .chain(query.optional.iter().map(|f| (f, false)))
        {
            parameters.push(json!({
                "name": field.name,
                "in": "query",
                "required": required,
                "description": field.description,
                "schema": field_schema(field.kind),
            }));
        }
    }
    parameters
}

/// `post` `signup/otp/resend` is `signupOtpResend`; other methods lead: `getMe`; a path
/// parameter is its name: `get` `{provider}/callback` is `getProviderCallback`.
fn operation_id(method: &str, op: &Operation) -> String {
    let words = op
        .path
        .split(['/', '-', '_', '.', '{', '}'])
        .filter(|w| !w.is_empty());
    let mut id = String::new();
    if method != "post" {
        id.push_str(method);
    }
    for word in words {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if id.is_empty() {
                id.push(first);
            } else {
                id.extend(first.to_uppercase());
            }
            id.extend(chars);
        }
    }
    id
}

fn pascal(id: &str) -> String {
    let mut chars = id.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn security(access: Access) -> Value {
    match access {
        Access::Public => json!([]),
        Access::Bearer => json!([{ "access": [] }]),
        Access::OptionalBearer => json!([{}, { "access": [] }]),
    }
}

/// `Authorization: Bearer <access>` by default; another `AUTH_HEADER_NAME` carries the
/// same `Bearer <access>`, which OpenAPI can only call an API key.
fn security_scheme(settings: &Settings) -> Value {
    let header = settings.session.auth_header();
    if header == "authorization" {
        json!({ "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An access token." })
    } else {
        json!({ "type": "apiKey", "in": "header", "name": header,
                "description": "`Bearer <access>`: an access token." })
    }
}

fn field_schema(kind: Kind) -> Value {
    let text =
        json!({ "type": "string", "minLength": 1, "maxLength": FIELD_LIMIT, "pattern": NOT_BLANK });
    match kind {
        Kind::Text => text,
        Kind::Secret => json!({ "type": "string", "format": "password", "minLength": 1,
                                "maxLength": FIELD_LIMIT, "pattern": NOT_BLANK }),
        Kind::Email => json!({ "type": "string", "maxLength": EMAIL_MAX_LENGTH,
                               "pattern": EMAIL_PATTERN }),
        Kind::Token => json!({ "type": "string", "minLength": 1, "maxLength": FIELD_LIMIT,
                               "pattern": NOT_BLANK, "contentMediaType": "application/jwt" }),
        Kind::Address => json!({ "type": "string", "pattern": "^0x[0-9a-fA-F]{40}$" }),
        Kind::Integer => json!({
            "type": ["integer", "string"], "minimum": 0, "maximum": u64::MAX,
            "pattern": "^\\s*[0-9]{1,19}\\s*$",
        }),
        Kind::NullableText => json!({ "type": ["string", "null"] }),
        Kind::Time => json!({ "type": "string", "format": "date-time" }),
        Kind::NullableTime => json!({ "type": ["string", "null"], "format": "date-time" }),
        Kind::Object => json!({ "type": "object" }),
        Kind::Objects => json!({ "type": "array", "items": { "type": "object" } }),
        Kind::Texts => json!({ "type": "array", "items": { "type": "string" } }),
        Kind::Boolean => json!({ "type": "boolean" }),
        Kind::Document => json!({ "type": "string" }),
    }
}

fn property(field: &Field, name: &str) -> Value {
    let mut schema = field_schema(field.kind);
    let description = if name == field.name {
        field.description.to_owned()
    } else {
        format!("Another name for `{}`.", field.name)
    };
    schema["description"] = description.into();
    schema
}

/// Present under one of its names: a choice among `{"required": [name]}`.
fn one_of_names(names: impl Iterator<Item = &'static str>) -> Value {
    let choices: Vec<Value> = names.map(|n| json!({ "required": [n] })).collect();
    json!({ "anyOf": choices })
}

fn request_schema(body: &Body) -> Value {
    let mut properties = Map::new();
    let mut all_of = Vec::new();
    let mut required = Vec::new();
    if body.identifier {
        properties.insert(
            "email".into(),
            json!({ "type": "string", "maxLength": EMAIL_MAX_LENGTH,
                    "pattern": EMAIL_PATTERN, "description": "The email address." }),
        );
        properties.insert(
            "phone".into(),
            json!({ "type": "string", "pattern": PHONE_PATTERN,
                    "description": "The phone number in E.164, e.g. `+14155550123`." }),
        );
        properties.insert(
            "identifier".into(),
            json!({ "type": "string", "description": "Another name for `email` (or, with \
                     `method` `sms`, for `phone`)." }),
        );
        properties.insert(
            "method".into(),
            json!({ "enum": ["email", "sms"], "default": "email",
                    "description": "What `identifier` holds." }),
        );
        // `identifier` holds an email, or with `method` `sms` a phone number. When several
        // are sent, every one must be valid, and `email` wins over `phone` over
        // `identifier`.
        all_of.push(json!({ "anyOf": [
            { "required": ["email"] },
            { "required": ["phone"] },
            { "required": ["identifier"] },
        ] }));
        all_of.push(json!({
            "if": { "required": ["identifier", "method"],
                    "properties": { "method": { "const": "sms" } } },
            "then": { "properties": { "identifier": { "pattern": PHONE_PATTERN } } },
            "else": { "properties": { "identifier": { "maxLength": EMAIL_MAX_LENGTH,
                                                      "pattern": EMAIL_PATTERN } } },
        }));
    }
    for (field, is_required) in body
        .required
        .iter()
        .map(|f| (f, true))
        .chain(body.optional.iter().map(|f| (f, false)))
    {
        for name in field.names() {
            properties.insert(name.into(), property(field, name));
        }
        if is_required {
            if field.aliases.is_empty() {
                required.push(field.name);
            } else {
                all_of.push(one_of_names(field.names()));
            }
        }
    }
    let mut schema = json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    if !all_of.is_empty() {
        schema["allOf"] = json!(all_of);
    }
    schema
}

fn answer_schema(answer: &Answer, schemas: &mut Map<String, Value>) -> Option<Value> {
    let name = match answer {
        Answer::SignedIn | Answer::RedirectOrSignedIn => "SignedIn",
        Answer::Session => "Session",
        Answer::Redirect { .. } => return None,
        Answer::Sent => "Message",
        Answer::MessageAndUser => "MessageAndUser",
        Answer::User => "User",
        Answer::NoContent => return None,
        Answer::Object { name, fields } | Answer::Created { name, fields } => {
            let properties: Map<String, Value> = fields
                .iter()
                .map(|f| (f.name.to_owned(), property(f, f.name)))
                .collect();
            let required: Vec<&str> = fields.iter().map(|f| f.name).collect();
            schemas.insert(
                (*name).to_owned(),
                json!({ "type": "object", "properties": properties, "required": required }),
            );
            name
        }
    };
    Some(json!({ "$ref": format!("#/components/schemas/{name}") }))
}

fn responses(
    op: &Operation,
    id: &str,
    schemas: &mut Map<String, Value>,
    present: &[String],
) -> Value {
    let mut responses = Map::new();
    let mut success = json!({
        "description": match op.answer {
            Answer::SignedIn => "Signed in: a token pair and the user; or, for an account with \
                                 a second factor, the `mfa_token` for `totp/verify/`.",
            Answer::Session => "A session: a token pair and the user.",
            Answer::Sent => "Done (a code or a notice may have been sent).",
            Answer::MessageAndUser => "Done: the user as it is now.",
            Answer::User => "The user.",
            Answer::NoContent => "Done.",
            Answer::Object { .. } => "The answer.",
            Answer::Created { .. } => "Made.",
            Answer::Redirect { .. } => "Go on at `Location`.",
            Answer::RedirectOrSignedIn => "Signed in (when no `SOCIAL_SUCCESS_REDIRECT` is set).",
        },
        "headers": { "Cache-Control": { "$ref": "#/components/headers/NoStore" } },
    });
    if let Some(schema) = answer_schema(&op.answer, schemas) {
        success["content"] = json!({ "application/json": { "schema": schema } });
    }
    let links = links(op, id, present);
    if !links.is_empty() {
        success["links"] = Value::Object(links);
    }
    let redirect = |sets_cookie: bool, description: &str| {
        let mut headers = json!({
            "Cache-Control": { "$ref": "#/components/headers/NoStore" },
            "Location": { "required": true, "schema": { "type": "string", "format": "uri" } },
        });
        if sets_cookie {
            headers["Set-Cookie"] = json!({
                "required": true,
                "description": "Binds the sign-in to this browser: HttpOnly, Secure, SameSite=Lax.",
                "schema": { "type": "string" },
            });
        }
        json!({ "description": description, "headers": headers })
    };
    match op.answer {
        Answer::NoContent => {
            responses.insert("204".into(), success);
        }
        Answer::Created { .. } => {
            responses.insert("201".into(), success);
        }
        Answer::Redirect { sets_cookie } => {
            responses.insert(
                "302".into(),
                redirect(sets_cookie, "To the provider, to sign in there."),
            );
        }
        Answer::RedirectOrSignedIn => {
            responses.insert("200".into(), success);
            responses.insert(
                "302".into(),
                redirect(
                    false,
                    "To `SOCIAL_SUCCESS_REDIRECT` (or the sign-in's `next`) with a one-time \
                     `code` to trade at `social/token/`, or an `error`.",
                ),
            );
        }
        _ => {
            responses.insert("200".into(), success);
        }
    }
    let mut refusals: Vec<Refusal> = op.refusals.to_vec();
    if op.access != Access::Public && !refusals.contains(&Refusal::Unauthorized) {
        refusals.push(Refusal::Unauthorized);
    }
    let mut common = vec![("503", "Unavailable"), ("429", "Throttled")];
    if op.query.is_some() {
        let invalid = if refusals.contains(&Refusal::Rejected) {
            "Rejected"
        } else {
            "Invalid"
        };
        common.push(("400", invalid));
    }
    if op.body.is_some() {
        let invalid = if refusals.contains(&Refusal::Rejected) {
            "Rejected"
        } else {
            "Invalid"
        };
        common.extend([
            ("400", invalid),
            ("413", "TooLarge"),
            ("415", "UnsupportedMediaType"),
        ]);
    }
    for refusal in refusals {
        common.push(match refusal {
            Refusal::Rejected => continue,
            Refusal::Unauthorized => ("401", "Unauthorized"),
            Refusal::Forbidden => ("403", "Forbidden"),
            Refusal::NotFound => ("404", "NotFound"),
            Refusal::Conflict => ("409", "Conflict"),
            Refusal::BadGateway => ("502", "BadGateway"),
        });
    }
    for (status, name) in common {
        responses.insert(
            status.into(),
            json!({ "$ref": format!("#/components/responses/{name}") }),
        );
    }
    Value::Object(responses)
}

/// What a client does next with an answer, where the description can say it: a sign-in's
/// refresh token goes to `token/refresh/` or `token/revoke/`; a step that sends a code is
/// followed by its confirmation for the same identifier.
fn links(op: &Operation, id: &str, present: &[String]) -> Map<String, Value> {
    let mut links = Map::new();
    let mut link = |name: &str, target: &str, body: Value| {
        if present.iter().any(|p| p == target) && target != id {
            links.insert(
                name.to_owned(),
                json!({ "operationId": target, "requestBody": body }),
            );
        }
    };
    if matches!(op.answer, Answer::Session) {
        for target in ["tokenRefresh", "tokenRevoke"] {
            link(
                target,
                target,
                json!({ "refresh": "$response.body#/refresh" }),
            );
        }
    }
    let confirmations = [
        ("signup", "signupConfirm"),
        ("signupOtpResend", "signupConfirm"),
        ("loginPasswordless", "loginPasswordlessConfirm"),
        ("passwordReset", "passwordResetConfirm"),
    ];
    for (from, to) in confirmations {
        if id == from {
            link(to, to, json!({ "email": "$request.body#/email" }));
        }
    }
    if id == "loginWalletChallenge" {
        link(
            "loginWallet",
            "loginWallet",
            json!({ "message": "$response.body#/message" }),
        );
    }
    links
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "detail": { "type": "string", "description": "For people." },
            "code": { "type": "string", "description": "For machines: stable." },
        },
        "required": ["detail", "code"],
    })
}

fn common_schemas() -> Map<String, Value> {
    let user = json!({
        "type": "object",
        "properties": {
            "id": { "type": "string", "format": "uuid" },
            "email": { "type": ["string", "null"] },
            "phone": { "type": ["string", "null"] },
            "wallet_address": { "type": ["string", "null"], "description": "EIP-55." },
            "name": { "type": ["string", "null"],
                      "description": "From a social provider, when it made the account." },
            "is_verified": { "type": "boolean" },
            "date_joined": { "type": "string", "format": "date-time" },
            "last_login": { "type": ["string", "null"], "format": "date-time" },
            "authentication_types": {
                "type": "array",
                "items": { "enum": SignInMethod::names() },
            },
        },
        "required": ["id", "email", "phone", "wallet_address", "name", "is_verified", "date_joined",
                     "last_login", "authentication_types"],
    });
    let schemas = json!({
        "User": user,
        "SignedIn": {
            "description": "A session; or, for an account with a second factor, the token \
                            that `totp/verify/` completes the sign-in with.",
            "oneOf": [
                { "$ref": "#/components/schemas/Session" },
                { "$ref": "#/components/schemas/MfaRequired" },
            ],
        },
        "Session": {
            "type": "object",
            "properties": {
                "access": { "type": "string", "description": "An access token (JWT)." },
                "refresh": { "type": "string", "description": "A refresh token (JWT)." },
                "user": { "$ref": "#/components/schemas/User" },
            },
            "required": ["access", "refresh", "user"],
        },
        "MfaRequired": {
            "type": "object",
            "properties": {
                "mfa_required": { "const": true },
                "mfa_token": { "type": "string",
                               "description": "For `totp/verify/`, once, within `MFA_TOKEN_TTL` seconds." },
            },
            "required": ["mfa_required", "mfa_token"],
        },
        "Message": {
            "type": "object",
            "properties": { "message": { "type": "string" } },
            "required": ["message"],
        },
        "MessageAndUser": {
            "type": "object",
            "properties": {
                "message": { "type": "string" },
                "user": { "$ref": "#/components/schemas/User" },
            },
            "required": ["message", "user"],
        },
        "Error": error_schema(),
        "FieldErrors": {
            "type": "object",
            "description": "Django REST Framework's field errors: each field the request got \
                            wrong, with what was wrong.",
            "minProperties": 1,
            "additionalProperties": { "type": "array", "items": { "type": "string" },
                                      "minItems": 1 },
        },
    });
    match schemas {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn common_responses() -> Value {
    let no_store = json!({ "$ref": "#/components/headers/NoStore" });
    let error = |description: &str| {
        json!({
            "description": description,
            "headers": { "Cache-Control": no_store },
            "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/Error" } } },
        })
    };
    let bad_request = |description: &str| {
        json!({
            "description": description,
            "headers": { "Cache-Control": no_store },
            "content": { "application/json": { "schema": { "anyOf": [
                { "$ref": "#/components/schemas/FieldErrors" },
                { "$ref": "#/components/schemas/Error" },
            ] } } },
        })
    };
    json!({
        "Invalid": bad_request("A body this description does not allow: field errors, or a \
                                body that is not a JSON object or form."),
        "Rejected": bad_request("A body this description does not allow, or a well-formed \
                                 one refused on its merits: a wrong or expired code, a \
                                 password the policy refuses."),
        "Unauthorized": {
            "description": "Missing, invalid or expired credentials or token.",
            "headers": {
                "Cache-Control": no_store,
                "WWW-Authenticate": { "required": true, "schema": { "const": "Bearer" } },
            },
            "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/Error" } } },
        },
        "Forbidden": error("Valid credentials, but not allowed."),
        "NotFound": error("Not the caller's, or not there."),
        "Conflict": error("A conflict the caller can act on."),
        "TooLarge": error("The body is larger than 64 KiB."),
        "BadGateway": error("The sign-in provider failed, was too slow, or answered what OAuth \
                             does not allow. Nothing was signed in."),
        "UnsupportedMediaType": error("The body is neither JSON nor a form in UTF-8, or has \
                                       no Content-Type."),
        "Throttled": {
            "description": "Throttled.",
            "headers": {
                "Cache-Control": no_store,
                "Retry-After": { "required": true, "description": "Seconds.",
                                 "schema": { "type": "integer", "minimum": 0 } },
            },
            "content": { "application/json": {
                "schema": { "$ref": "#/components/schemas/Error" } } },
        },
        "Unavailable": error("A dependency (DynamoDB, SES, SNS, Secrets Manager) failed; nothing \
                      was changed. Retry."),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `NOT_BLANK` matches exactly the text `http::Form` does not call blank.
    #[test]
    fn not_blank_is_what_trim_keeps() {
        let pattern = regex_lite::Regex::new(NOT_BLANK).unwrap();
        for c in (0..=0x3100)
            .chain(0xfeff..=0xfeff)
            .filter_map(char::from_u32)
        {
            let text = c.to_string();
            assert_eq!(
                pattern.is_match(&text),
                !text.trim().is_empty(),
                "U+{:04X}",
                c as u32
            );
        }
    }
}

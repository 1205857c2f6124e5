//! The HTTP edge (axum): how requests are read, how errors are answered, how routes are
//! declared and mounted under the base path. No other module sees axum types.

use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde_json::{Map, Value};

use crate::context::Context;
use crate::contract::openapi::Described;
use crate::contract::{FIELD_LIMIT, Field, Operation};
use crate::error::{AuthError, FieldErrors};
use crate::identity::identifier::Identifier;
use crate::settings::{Feature, Settings};

/// Bodies over this get 413.
pub const BODY_LIMIT: usize = 64 * 1024;
type IdentifierParser = fn(&str) -> Result<Identifier, &'static str>;

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, axum::Json(self.body())).into_response();
        let headers = response.headers_mut();
        match self {
            AuthError::Unauthorized { .. } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AuthError::Throttled { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            _ => {}
        }
        response
    }
}

/// A successful JSON answer.
pub fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// `201` with what was made.
pub fn created(body: Value) -> Response {
    (StatusCode::CREATED, axum::Json(body)).into_response()
}

/// `200 {"message": ...}` for steps that only send something.
pub fn message(text: &str) -> Response {
    ok(serde_json::json!({ "message": text }))
}

/// The request body as Django REST Framework reads it: a JSON object, or a form
/// (`application/x-www-form-urlencoded`, whose fields are strings), its fields read one by
/// one into DRF-shaped errors.
pub struct Form {
    fields: Map<String, Value>,
    errors: FieldErrors,
}

/// The body formats `Form` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    Json,
    UrlEncoded,
}

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = AuthError;

    async fn from_request(req: Request, _: &S) -> Result<Self, AuthError> {
        // The type first: an unreadable body is refused before it is read.
        let format = body_format(req.headers())?;
        let bytes = axum::body::to_bytes(req.into_body(), BODY_LIMIT)
            .await
            .map_err(|_| AuthError::PayloadTooLarge)?;
        let fields = match format {
            BodyFormat::Json => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(fields)) => fields,
                _ => {
                    return Err(AuthError::BadRequest {
                        code: "parse_error",
                        detail: "The request body must be a JSON object.",
                    });
                }
            },
            BodyFormat::UrlEncoded => form_fields(&bytes).ok_or(AuthError::BadRequest {
                code: "parse_error",
                detail: "The form body must be percent-encoded UTF-8.",
            })?,
        };
        Ok(Form {
            fields,
            errors: FieldErrors::new(),
        })
    }
}

/// A request's query, read field by field like a form body (`Form`'s checks and errors).
pub struct Query(pub Form);

impl<S: Send + Sync> FromRequestParts<S> for Query {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthError> {
        let query = parts.uri.query().unwrap_or_default();
        let fields = form_fields(query.as_bytes()).ok_or(AuthError::BadRequest {
            code: "parse_error",
            detail: "The query must be percent-encoded UTF-8.",
        })?;
        Ok(Query(Form {
            fields,
            errors: FieldErrors::new(),
        }))
    }
}

/// The value of the cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then(|| value.trim().to_owned())
        })
}

/// 302 to `location`, setting `cookie` when given.
pub fn redirect(location: &str, cookie: Option<&str>) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    let headers = response.headers_mut();
    match HeaderValue::from_str(location) {
        Ok(value) => {
            headers.insert(header::LOCATION, value);
        }
        Err(_) => return AuthError::unavailable("redirect", &"not a header value").into_response(),
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The body's format from its one `Content-Type`: `application/json` or
/// `application/x-www-form-urlencoded`, the type case-insensitive, with parameters; a
/// `charset` other than UTF-8 is refused rather than misread. Anything else, or no
/// `Content-Type`, is 415.
fn body_format(headers: &header::HeaderMap) -> Result<BodyFormat, AuthError> {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(AuthError::UnsupportedMediaType);
    };
    let value = value
        .to_str()
        .map_err(|_| AuthError::UnsupportedMediaType)?;
    let mut parts = value.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    let format = if essence.eq_ignore_ascii_case("application/json") {
        BodyFormat::Json
    } else if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        BodyFormat::UrlEncoded
    } else {
        return Err(AuthError::UnsupportedMediaType);
    };
    for parameter in parts {
        let (name, charset) = parameter.split_once('=').unwrap_or((parameter, ""));
        let charset = charset.trim().trim_matches('"');
        if name.trim().eq_ignore_ascii_case("charset")
            && !charset.eq_ignore_ascii_case("utf-8")
            && !charset.eq_ignore_ascii_case("utf8")
        {
            return Err(AuthError::UnsupportedMediaType);
        }
    }
    Ok(format)
}

/// The fields of an `application/x-www-form-urlencoded` body (the WHATWG URL parser's
/// steps), every value a string; a repeated name keeps its last value, as Django's
/// `QueryDict` reads it. None when a name or value is not UTF-8 once decoded: Django would
/// replace the bytes, which would silently change a password.
fn form_fields(bytes: &[u8]) -> Option<Map<String, Value>> {
    let mut fields = Map::new();
    for pair in bytes.split(|b| *b == b'&').filter(|pair| !pair.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        fields.insert(form_text(name)?, Value::String(form_text(value)?));
    }
    Some(fields)
}

/// One name or value of a form: `+` is a space, then percent-decoding, then strict UTF-8.
fn form_text(raw: &[u8]) -> Option<String> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_encoding::percent_decode(&spaced)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

impl Form {
    fn error(&mut self, field: &str, message: &str) {
        self.errors
            .entry(field.to_owned())
            .or_default()
            .push(message.to_owned());
    }

    /// The first of `field`'s names present (canonical name first, then aliases), null
    /// included: DRF refuses a null where a value is due.
    fn lookup(&self, field: &Field) -> Option<(&'static str, Value)> {
        field
            .names()
            .find_map(|name| self.fields.get(name).map(|v| (name, v.clone())))
    }

    /// A required text field, under its name or an alias; errors are reported on the name
    /// the client used (the canonical one when it sent none).
    pub fn text(&mut self, field: &Field) -> Option<String> {
        let Some((name, value)) = self.lookup(field) else {
            self.error(field.name, "This field is required.");
            return None;
        };
        self.checked_text(name, value)
    }

    fn checked_text(&mut self, name: &str, value: Value) -> Option<String> {
        match value {
            Value::String(s) if s.trim().is_empty() => {
                self.error(name, "This field may not be blank.")
            }
            Value::String(s) if s.chars().count() > FIELD_LIMIT => self.error(
                name,
                &format!("Ensure this field has no more than {FIELD_LIMIT} characters."),
            ),
            Value::String(s) => return Some(s),
            Value::Null => self.error(name, "This field may not be null."),
            _ => self.error(name, "Not a valid string."),
        }
        None
    }

    /// A required JSON object (in a form body, as JSON text).
    pub fn object(&mut self, field: &Field) -> Option<Value> {
        let Some((name, value)) = self.lookup(field) else {
            self.error(field.name, "This field is required.");
            return None;
        };
        let value = match value {
            Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
            other => other,
        };
        if value.is_object() {
            return Some(value);
        }
        self.error(name, "Expected a JSON object.");
        None
    }

    /// An optional text field: None when absent, an error when present but bad.
    pub fn optional_text(&mut self, field: &Field) -> Option<String> {
        self.lookup(field)?;
        self.text(field)
    }

    /// An email address in `field` (e.g. `new_email`), normalised.
    pub fn email(&mut self, field: &Field) -> Option<Identifier> {
        self.parsed(field, Identifier::email)
    }

    /// A required text field read by `parse`, whose refusal becomes the field's error.
    pub fn parsed<T>(
        &mut self,
        field: &Field,
        parse: impl FnOnce(&str) -> Result<T, &'static str>,
    ) -> Option<T> {
        let raw = self.text(field)?;
        match parse(raw.trim()) {
            Ok(value) => Some(value),
            Err(message) => {
                self.error(field.name, message);
                None
            }
        }
    }

    /// An optional whole number (a JSON number, or digits in a string as DRF accepts):
    /// None when absent, or when bad, with the field's error kept for `finish`.
    pub fn optional_integer(&mut self, field: &Field) -> Option<u64> {
        let (name, value) = self.lookup(field)?;
        let number = match &value {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if number.is_none() {
            self.error(name, "A valid integer is required.");
        }
        number
    }

    /// The identifier: `email` or `phone`, or the alias `identifier` with `method`
    /// `email` (default) or `sms`. Every one of them that is sent must be valid; `email`
    /// wins over `phone` over `identifier`.
    pub fn identifier(&mut self) -> Option<Identifier> {
        let method = match self.fields.get("method").cloned() {
            None => Some("email".to_owned()),
            Some(Value::String(m)) if m == "email" || m == "sms" => Some(m),
            Some(_) => {
                self.error("method", "Expected \"email\" or \"sms\".");
                None
            }
        };
        let alias: IdentifierParser = match method.as_deref() {
            Some("sms") => Identifier::phone,
            _ => Identifier::email,
        };
        let group: [(&str, IdentifierParser); 3] = [
            ("email", Identifier::email),
            ("phone", Identifier::phone),
            ("identifier", alias),
        ];
        let mut found = None;
        let mut sent = false;
        for (name, parse) in group {
            let Some(value) = self.fields.get(name).cloned() else {
                continue;
            };
            sent = true;
            let Some(raw) = self.checked_text(name, value) else {
                continue;
            };
            match parse(&raw) {
                Ok(identifier) => {
                    found.get_or_insert(identifier);
                }
                Err(message) => self.error(name, message),
            }
        }
        if !sent {
            self.error("email", "This field is required.");
        }
        if method.is_none()
            || self
                .errors
                .keys()
                .any(|k| IDENTIFIER_FIELDS.contains(&k.as_str()))
        {
            return None;
        }
        found
    }

    /// The 400 for every field error so far (call when a required field came back None).
    pub fn invalid(self) -> AuthError {
        AuthError::Invalid(self.errors)
    }

    /// Ok if every field read so far was valid, else 400 with every field error.
    pub fn finish(self) -> Result<(), AuthError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(AuthError::Invalid(self.errors))
        }
    }
}

/// The fields of the identifier group.
const IDENTIFIER_FIELDS: [&str; 4] = ["email", "phone", "identifier", "method"];

/// The client as every rate limit counts it: its network, not its address. An IPv4 client
/// is its address (`192.0.2.1`); an IPv6 client is its /64 (`2001:db8:1:2::/64`), the
/// smallest network a subscriber is given, so rotating addresses inside it buys no extra
/// tries; an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, how a dual-stack socket sees an
/// IPv4 peer) is that IPv4 address. Taken from API Gateway's request context in Lambda (set
/// by `lambda`), from the socket's peer locally; never from a header the client writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl ClientIp {
    /// The network of the client at `ip`.
    pub fn of(ip: IpAddr) -> Self {
        let network = match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => {
                    let prefix = u128::from(v6) & !u128::from(u64::MAX);
                    format!("{}/64", Ipv6Addr::from(prefix))
                }
            },
        };
        ClientIp(network)
    }

    /// The network of the client whose address is `text` (API Gateway's `sourceIp`); text
    /// that is not an address is kept as it is, trimmed.
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        match text.parse::<IpAddr>() {
            Ok(ip) => Self::of(ip),
            Err(_) => ClientIp(text.to_owned()),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        if let Some(ip) = parts.extensions.get::<ClientIp>() {
            return Ok(ip.clone());
        }
        if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            return Ok(ClientIp::of(peer.ip()));
        }
        Ok(ClientIp("unknown".to_owned()))
    }
}

/// The client a sign-in comes from: its network (as `ClientIp`) and its `User-Agent`.
impl<S: Send + Sync> FromRequestParts<S> for crate::session::refresh_family::Device {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let ClientIp(network) = ClientIp::from_request_parts(parts, state).await?;
        let agent = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|value| value.to_str().ok());
        Ok(Self::new(&network, agent))
    }
}

/// What each feature function exposes: its routes, declared once.
pub type FeatureRoutes = fn() -> Routes;

/// A feature's routes, each declared by its `Operation`: each path answers with and without
/// its last `/`. The operations are kept beside the router, so that the template's routes
/// and the OpenAPI description come from the same declaration.
pub struct Routes {
    feature: Feature,
    router: Router<Arc<Context>>,
    operations: Vec<(Method, &'static Operation)>,
    /// Routes under `{provider}`, mounted once per configured provider by `with_context`, so
    /// that an unconfigured provider's path is a 404 like any path that never existed.
    per_provider: Vec<(&'static str, String, MethodRouter<Arc<Context>>)>,
}

/// The social provider whose route a request took (`Routes` mounts one per provider).
#[derive(Debug, Clone)]
pub struct ProviderName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ProviderName {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthError> {
        parts
            .extensions
            .get::<ProviderName>()
            .cloned()
            .ok_or(AuthError::NotFound)
    }
}

impl Routes {
    pub fn new(feature: Feature) -> Self {
        Routes {
            feature,
            router: Router::new(),
            operations: Vec::new(),
            per_provider: Vec::new(),
        }
    }

    /// The feature flag these routes serve.
    pub fn feature(&self) -> Feature {
        self.feature
    }

    pub fn post<H: Handler<T, Arc<Context>>, T: 'static>(
        self,
        operation: &'static Operation,
        handler: H,
    ) -> Self {
        self.route(Method::POST, operation, axum::routing::post(handler))
    }

    pub fn get<H: Handler<T, Arc<Context>>, T: 'static>(
        self,
        operation: &'static Operation,
        handler: H,
    ) -> Self {
        self.route(Method::GET, operation, axum::routing::get(handler))
    }

    pub fn patch<H: Handler<T, Arc<Context>>, T: 'static>(
        self,
        operation: &'static Operation,
        handler: H,
    ) -> Self {
        self.route(Method::PATCH, operation, axum::routing::patch(handler))
    }

    pub fn delete<H: Handler<T, Arc<Context>>, T: 'static>(
        self,
        operation: &'static Operation,
        handler: H,
    ) -> Self {
        self.route(Method::DELETE, operation, axum::routing::delete(handler))
    }

    fn route(
        mut self,
        method: Method,
        operation: &'static Operation,
        handler: MethodRouter<Arc<Context>>,
    ) -> Self {
        let path = operation.path.trim_matches('/');
        let name = method_name(&method);
        self.operations.push((method, operation));
        if path.contains("{provider}") {
            self.per_provider.push((name, path.to_owned(), handler));
            return self;
        }
        self.router = mount(std::mem::take(&mut self.router), path, handler);
        self
    }

    /// Every (method, canonical path) these routes answer, relative to the base path.
    pub fn table(&self) -> Vec<(Method, String)> {
        self.operations
            .iter()
            .map(|(method, op)| (method.clone(), format!("/{}/", op.path.trim_matches('/'))))
            .collect()
    }

    /// What the OpenAPI description says of these routes.
    pub fn described(&self) -> Described {
        Described {
            feature: self.feature,
            operations: self
                .operations
                .iter()
                .map(|(method, op)| (method_name(method), *op))
                .collect(),
        }
    }

    /// The routes bound to their context, answering 405 in JSON for a wrong method; the
    /// `{provider}` routes once per provider the settings configure (where it serves them).
    pub fn with_context(self, ctx: Arc<Context>) -> Router {
        let mut router = self.router;
        for (method, template, handler) in self.per_provider {
            for (name, provider) in &ctx.settings.social.providers {
                if !provider.serves(method, &template) {
                    continue;
                }
                let path = template.replace("{provider}", name);
                let handler = handler
                    .clone()
                    .layer(axum::Extension(ProviderName(name.clone())));
                router = mount(router, &path, handler);
            }
        }
        router
            .method_not_allowed_fallback(|| async { AuthError::MethodNotAllowed })
            .with_state(ctx)
    }
}

/// `handler` at `/{path}/` and at `/{path}` (two methods on one path, e.g. GET and DELETE,
/// share one axum route).
fn mount(
    router: Router<Arc<Context>>,
    path: &str,
    handler: MethodRouter<Arc<Context>>,
) -> Router<Arc<Context>> {
    router
        .route(&format!("/{path}/"), handler.clone())
        .route(&format!("/{path}"), handler)
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "get",
        Method::PUT => "put",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => "post",
    }
}

/// The whole API: the given features' routers under the base path; anything else is 404.
/// Every answer, errors and 404s included, carries `Cache-Control: no-store`, unless it
/// says itself how long it may be kept (`public`, the published keys).
pub fn app(settings: &Settings, features: impl IntoIterator<Item = Router>) -> Router {
    let api = features
        .into_iter()
        .fold(Router::new(), |api, feature| api.merge(feature));
    Router::new()
        .nest(&settings.base_path, api)
        .fallback(|| async { AuthError::NotFound })
        // Layered last, so that it wraps the fallback and every nested route too.
        .layer(axum::middleware::map_response(no_store))
}

/// Answers carry tokens and codes (RFC 6749 5.1): no cache may keep any of them. Set on
/// every answer, so that a new route cannot forget it.
async fn no_store(mut response: Response) -> Response {
    let public = response
        .headers()
        .get(header::CACHE_CONTROL)
        .is_some_and(|v| v.as_bytes().starts_with(b"public"));
    if !public {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// `200` with `body`, which caches may keep for `max_age` seconds (and use stale for as
/// long again while they fetch it anew).
pub fn cacheable(body: Value, max_age: u32) -> Response {
    let control = format!("public, max-age={max_age}, stale-while-revalidate={max_age}");
    let mut response = ok(body);
    if let Ok(value) = HeaderValue::from_str(&control) {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}

/// The token of `Bearer <token>`: the scheme is matched case-insensitively (RFC 7235
/// 2.1), so `bearer` and `BEARER` are `Bearer` too.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("Bearer") && !token.is_empty()).then_some(token)
}

/// The caller of a protected route: a valid access token (from the `AUTH_HEADER_NAME`
/// header, `Bearer <token>`) of a live session of an existing user.
pub struct Caller {
    pub claims: crate::session::token::Claims,
    pub user: crate::identity::user::User,
}

impl FromRequestParts<Arc<Context>> for Caller {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Context>) -> Result<Self, AuthError> {
        let missing = AuthError::Unauthorized {
            code: "not_authenticated",
            detail: "Authentication credentials were not provided.",
        };
        let header = parts
            .headers
            .get(ctx.settings.session.auth_header().as_str())
            .ok_or(missing.clone())?;
        let token = header.to_str().ok().and_then(bearer_token).ok_or(missing)?;
        let claims = ctx
            .tokens
            .verify(token, crate::session::token::TokenType::Access)
            .await?;
        let user = crate::session::refresh_family::session_user(ctx, &claims).await?;
        Ok(Caller { claims, user })
    }
}

/// A route open to everyone that acts for the caller when a token comes with the request:
/// no header is `None`, a header with a bad token is still 401.
impl axum::extract::OptionalFromRequestParts<Arc<Context>> for Caller {
    type Rejection = AuthError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<Context>,
    ) -> Result<Option<Self>, AuthError> {
        if parts
            .headers
            .contains_key(ctx.settings.session.auth_header().as_str())
        {
            <Caller as FromRequestParts<Arc<Context>>>::from_request_parts(parts, ctx)
                .await
                .map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format_of(content_types: &[&str]) -> Result<BodyFormat, AuthError> {
        let mut headers = header::HeaderMap::new();
        for value in content_types {
            headers.append(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        }
        body_format(&headers)
    }

    #[test]
    fn json_and_forms_are_read_anything_else_is_415() {
        for json in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
            "application/json; charset=utf8; foo=bar",
        ] {
            assert_eq!(format_of(&[json]), Ok(BodyFormat::Json), "{json}");
        }
        for form in [
            "application/x-www-form-urlencoded",
            "application/X-WWW-Form-URLEncoded; charset=UTF-8",
        ] {
            assert_eq!(format_of(&[form]), Ok(BodyFormat::UrlEncoded), "{form}");
        }
        for other in [
            &[][..],
            &["text/plain"],
            &["multipart/form-data; boundary=x"],
            &["application/jsonx"],
            &["application/vnd.api+json"],
            &["application/json; charset=latin-1"],
            &[""],
            &["application/json", "application/json"],
        ] {
            assert_eq!(
                format_of(other),
                Err(AuthError::UnsupportedMediaType),
                "{other:?}"
            );
        }
    }

    #[test]
    fn a_client_is_its_ipv4_address_or_its_ipv6_64() {
        for (address, network) in [
            ("192.0.2.1", "192.0.2.1"),
            (" 203.0.113.255 ", "203.0.113.255"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
            ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
            ("2001:DB8:1:2:FFFF:FFFF:FFFF:FFFF", "2001:db8:1:2::/64"),
            (
                "2001:0db8:0001:0002:0000:0000:0000:0001",
                "2001:db8:1:2::/64",
            ),
            ("2001:db8::1", "2001:db8::/64"),
            ("2001:db8:0:0:1::", "2001:db8::/64"),
            ("fe80::1", "fe80::/64"),
            ("::1", "::/64"),
            ("::", "::/64"),
            ("::ffff:192.0.2.1", "192.0.2.1"),
            ("::FFFF:c000:201", "192.0.2.1"),
            ("0:0:0:0:0:ffff:7f00:1", "127.0.0.1"),
            // IPv4-compatible (deprecated, not a dual-stack peer) and NAT64 stay IPv6.
            ("::192.0.2.1", "::/64"),
            ("64:ff9b::192.0.2.1", "64:ff9b::/64"),
            ("not an address", "not an address"),
        ] {
            assert_eq!(
                ClientIp::parse(address),
                ClientIp(network.to_owned()),
                "{address}"
            );
        }
        let peer: SocketAddr = "[2001:db8:1:2:aaaa::1]:443".parse().unwrap();
        assert_eq!(ClientIp::of(peer.ip()).0, "2001:db8:1:2::/64");
        let peer: SocketAddr = "[::ffff:10.0.0.7]:443".parse().unwrap();
        assert_eq!(ClientIp::of(peer.ip()).0, "10.0.0.7");
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "bEaReR   abc ",
            " Bearer abc",
        ] {
            assert_eq!(bearer_token(value), Some("abc"), "{value:?}");
        }
        for value in [
            "Bearer",
            "Bearer ",
            "Bearerabc",
            "Basic abc",
            "Token abc",
            "",
            "abc",
        ] {
            assert_eq!(bearer_token(value), None, "{value:?}");
        }
    }

    #[test]
    fn form_fields_are_decoded_strings() {
        let fields = form_fields(
            b"email=ada%40example.com&password=a+b%2Bc&otp=012345&flag&=x&otp=654321&&",
        )
        .unwrap();
        assert_eq!(fields["email"], "ada@example.com");
        assert_eq!(fields["password"], "a b+c");
        // The last of a repeated name wins, as in Django's QueryDict.
        assert_eq!(fields["otp"], "654321");
        assert_eq!(fields["flag"], "");
        assert_eq!(fields[""], "x");
        assert_eq!(form_fields(b"").unwrap().len(), 0);
        assert_eq!(
            form_fields("name=%C3%A9t%C3%A9&pass=%E2%82%AC".as_bytes()).unwrap()["name"],
            "été"
        );
        // Bytes that are not UTF-8, raw or percent-encoded, are refused, never replaced.
        assert!(form_fields(b"password=%E9t%E9").is_none());
        assert!(form_fields(b"password=\xff").is_none());
        assert!(form_fields(b"%FF=x").is_none());
    }
}

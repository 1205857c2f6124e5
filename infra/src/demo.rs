//! The demo page at `/demo/`: plain HTML, JavaScript and CSS from `infra/demo/`, built into
//! the binary, that signs up and in through the public API at the same origin. Local server
//! only: a deployed API serves no pages.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use blockauth::Settings;

/// Where the page lives, outside the API's base path.
pub const PATH: &str = "/demo";

const INDEX: &str = include_str!("../demo/index.html");
const SCRIPT: &str = include_str!("../demo/app.js");
const STYLE: &str = include_str!("../demo/style.css");

/// Scripts and styles from the page's own files only (no inline script, so an injected
/// one cannot run), and requests to this origin only: the page calls nothing else.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                      base-uri 'none'; frame-ancestors 'none'";

fn file(content_type: &'static str, body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A rebuilt server's page shows at once.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// The page's routes, or none where the API's own base path is `/demo` (or under it):
/// the API wins, and the routes would collide.
pub fn routes(settings: &Settings) -> Router {
    let base = settings.base_path.trim_end_matches('/');
    if base == PATH || base.starts_with(&format!("{PATH}/")) {
        tracing::warn!(base_path = base, "no demo page: BASE_PATH is {PATH}");
        return Router::new();
    }
    // The page learns the base path from here, so that it follows BASE_PATH.
    let config = serde_json::json!({ "base_path": base }).to_string();
    Router::new()
        .route(
            PATH,
            get(|| async { Redirect::permanent(&format!("{PATH}/")) }),
        )
        .route(
            &format!("{PATH}/"),
            get(|| async { file("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            &format!("{PATH}/app.js"),
            get(|| async { file("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            &format!("{PATH}/style.css"),
            get(|| async { file("text/css; charset=utf-8", STYLE) }),
        )
        .route(
            &format!("{PATH}/config.json"),
            get(move || {
                let config = config.clone();
                async move { file("application/json", config) }
            }),
        )
}

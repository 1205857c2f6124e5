//! Calls to a provider: HTTPS over the TLS stack the AWS SDK already links (hyper, rustls
//! on aws-lc-rs, the system's roots), with a short timeout. A provider that is down, slow
//! or answers garbage is the provider's failure (`PROVIDER_FAILED`, 502), never a 500.

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::AuthError;
use oauth2::http;

/// The most a provider may take to answer one call.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The most of a provider's answer that is read.
const ANSWER_LIMIT: usize = 256 * 1024;

/// The provider failed (down, slow, or an answer that is not what OAuth says).
pub const PROVIDER_FAILED: AuthError = AuthError::BadGateway {
    code: "provider_failed",
    detail: "The sign-in provider did not answer as expected. Try again later.",
};

type Https = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One client per container: its connections are reused across requests.
fn client() -> Result<&'static Https, AuthError> {
    static CLIENT: OnceLock<Https> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| AuthError::unavailable("TLS roots", &e))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build(connector)))
}

/// Sends `request` and reads the answer (at most `ANSWER_LIMIT` bytes), within `TIMEOUT`.
pub async fn send(request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, AuthError> {
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let exchange = async {
        let response = client()?.request(request).await.map_err(|e| {
            tracing::warn!(error = %e, "provider unreachable");
            PROVIDER_FAILED
        })?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, ANSWER_LIMIT)
            .collect()
            .await
            .map_err(|_| PROVIDER_FAILED)?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body.to_vec()))
    };
    tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| {
        tracing::warn!("provider too slow");
        PROVIDER_FAILED
    })?
}

/// GETs `url` and reads its JSON answer.
pub async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T, AuthError> {
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|_| PROVIDER_FAILED)?;
    let response = send(request).await?;
    if !response.status().is_success() {
        tracing::warn!(status = %response.status(), url, "provider refused");
        return Err(PROVIDER_FAILED);
    }
    serde_json::from_slice(response.body()).map_err(|_| PROVIDER_FAILED)
}

/// The error oauth2 is given when a call fails: the failure is already logged and is
/// always `PROVIDER_FAILED`.
#[derive(Debug)]
pub struct Failed;

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the provider failed")
    }
}

impl std::error::Error for Failed {}

/// `send` as oauth2's asynchronous HTTP client.
pub async fn for_oauth2(
    request: http::Request<Vec<u8>>,
) -> Result<http::Response<Vec<u8>>, Failed> {
    send(request).await.map_err(|_| Failed)
}

//! Outbound HTTPS calls (a social provider, a webhook) over the TLS stack the AWS SDK
//! already links (hyper, rustls on aws-lc-rs, the system's roots), with a time limit and a
//! size limit on the answer. Callers say what a failure means for them (a provider's 502, a
//! hook's 503).

use std::sync::OnceLock;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
pub use hyper::http;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The most of an answer that is read.
const ANSWER_LIMIT: usize = 256 * 1024;

/// Why a call gave no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// No connection, TLS refused, or the connection broke.
    Unreachable,
    /// No whole answer within the time limit.
    TooSlow,
    /// An answer larger than `ANSWER_LIMIT`, or cut short.
    Unreadable,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Failure::Unreachable => "unreachable",
            Failure::TooSlow => "too slow",
            Failure::Unreadable => "unreadable answer",
        })
    }
}

type Https = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One client per container: its connections are reused across requests.
fn client() -> Result<&'static Https, Failure> {
    static CLIENT: OnceLock<Https> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| {
            tracing::error!(error = %e, "no TLS roots");
            Failure::Unreachable
        })?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build(connector)))
}

/// Sends `request` and reads the answer (at most `ANSWER_LIMIT` bytes), within `timeout`.
pub async fn send(
    request: http::Request<Vec<u8>>,
    timeout: Duration,
) -> Result<http::Response<Vec<u8>>, Failure> {
    let (parts, body) = request.into_parts();
    let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
    let exchange = async {
        let response = client()?.request(request).await.map_err(|e| {
            tracing::warn!(error = %e, "unreachable");
            Failure::Unreachable
        })?;
        let (parts, body) = response.into_parts();
        let body = http_body_util::Limited::new(body, ANSWER_LIMIT)
            .collect()
            .await
            .map_err(|_| Failure::Unreadable)?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body.to_vec()))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| Failure::TooSlow)?
}

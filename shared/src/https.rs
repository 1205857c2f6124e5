//! Outbound HTTPS calls (a social provider, a webhook, an AWS API) over the TLS stack the AWS SDK
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

/// Whether `text` is an http(s) URL (a webhook) rather than a name.
pub fn is_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}

/// The header with the seconds since the epoch when a webhook call was signed.
pub const TIMESTAMP_HEADER: &str = "x-blockauth-timestamp";

/// The header with a webhook call's signature.
pub const SIGNATURE_HEADER: &str = "x-blockauth-signature";

/// `sha256=` and the HMAC-SHA256 (hex) with `secret` of `<timestamp>.<body>`: a receiver
/// recomputes it, compares in constant time, and refuses an old timestamp, so a captured
/// call can be neither forged nor replayed later.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!(
        "sha256={}",
        crate::encode::hex(hmac::sign(&key, &signed).as_ref())
    )
}

/// POSTs the JSON `body` to the webhook at `url`, signed with `secret` (`signature`), within
/// `timeout`: the answer's body if its status is a success, else why not.
pub async fn webhook(
    url: &str,
    secret: &str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let at = crate::clock::now();
    let request = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, at.to_string())
        .header(SIGNATURE_HEADER, signature(secret, at, &body))
        .body(body)
        .map_err(|e| e.to_string())?;
    let response = send(request, timeout)
        .await
        .map_err(|failure| format!("the webhook: {failure}"))?;
    if !response.status().is_success() {
        return Err(format!("the webhook answered {}", response.status()));
    }
    Ok(response.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_signature_covers_the_time_and_the_body() {
        let secret = "s".repeat(32);
        let a = signature(&secret, 1, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 7 + 64);
        assert_ne!(a, signature(&secret, 2, b"{}"));
        assert_ne!(a, signature(&secret, 1, b"{ }"));
        assert_ne!(a, signature(&"t".repeat(32), 1, b"{}"));
    }
}

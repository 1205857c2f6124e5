//! Calls to a provider (`https`), with a short timeout. A provider that is down, slow or
//! answers garbage is the provider's failure (`PROVIDER_FAILED`, 502), never a 500.

use std::time::Duration;

use crate::AuthError;
use crate::https::{self, http};

/// The most a provider may take to answer one call.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The provider failed (down, slow, or an answer that is not what OAuth says).
pub const PROVIDER_FAILED: AuthError = AuthError::BadGateway {
    code: "provider_failed",
    detail: "The sign-in provider did not answer as expected. Try again later.",
};

/// Sends `request` to the provider and reads its answer.
pub async fn send(request: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, AuthError> {
    https::send(request, TIMEOUT).await.map_err(|failure| {
        tracing::warn!(%failure, "provider call failed");
        PROVIDER_FAILED
    })
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

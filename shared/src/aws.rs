//! AWS as a Lambda function meets it. The configuration comes from the environment Lambda
//! sets: the region, the function role's credentials, and endpoint overrides for local runs
//! (`sam local`, DynamoDB Local, moto). That replaces aws-config's provider chain
//! (profiles, SSO, STS, the instance metadata service), which a function never uses and
//! which cost every binary 0.3 MiB. And `call`: one request to an AWS JSON API (Lambda's
//! Invoke, SQS, EventBridge), signed with the SDK's SigV4 signer and sent over the `https`
//! client. That replaces a whole service client per API.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_secretsmanager::config::BehaviorVersion;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
pub use aws_types::SdkConfig;
use aws_types::region::Region;
use aws_types::sdk_config::TimeoutConfig;

use crate::https::{self, http};

/// The AWS services this crate calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    DynamoDb,
    SecretsManager,
    SesV2,
    Sns,
    Lambda,
    Sqs,
    EventBridge,
}

impl Service {
    /// The suffix of its endpoint override, `AWS_ENDPOINT_URL_<suffix>` (as the SDKs name it).
    fn env_suffix(self) -> &'static str {
        match self {
            Service::DynamoDb => "DYNAMODB",
            Service::SecretsManager => "SECRETS_MANAGER",
            Service::SesV2 => "SESV2",
            Service::Sns => "SNS",
            Service::Lambda => "LAMBDA",
            Service::Sqs => "SQS",
            Service::EventBridge => "EVENTBRIDGE",
        }
    }

    /// The name it signs with, which is also its endpoint's first label.
    fn signing_name(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::SecretsManager => "secretsmanager",
            Service::SesV2 => "ses",
            Service::Sns => "sns",
            Service::Lambda => "lambda",
            Service::Sqs => "sqs",
            Service::EventBridge => "events",
        }
    }

    fn host_label(self) -> &'static str {
        match self {
            Service::SesV2 => "email",
            other => other.signing_name(),
        }
    }
}

/// The configuration in `vars` (the process's environment in Lambda): `AWS_REGION`, the
/// credentials `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, and
/// `AWS_ENDPOINT_URL` if set.
pub fn config_from(vars: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, String> {
    let var = |name: &str| vars(name).filter(|v| !v.is_empty());
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .ok_or("AWS_REGION is not set")?;
    let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) else {
        return Err("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set".into());
    };
    let credentials = Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "environment");
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .timeout_config(timeouts());
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    Ok(config.build())
}

/// How long one call to an AWS service may take. A dependency that stalls is then a 503
/// within seconds, well inside a function's own timeout (template: 10 s), never a request
/// that hangs; a call normally takes milliseconds, and one retry fits the operation's time.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(1))
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(3))
        .build()
}

/// The configuration of this process's environment.
pub fn config_from_env() -> Result<SdkConfig, String> {
    config_from(|name| std::env::var(name).ok())
}

/// `config` for `service`: its own endpoint override (`AWS_ENDPOINT_URL_<SERVICE>` in the
/// environment), if any, before the shared one.
pub fn for_service(config: &SdkConfig, service: Service) -> SdkConfig {
    match std::env::var(format!("AWS_ENDPOINT_URL_{}", service.env_suffix())) {
        Ok(url) if !url.is_empty() => config.to_builder().endpoint_url(url).build(),
        _ => config.clone(),
    }
}

/// Where `service`'s requests go under `config`.
fn endpoint(config: &SdkConfig, service: Service) -> Result<String, String> {
    let config = for_service(config, service);
    if let Some(url) = config.endpoint_url() {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let region = region(&config)?;
    let domain = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    Ok(format!(
        "https://{}.{region}.{domain}",
        service.host_label()
    ))
}

fn region(config: &SdkConfig) -> Result<&str, String> {
    config
        .region()
        .map(Region::as_ref)
        .ok_or_else(|| "no AWS region".to_owned())
}

/// A request to an AWS JSON API: its path, its `X-Amz-Target` for the RPC-style APIs (SQS,
/// EventBridge), its content type, and the JSON body.
pub struct Request<'a> {
    pub path: &'a str,
    pub target: Option<&'a str>,
    pub content_type: &'a str,
    pub body: Vec<u8>,
}

/// Sends `request` to `service`, signed with `config`'s credentials, within `timeout`: the
/// answer's body when its status is a success. Otherwise why not, for a log line.
pub async fn call(
    config: &SdkConfig,
    service: Service,
    request: Request<'_>,
    timeout: Duration,
) -> Result<http::Response<Vec<u8>>, String> {
    let url = format!("{}{}", endpoint(config, service)?, request.path);
    let identity = config
        .credentials_provider()
        .ok_or("no AWS credentials")?
        .provide_credentials()
        .await
        .map_err(|e| format!("AWS credentials: {e}"))?
        .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region(config)?)
        .name(service.signing_name())
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("signing: {e}"))?
        .into();
    let mut headers = vec![("content-type", request.content_type)];
    if let Some(target) = request.target {
        headers.push(("x-amz-target", target));
    }
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(&request.body),
    )
    .map_err(|e| format!("signing: {e}"))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| format!("signing: {e}"))?
        .into_parts();
    let mut builder = http::Request::post(&url);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let mut http_request = builder
        .body(request.body)
        .map_err(|e| format!("request: {e}"))?;
    instructions.apply_to_request_http1x(&mut http_request);
    let response = https::send(http_request, timeout)
        .await
        .map_err(|failure| format!("{}: {failure}", service.signing_name()))?;
    if !response.status().is_success() {
        let body = String::from_utf8_lossy(response.body());
        return Err(format!(
            "{} answered {}: {}",
            service.signing_name(),
            response.status(),
            body.chars().take(300).collect::<String>()
        ));
    }
    Ok(response)
}

/// Invokes the Lambda function `function` (a name or an ARN) synchronously with `payload`:
/// its answer, or why there is none (the function failed: `X-Amz-Function-Error`).
pub async fn invoke(
    config: &SdkConfig,
    function: &str,
    payload: Vec<u8>,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
    let path = format!(
        "/2015-03-31/functions/{}/invocations",
        utf8_percent_encode(function, SEGMENT)
    );
    let request = Request {
        path: &path,
        target: None,
        content_type: "application/json",
        body: payload,
    };
    let response = call(config, Service::Lambda, request, timeout).await?;
    if let Some(failure) = response.headers().get("x-amz-function-error") {
        return Err(format!(
            "the function {function} failed: {}",
            String::from_utf8_lossy(failure.as_bytes())
        ));
    }
    Ok(response.into_body())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[tokio::test]
    async fn the_configuration_is_lambdas_environment() {
        let config = config_from(vars(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
        ]))
        .unwrap();
        assert_eq!(config.region().unwrap().as_ref(), "eu-west-1");
        let credentials = config
            .credentials_provider()
            .unwrap()
            .provide_credentials()
            .await
            .unwrap();
        assert_eq!(credentials.access_key_id(), "AKID");
        assert_eq!(credentials.session_token(), Some("session"));
        assert_eq!(
            endpoint(&config, Service::EventBridge).unwrap(),
            "https://events.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint(&config, Service::SesV2).unwrap(),
            "https://email.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn a_missing_region_or_credential_is_named() {
        let no_region = config_from(vars(&[("AWS_ACCESS_KEY_ID", "a")])).unwrap_err();
        assert!(no_region.contains("AWS_REGION"), "{no_region}");
        let no_secret = config_from(vars(&[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
        ]))
        .unwrap_err();
        assert!(no_secret.contains("AWS_SECRET_ACCESS_KEY"), "{no_secret}");
    }

    #[test]
    fn a_shared_endpoint_override_applies_to_every_service() {
        let config = config_from(vars(&[
            ("AWS_REGION", "cn-north-1"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
        ]))
        .unwrap();
        assert_eq!(
            endpoint(&config, Service::Lambda).unwrap(),
            "https://lambda.cn-north-1.amazonaws.com.cn"
        );
        let local = config
            .to_builder()
            .endpoint_url("http://127.0.0.1:5000/")
            .build();
        assert_eq!(
            endpoint(&local, Service::Sqs).unwrap(),
            "http://127.0.0.1:5000"
        );
    }
}

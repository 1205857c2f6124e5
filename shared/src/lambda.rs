//! Running a feature's routes as a Lambda function behind an API Gateway HTTP API.
//! Everything is built once per container: settings, AWS clients, the signing key.

use axum::extract::Request;
pub use lambda_http::Error;
use lambda_http::LambdaEvent;
use lambda_http::request::LambdaRequest;
use serde_json::Value;

use crate::aws;
use crate::context::Context;
use crate::error::AuthError;
use crate::events::Events;
use crate::http::{self, ClientIp, FeatureRoutes};
use crate::mail::Mailer;
use crate::mail::delivery::Courier;
use std::sync::Arc;

use crate::session::hook::ClaimsHook;
use crate::session::keys::KeySet;
use crate::session::rotation;
use crate::session::token::{KeySource, Tokens};
use crate::settings::Settings;
use crate::signing_key::SigningKey;
use crate::store::Store;

/// The whole main of a feature function: `lambda::run(signup::routes)`.
pub async fn run(routes: FeatureRoutes) -> Result<(), Error> {
    let function = Arc::new(Function::from_env(routes).await?);
    let handler = lambda_http::service_fn(move |event: LambdaEvent<Value>| {
        let function = function.clone();
        async move { function.answer(event).await }
    });
    lambda_http::lambda_runtime::run(handler).await
}

/// The keys function's main: its routes, and each step of Secrets Manager's rotation of the
/// token key set (`session::rotation`), for which Secrets Manager invokes the same function.
pub async fn run_keys(routes: FeatureRoutes) -> Result<(), Error> {
    let function = Arc::new(Function::from_env(routes).await?);
    let handler = lambda_http::service_fn(move |event: LambdaEvent<Value>| {
        let function = function.clone();
        async move {
            if rotation::is_rotation(&event.payload) {
                let event: rotation::RotationEvent = serde_json::from_value(event.payload)?;
                tracing::info!(step = %event.step, "rotating the token key set");
                let started = function.started().await.map_err(|_| "not started")?;
                rotation::step(&started.secrets, &started.ctx.settings.session, &event).await?;
                return Ok::<Value, Error>(Value::Null);
            }
            function.answer(event).await
        }
    });
    lambda_http::lambda_runtime::run(handler).await
}

/// A function: its routes, served once its secrets are read. A wrong setting stops it at
/// init, where there is nothing to retry; Secrets Manager failing does not: every request
/// gets 503 and tries again (else Lambda would fail the init, and API Gateway answer 500).
pub struct Function {
    routes: FeatureRoutes,
    settings: Settings,
    aws: aws::SdkConfig,
    secrets: SecretNames,
    started: tokio::sync::OnceCell<Started>,
}

/// What a function builds once per container.
struct Started {
    app: axum::Router,
    ctx: Arc<Context>,
    secrets: aws_sdk_secretsmanager::Client,
}

impl Function {
    /// The function of this Lambda environment's settings and AWS configuration.
    async fn from_env(routes: FeatureRoutes) -> Result<Self, Error> {
        init_logging();
        Function::new(routes, Settings::from_env()?, aws::config_from_env()?).await
    }

    /// Checks `settings` (Err: the function cannot run) and starts, if its secrets can be
    /// read now.
    pub async fn new(
        routes: FeatureRoutes,
        settings: Settings,
        aws: aws::SdkConfig,
    ) -> Result<Self, Error> {
        let secrets = SecretNames::of(&settings, routes().feature())?;
        let function = Function {
            routes,
            settings,
            aws,
            secrets,
            started: tokio::sync::OnceCell::new(),
        };
        match function.start().await {
            Ok(_) | Err(Failure::Dependency) => Ok(function),
            Err(Failure::Setting(error)) => Err(error),
        }
    }

    async fn start(&self) -> Result<&Started, Failure> {
        self.started
            .get_or_try_init(|| start(self.routes, self.settings.clone(), &self.aws, &self.secrets))
            .await
    }

    async fn started(&self) -> Result<&Started, AuthError> {
        self.start().await.map_err(|_| AuthError::Unavailable)
    }

    /// The answer to an API Gateway event: the routes', or 503 while not started.
    pub async fn answer(&self, event: LambdaEvent<Value>) -> Result<Value, Error> {
        let app = match self.started().await {
            Ok(started) => started.app.clone(),
            Err(_) => axum::Router::new().fallback(async || AuthError::Unavailable),
        };
        answer(app, event).await
    }
}

/// Why a function did not start.
enum Failure {
    /// A setting is wrong, or a secret's content is: no retry will help.
    Setting(Error),
    /// Secrets Manager did not answer (logged): the next request tries again.
    Dependency,
}

impl<T: Into<Error>> From<T> for Failure {
    fn from(error: T) -> Self {
        Failure::Setting(error.into())
    }
}

/// The Secrets Manager secrets a function reads at start, by name.
struct SecretNames {
    signing_key: String,
    token_keys: Option<String>,
    factor_key: Option<String>,
    /// Each social provider's client secret.
    providers: Vec<(String, String)>,
}

impl SecretNames {
    fn of(settings: &Settings, feature: crate::Feature) -> Result<Self, Error> {
        // A provider's client secret comes from Secrets Manager, never from the environment.
        let providers = settings
            .social
            .providers
            .iter()
            .map(|(key, provider)| {
                let name = provider.client_secret_name.clone().ok_or_else(|| {
                    format!(
                        "setting AUTH_PROVIDERS.{}: in Lambda, name the secret's Secrets \
                         Manager secret ({}), not its value",
                        provider.name.to_uppercase(),
                        provider.secret_name_setting()
                    )
                })?;
                Ok::<_, Error>((key.clone(), name))
            })
            .collect::<Result<_, _>>()?;
        let signing_key = settings
            .signing_key_secret
            .clone()
            .ok_or("setting SIGNING_KEY_SECRET: required in Lambda")?;
        let token_keys =
            if settings.session.algorithm.is_asymmetric() {
                Some(
                    settings.session.token_keys_secret.clone().ok_or(
                        "setting TOKEN_KEYS_SECRET: required with an asymmetric ALGORITHM",
                    )?,
                )
            } else {
                None
            };
        // Only the second factor's function reads the key that seals TOTP secrets.
        let factor_key = match feature {
            crate::Feature::Mfa => Some(
                settings
                    .mfa
                    .key_secret
                    .clone()
                    .ok_or("setting TOTP_KEY_SECRET: required by the mfa function in Lambda")?,
            ),
            _ => None,
        };
        Ok(SecretNames {
            signing_key,
            token_keys,
            factor_key,
            providers,
        })
    }
}

/// The app's answer to an API Gateway event.
async fn answer(app: axum::Router, event: LambdaEvent<Value>) -> Result<Value, Error> {
    use lambda_http::Service;
    let LambdaEvent { payload, context } = event;
    let request: LambdaRequest = serde_json::from_value(readable_body(payload))?;
    let response = lambda_http::Adapter::from(app)
        .call(LambdaEvent::new(request, context))
        .await?;
    Ok(serde_json::to_value(response)?)
}

/// `event` with a body lambda_http can take. It panics on a body marked base64 that is not
/// (aws_lambda_events decodes it with `expect`); API Gateway encodes bodies itself, so only
/// a direct invoke sends one, which is then passed on as the text it is: the route refuses
/// it as any unreadable body (400 `parse_error`), as it would the same text sent unencoded.
fn readable_body(mut event: Value) -> Value {
    use base64::Engine;
    let encoded = event.get("isBase64Encoded") == Some(&Value::Bool(true));
    let decodes = |body: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_ok()
    };
    if encoded
        && !event
            .get("body")
            .and_then(Value::as_str)
            .is_none_or(decodes)
    {
        event["isBase64Encoded"] = Value::Bool(false);
    }
    event
}

/// Reads a function's secrets and builds its app and context.
async fn start(
    routes: FeatureRoutes,
    mut settings: Settings,
    aws: &aws::SdkConfig,
    names: &SecretNames,
) -> Result<Started, Failure> {
    let secrets =
        aws_sdk_secretsmanager::Client::new(&aws::for_service(aws, aws::Service::SecretsManager));
    let read = async |name: &str| {
        crate::signing_key::secret_text(&secrets, name)
            .await
            .map_err(|e| {
                AuthError::unavailable("Secrets Manager", &e);
                Failure::Dependency
            })
    };
    for (key, name) in &names.providers {
        let text = read(name).await?;
        if let Some(provider) = settings.social.providers.get_mut(key) {
            provider.client_secret = text;
            #[cfg(feature = "social")]
            crate::social::apple::check_key(provider).map_err(|e| {
                format!(
                    "setting AUTH_PROVIDERS.{}: {e}",
                    provider.name.to_uppercase()
                )
            })?;
        }
    }
    let key = SigningKey::from_text(&read(&names.signing_key).await?)?;
    let tokens = match &names.token_keys {
        Some(secret_id) => {
            let set = KeySet::parse(&read(secret_id).await?)?;
            let source = KeySource::SecretsManager {
                client: secrets.clone(),
                secret_id: secret_id.clone(),
            };
            Tokens::with_key_set(&set, source, &settings)?
        }
        None => Tokens::new(&key, &settings),
    };
    let factor_key = match &names.factor_key {
        Some(name) => Some(SigningKey::from_text(&read(name).await?)?),
        None => None,
    };
    let store = Store::from_aws(aws, &settings.table_name);
    let mailer = match Courier::from_settings(
        &settings.delivery,
        settings.webhook_secret.as_deref(),
        Some(aws),
    )? {
        Some(courier) => Mailer::Courier(Box::new(courier)),
        #[cfg(feature = "mail")]
        None => Mailer::Aws {
            ses: aws_sdk_sesv2::Client::new(&aws::for_service(aws, aws::Service::SesV2)),
            sns: aws_sdk_sns::Client::new(&aws::for_service(aws, aws::Service::Sns)),
            from: settings.email_from.clone(),
            configuration_set: settings.ses_configuration_set.clone(),
        },
        #[cfg(not(feature = "mail"))]
        None => Mailer::Disabled,
    };
    let hook = ClaimsHook::from_settings(
        &settings.claims,
        settings.webhook_secret.as_deref(),
        Some(aws),
    )?;
    let events = Events::from_settings(&settings.events, aws);
    let ctx = Context::new(
        settings,
        store,
        mailer,
        &key,
        tokens,
        hook,
        events,
        factor_key.as_ref(),
    );
    let app = http::app(&ctx.settings, [routes().with_context(ctx.clone())])
        .layer(axum::middleware::map_request(client_ip));
    Ok(Started { app, ctx, secrets })
}

/// Log lines to standard output (CloudWatch), at `AWS_LAMBDA_LOG_LEVEL` (Lambda's logging
/// controls), else `RUST_LOG` as one level, else INFO; JSON objects when
/// `AWS_LAMBDA_LOG_FORMAT` is JSON (as template.yaml sets it). No time: CloudWatch stamps
/// each line. Lambda's runtime wraps each invocation in a span with its `requestId`.
fn init_logging() {
    use tracing_subscriber::filter::LevelFilter;
    let level = ["AWS_LAMBDA_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|name| std::env::var(name).ok()?.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let logs = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_target(false)
        .without_time();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    if json {
        logs.json().init();
    } else {
        logs.init();
    }
}

/// Takes the client IP from API Gateway's request context, as its network (`ClientIp`).
async fn client_ip(mut request: Request) -> Request {
    use lambda_http::request::RequestContext;
    let ip = match request.extensions().get::<RequestContext>() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref(),
        _ => None,
    }
    .map(ClientIp::parse);
    if let Some(ip) = ip {
        request.extensions_mut().insert(ip);
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
    use lambda_http::request::RequestContext;

    async fn client_of(source_ip: Option<&str>) -> Option<ClientIp> {
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.http.source_ip = source_ip.map(str::to_owned);
        let mut request = Request::new(axum::body::Body::empty());
        request
            .extensions_mut()
            .insert(RequestContext::ApiGatewayV2(context));
        client_ip(request)
            .await
            .extensions()
            .get::<ClientIp>()
            .cloned()
    }

    #[tokio::test]
    async fn the_source_ip_becomes_the_clients_network() {
        assert_eq!(
            client_of(Some("2001:db8:1:2:3:4:5:6")).await,
            Some(ClientIp("2001:db8:1:2::/64".to_owned()))
        );
        assert_eq!(
            client_of(Some("::ffff:198.51.100.7")).await,
            Some(ClientIp("198.51.100.7".to_owned()))
        );
        assert_eq!(
            client_of(Some("198.51.100.7")).await,
            Some(ClientIp("198.51.100.7".to_owned()))
        );
        assert_eq!(client_of(None).await, None);
    }

    /// An HTTP API (payload 2.0) event of a POST to /echo with `body`.
    fn event(body: &str, base64: bool) -> LambdaEvent<Value> {
        let payload = serde_json::json!({
            "version": "2.0", "routeKey": "POST /echo", "rawPath": "/echo",
            "rawQueryString": "", "headers": {"content-type": "application/json"},
            "requestContext": {"http": {"method": "POST", "path": "/echo",
                "protocol": "HTTP/1.1", "sourceIp": "198.51.100.7", "userAgent": "test"}},
            "body": body, "isBase64Encoded": base64,
        });
        LambdaEvent::new(payload, lambda_http::Context::default())
    }

    async fn status_of(event: LambdaEvent<Value>) -> u64 {
        async fn echo(_: http::Form) -> &'static str {
            "read"
        }
        let app = axum::Router::new().route("/echo", axum::routing::post(echo));
        let answer = answer(app, event).await.expect("an answer");
        answer["statusCode"].as_u64().expect("a status")
    }

    #[tokio::test]
    async fn a_body_marked_base64_that_is_not_is_a_400_never_a_panic() {
        use base64::Engine;
        let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(status_of(event(&encode(br#"{"a": 1}"#), true)).await, 200);
        assert_eq!(status_of(event(r#"{"a": 1}"#, false)).await, 200);
        assert_eq!(status_of(event("not base64!", true)).await, 400);
        assert_eq!(status_of(event(&encode(&[0xff, 0, b'{']), true)).await, 400);
    }
}

//! Running a feature's routes as a Lambda function behind an API Gateway HTTP API.
//! Everything is built once per container: settings, AWS clients, the signing key.

use axum::extract::Request;
pub use lambda_http::Error;

use crate::aws;
use crate::context::Context;
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
    let (app, _, _) = start(routes).await?;
    lambda_http::run(app).await
}

/// The keys function's main: its routes, and each step of Secrets Manager's rotation of the
/// token key set (`session::rotation`), for which Secrets Manager invokes the same function.
pub async fn run_keys(routes: FeatureRoutes) -> Result<(), Error> {
    use lambda_http::request::LambdaRequest;
    use lambda_http::{LambdaEvent, Service};
    use serde_json::Value;
    let (app, ctx, secrets) = start(routes).await?;
    let handler = lambda_http::service_fn(move |event: LambdaEvent<Value>| {
        let (app, ctx, secrets) = (app.clone(), ctx.clone(), secrets.clone());
        async move {
            let LambdaEvent { payload, context } = event;
            if rotation::is_rotation(&payload) {
                let event: rotation::RotationEvent = serde_json::from_value(payload)?;
                tracing::info!(step = %event.step, "rotating the token key set");
                rotation::step(&secrets, &ctx.settings.session, &event).await?;
                return Ok::<Value, Error>(Value::Null);
            }
            let request: LambdaRequest = serde_json::from_value(payload)?;
            let response = lambda_http::Adapter::from(app)
                .call(LambdaEvent::new(request, context))
                .await?;
            Ok(serde_json::to_value(response)?)
        }
    });
    lambda_http::lambda_runtime::run(handler).await
}

/// Everything a function builds once per container: its app (the routes with their
/// context), the context, and the Secrets Manager client.
async fn start(
    routes: FeatureRoutes,
) -> Result<(axum::Router, Arc<Context>, aws_sdk_secretsmanager::Client), Error> {
    init_logging();
    let mut settings = Settings::from_env()?;
    let aws = aws::config_from_env()?;
    let secrets =
        aws_sdk_secretsmanager::Client::new(&aws::for_service(&aws, aws::Service::SecretsManager));
    // A provider's client secret comes from Secrets Manager, never from the environment.
    for provider in settings.social.providers.values_mut() {
        let setting = format!("setting AUTH_PROVIDERS.{}", provider.name.to_uppercase());
        let name = provider.client_secret_name.as_deref().ok_or_else(|| {
            format!(
                "{setting}: in Lambda, name the secret's Secrets Manager secret ({}), not its \
                 value",
                provider.secret_name_setting()
            )
        })?;
        provider.client_secret = crate::signing_key::secret_text(&secrets, name).await?;
        #[cfg(feature = "social")]
        crate::social::apple::check_key(provider).map_err(|e| format!("{setting}: {e}"))?;
    }
    let secret = settings
        .signing_key_secret
        .as_deref()
        .ok_or("setting SIGNING_KEY_SECRET: required in Lambda")?;
    let key = SigningKey::from_secrets_manager(&secrets, secret).await?;
    let tokens = if settings.session.algorithm.is_asymmetric() {
        let secret_id = settings
            .session
            .token_keys_secret
            .clone()
            .ok_or("setting TOKEN_KEYS_SECRET: required with an asymmetric ALGORITHM")?;
        let set = KeySet::parse(&crate::signing_key::secret_text(&secrets, &secret_id).await?)?;
        let source = KeySource::SecretsManager {
            client: secrets.clone(),
            secret_id,
        };
        Tokens::with_key_set(&set, source, &settings)?
    } else {
        Tokens::new(&key, &settings)
    };
    let store = Store::from_aws(&aws, &settings.table_name);
    let mailer = match Courier::from_settings(
        &settings.delivery,
        settings.webhook_secret.as_deref(),
        Some(&aws),
    )? {
        Some(courier) => Mailer::Courier(Box::new(courier)),
        #[cfg(feature = "mail")]
        None => Mailer::Aws {
            ses: aws_sdk_sesv2::Client::new(&aws::for_service(&aws, aws::Service::SesV2)),
            sns: aws_sdk_sns::Client::new(&aws::for_service(&aws, aws::Service::Sns)),
            from: settings.email_from.clone(),
        },
        #[cfg(not(feature = "mail"))]
        None => Mailer::Disabled,
    };
    let hook = ClaimsHook::from_settings(
        &settings.claims,
        settings.webhook_secret.as_deref(),
        Some(&aws),
    )?;
    let events = Events::from_settings(&settings.events, &aws);
    // Only the second factor's function reads the key that seals TOTP secrets.
    let factor_key = match routes().feature() {
        crate::Feature::Mfa => {
            let secret = settings
                .mfa
                .key_secret
                .as_deref()
                .ok_or("setting TOTP_KEY_SECRET: required by the mfa function in Lambda")?;
            Some(SigningKey::from_secrets_manager(&secrets, secret).await?)
        }
        _ => None,
    };
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
    Ok((app, ctx, secrets))
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
}

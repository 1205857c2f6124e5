//! The local server: the embedded DynamoDB (dynoxide, SQLite-backed), the table, and every
//! enabled feature's routes on one address. The tests start it the same way, in memory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use axum::serve::ListenerExt;
use blockauth::events::Events;
use blockauth::http::FeatureRoutes;
use blockauth::https;
use blockauth::mail::Mailer;
use blockauth::mail::delivery::Courier;
use blockauth::mail::settings::Delivery;
use blockauth::session::hook::ClaimsHook;
use blockauth::session::keys::{self as key_set, KeySet};
use blockauth::session::token::{KeySource, Tokens};
use blockauth::signing_key::SigningKey;
use blockauth::store::{Store, table};
use blockauth::{Context, Feature, Settings};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub mod demo;
pub mod import;
mod protocol_errors;
use protocol_errors::JsonProtocolErrors;

/// Every feature function this server can mount, by its flag.
pub const FEATURES: [(Feature, FeatureRoutes); 14] = [
    (Feature::Signup, signup::routes),
    (Feature::BasicLogin, login_basic::routes),
    (Feature::PasswordlessLogin, login_passwordless::routes),
    (Feature::TokenRefresh, token::routes),
    (Feature::PasswordReset, password_reset::routes),
    (Feature::PasswordChange, password_change::routes),
    (Feature::EmailChange, email_change::routes),
    (Feature::WalletLogin, login_wallet::routes),
    (Feature::WalletEmailAdd, wallet_email::routes),
    (Feature::SocialAuth, social::routes),
    (Feature::PasskeyAuth, passkey::routes),
    (Feature::Account, account::routes),
    (Feature::Mfa, mfa::routes),
    (Feature::Keys, keys::routes),
];

/// Where the embedded DynamoDB keeps its data, or which DynamoDB to use instead.
pub enum Storage {
    /// A fresh database in memory (tests).
    Memory,
    /// A SQLite file that survives restarts (the local server).
    File(PathBuf),
    /// A DynamoDB already listening at this address, e.g. Amazon's DynamoDB Local (the
    /// fidelity pass of the tests); nothing is embedded.
    External(SocketAddr),
}

pub struct Options {
    pub settings: Settings,
    pub listen: SocketAddr,
    pub storage: Storage,
    /// Where messages go when `DELIVERY` is SES (the local outbox, or SES in a test).
    pub mailer: Mailer,
    /// Where lifecycle events go without an `EVENT_BUS` (the local event log).
    pub events: Events,
    pub key: SigningKey,
    /// The key that seals TOTP secrets (not the signing key).
    pub factor_key: SigningKey,
    /// The key set file of an asymmetric `ALGORITHM` (made on first start); None keeps a
    /// generated one in memory.
    pub token_keys: Option<PathBuf>,
    /// Let the AWS SDK retry failed DynamoDB calls (off in tests that break DynamoDB).
    pub retry: bool,
}

/// A running server. Dropping it stops both the API and the embedded DynamoDB.
pub struct Running {
    /// Where the API answers, e.g. `http://127.0.0.1:3000/auth`.
    pub base_url: String,
    pub address: SocketAddr,
    pub dynamodb_address: SocketAddr,
    /// The embedded database; None when the DynamoDB is external.
    pub database: Option<dynoxide::Database>,
    pub context: Arc<Context>,
    stop_api: watch::Sender<bool>,
    stop_dynamodb: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    /// Stops the embedded DynamoDB only, so that requests meet a failing dependency.
    pub fn stop_dynamodb(&self) {
        assert!(
            self.database.is_some(),
            "stop_dynamodb needs the embedded DynamoDB (TestApp::start_embedded)"
        );
        let _ = self.stop_dynamodb.send(true);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop_api.send(true);
        let _ = self.stop_dynamodb.send(true);
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn stopped(mut signal: watch::Receiver<bool>) {
    let _ = signal.wait_for(|stop| *stop).await;
}

/// A DynamoDB client for a local server at `address` (dummy credentials).
pub fn dynamodb_client(address: SocketAddr, retry: bool) -> aws_sdk_dynamodb::Client {
    let retry = if retry {
        aws_config::retry::RetryConfig::standard()
    } else {
        aws_config::retry::RetryConfig::disabled()
    };
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(format!("http://{address}"))
        .credentials_provider(Credentials::new("local", "local", None, None, "local"))
        .retry_config(retry)
        .timeout_config(blockauth::aws::timeouts())
        .interceptor(WithoutIdempotencyToken)
        .http_client(plain_http_client())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The SDK's HTTP client without the system's certificate roots: the embedded DynamoDB is
/// plain HTTP on loopback, so reading and parsing the roots (on some machines every file of
/// `SSL_CERT_DIR`) is start-up work for nothing (BENCHMARKS.md, "Start").
fn plain_http_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
    let mut client = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::AwsLc,
    ));
    // Should the context ever fail to build, the SDK's default one only costs the roots' read.
    if let Ok(no_roots) = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_native_roots(false))
        .build()
    {
        client = client.tls_context(no_roots);
    }
    client.build_https()
}

/// Sends each `TransactWriteItems` without the idempotency token the SDK adds. The
/// embedded DynamoDB (dynoxide 3.2) keeps every token for ten minutes and scans them all,
/// under a lock, at each transaction: under load, the transaction's cost grew with the
/// number made in the last ten minutes (BENCHMARKS.md). What the token guards against, a
/// transaction applied twice by a retry, the store's conditions already refuse (each
/// transaction checks the state it changes); Lambda's client to DynamoDB keeps the token.
#[derive(Debug)]
struct WithoutIdempotencyToken;

impl aws_sdk_dynamodb::config::Intercept for WithoutIdempotencyToken {
    fn name(&self) -> &'static str {
        "WithoutIdempotencyToken"
    }

    fn modify_before_signing(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut<
            '_,
        >,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let request = context.request_mut();
        let transaction =
            request.headers().get("x-amz-target") == Some("DynamoDB_20120810.TransactWriteItems");
        let Some(body) = request.body().bytes().filter(|_| transaction) else {
            return Ok(());
        };
        let mut json: serde_json::Value = serde_json::from_slice(body)?;
        if let Some(fields) = json.as_object_mut() {
            fields.remove("ClientRequestToken");
        }
        let body = serde_json::to_vec(&json)?;
        request
            .headers_mut()
            .insert("content-length", body.len().to_string());
        *request.body_mut() = body.into();
        Ok(())
    }
}

/// A DynamoDB for the server: the embedded database if any, its address, its tasks.
type Dynamodb = (
    Option<dynoxide::Database>,
    SocketAddr,
    Vec<tokio::task::JoinHandle<()>>,
);

/// Creates the database file at `path`, empty, with mode 0600, and its missing folders
/// with 0700, unless it exists: SQLite would create it with 0644, and its journal files
/// (`-wal`, `-shm`) take the database's mode. An empty file is an empty SQLite database.
fn private_file(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    blockauth::signing_key::private_folders_of(path)?;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The embedded DynamoDB (in `file`, or in memory) on 127.0.0.1, serving until `stop`
/// says so, and its TTL sweep.
async fn embedded(file: Option<&Path>, stop: watch::Receiver<bool>) -> Result<Dynamodb, String> {
    let database = match file {
        Some(path) => {
            private_file(path)?;
            dynoxide::Database::new(&path.to_string_lossy())
        }
        None => dynoxide::Database::memory(),
    }
    .map_err(|e| format!("embedded DynamoDB: {e}"))?;
    // dynoxide's own setting after a bulk load: SQLite's WAL with `synchronous = NORMAL`,
    // which commits without an fsync each (a write survives the server being killed, as
    // tests/tests/durability.rs checks; only a crash of the machine can lose the last
    // writes). SQLite's default, FULL, made every write wait for the disk, one at a time on
    // the store's one connection: the refresh load's ceiling (BENCHMARKS.md).
    database
        .disable_bulk_loading()
        .map_err(|e| format!("embedded DynamoDB: {e}"))?;

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("embedded DynamoDB listener: {e}"))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let served = database.clone();
    let mut tasks = vec![tokio::spawn(async move {
        if let Err(e) = dynoxide::server::serve_with_shutdown(listener, served, stopped(stop)).await
        {
            tracing::error!(error = %e, "embedded DynamoDB stopped");
        }
    })];

    // dynoxide never deletes expired items by itself; DynamoDB does, eventually.
    let swept = database.clone();
    tasks.push(tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            if let Err(e) = swept.sweep_ttl() {
                tracing::warn!(error = %e, "TTL sweep failed");
            }
        }
    }));
    Ok((Some(database), address, tasks))
}

/// The embedded DynamoDB on a file of the local server (its table made if missing), for a
/// command that writes without serving (`import`); it stops when dropped.
pub struct LocalStore {
    pub store: Store,
    _stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for LocalStore {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

pub async fn local_store(file: &Path, table_name: &str) -> Result<LocalStore, String> {
    let (stop, stopped) = watch::channel(false);
    let (_, address, tasks) = embedded(Some(file), stopped).await?;
    let client = dynamodb_client(address, true);
    table::create_if_missing(&client, table_name).await?;
    Ok(LocalStore {
        store: Store::new(client, table_name),
        _stop: stop,
        tasks,
    })
}

/// The routes of every enabled feature that has a function here.
fn enabled(settings: &Settings) -> impl Iterator<Item = blockauth::http::Routes> + '_ {
    FEATURES
        .iter()
        .filter(|(feature, _)| settings.enabled(*feature))
        .map(|(_, routes)| routes())
}

/// The OpenAPI description of what a server with these settings serves (`infra/openapi.json`
/// is this with the default settings).
pub fn openapi(settings: &Settings) -> serde_json::Value {
    let described: Vec<_> = enabled(settings).map(|routes| routes.described()).collect();
    blockauth::contract::openapi::describe(settings, &described)
}

/// The API this server serves: every enabled feature's routes, bound to `context`, and
/// their description at `openapi.json`; beside it, the demo page at `/demo/`.
pub fn app(context: &Arc<Context>) -> axum::Router {
    let description = axum::Json(openapi(&context.settings));
    let document = axum::Router::new().route(
        "/openapi.json",
        axum::routing::get(move || async move { description }),
    );
    blockauth::http::app(
        &context.settings,
        enabled(&context.settings)
            .map(|routes| routes.with_context(context.clone()))
            .chain(std::iter::once(document)),
    )
    .merge(demo::routes(&context.settings))
}

/// Starts the embedded DynamoDB (unless the storage is external), creates the table if
/// missing, and serves the API.
pub async fn start(options: Options) -> Result<Running, String> {
    let (stop_dynamodb, dynamodb_stopped) = watch::channel(false);
    let (database, dynamodb_address, mut tasks) = match &options.storage {
        Storage::External(address) => (None, *address, Vec::new()),
        Storage::Memory => embedded(None, dynamodb_stopped).await?,
        Storage::File(path) => embedded(Some(path), dynamodb_stopped).await?,
    };

    let client = dynamodb_client(dynamodb_address, options.retry);
    table::create_if_missing(&client, &options.settings.table_name).await?;
    let store = Store::new(client, options.settings.table_name.clone());
    // A Lambda function (the claims hook, a delivery), an SQS queue or an EventBridge bus is
    // reached as a function reaches it, from the environment's AWS settings (e.g.
    // infra/local-aws's).
    let settings = &options.settings;
    let needs_aws = settings
        .claims
        .hook
        .as_deref()
        .is_some_and(|h| !https::is_url(h))
        || matches!(settings.delivery.delivery, Delivery::Lambda | Delivery::Sqs)
        || settings.events.bus.is_some();
    let aws = needs_aws
        .then(blockauth::aws::config_from_env)
        .transpose()?;
    let hook = ClaimsHook::from_settings(
        &settings.claims,
        settings.webhook_secret.as_deref(),
        aws.as_ref(),
    )?;
    let courier = Courier::from_settings(
        &settings.delivery,
        settings.webhook_secret.as_deref(),
        aws.as_ref(),
    )?;
    let mailer = match courier {
        Some(courier) => Mailer::Courier(Box::new(courier)),
        None => options.mailer,
    };
    let events = match &aws {
        Some(aws) if settings.events.bus.is_some() => Events::from_settings(&settings.events, aws),
        _ => options.events,
    };
    let tokens = if settings.session.algorithm.is_asymmetric() {
        let algorithm = settings.session.algorithm;
        let (set, source) = match &options.token_keys {
            Some(path) => (
                key_set::load_or_generate(path, algorithm)?,
                KeySource::File(path.clone()),
            ),
            None => (
                KeySet::generate(algorithm, blockauth::clock::now())?,
                KeySource::Fixed,
            ),
        };
        Tokens::with_key_set(&set, source, settings)?
    } else {
        Tokens::new(&options.key, settings)
    };
    let context = Context::new(
        options.settings,
        store,
        mailer,
        &options.key,
        tokens,
        hook,
        events,
        Some(&options.factor_key),
    );
    let app = app(&context);

    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|e| format!("listen on {}: {e}", options.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop_api, api_stopped) = watch::channel(false);
    // A no-op tap: axum gives the peer's address (`ConnectInfo<SocketAddr>`, which
    // `ClientIp` reads) for a `TcpListener` or a tapped listener only.
    let listener = JsonProtocolErrors(listener).tap_io(|_| {});
    tasks.push(tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped(api_stopped))
        .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "API server stopped");
        }
    }));

    Ok(Running {
        base_url: format!("http://{address}{}", context.settings.base_path),
        address,
        dynamodb_address,
        database,
        context,
        stop_api,
        stop_dynamodb,
        tasks,
    })
}

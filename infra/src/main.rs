//! `cargo run`: the whole API on http://127.0.0.1:3000/auth/ with an embedded DynamoDB,
//! mail in an outbox folder (and a console line per message), and a generated signing key.
//!
//! Options: `--listen ADDR` (default 127.0.0.1:3000), `--data DIR` (default `.local`),
//! `--settings FILE` (default `blockauth.toml` when it exists). `BLOCKAUTH_*` environment
//! variables override the file. `cargo run -- openapi` prints the OpenAPI description of
//! what these settings serve (with the defaults, it is `infra/openapi.json`), and stops.
//! `cargo run -- rotate-keys` rotates the token key set of an asymmetric `ALGORITHM` in
//! `DATA/token-keys.json` (a running server takes it up at once), and stops.
//! `cargo run -- import EXPORT [--dry-run] [--table NAME]` imports a BlockAuth/Django
//! database export (README, "Moving in from BlockAuth") into the local server's store, or
//! with `--table` into that DynamoDB table (the AWS SDK's default credentials and region),
//! prints a report, and stops. `cargo run -- disable-mfa USER_ID [--table NAME]` turns an
//! account's second factor off and ends its sessions (the operator's recovery path for an
//! owner who lost their device and backup codes: README, "A second factor"), and stops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use blockauth::Settings;
use blockauth::events::{EventLog, Events};
use blockauth::mail::{Mailer, Outbox};
use blockauth::signing_key::SigningKey;
use blockauth_local::{FEATURES, Options, Storage, start};

/// What `cargo run` does.
#[derive(PartialEq)]
enum Command {
    Serve,
    /// `openapi`: print the description.
    Describe,
    /// `rotate-keys`: rotate the token key set.
    RotateKeys,
    /// `import EXPORT`: move users in from a BlockAuth database export.
    Import(PathBuf),
    /// `disable-mfa USER_ID`: the operator turns an account's second factor off.
    DisableMfa(String),
}

struct Args {
    command: Command,
    listen: SocketAddr,
    data: PathBuf,
    settings: Option<PathBuf>,
    /// `import --dry-run`: write nothing.
    dry_run: bool,
    /// `import --table NAME`: a deployed table, not the local store.
    table: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        command: Command::Serve,
        listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
        data: PathBuf::from(".local"),
        settings: Some(PathBuf::from("blockauth.toml")).filter(|p| p.exists()),
        dry_run: false,
        table: None,
    };
    let mut given = std::env::args().skip(1).peekable();
    if given.next_if(|first| first == "openapi").is_some() {
        args.command = Command::Describe;
    } else if given.next_if(|first| first == "rotate-keys").is_some() {
        args.command = Command::RotateKeys;
    } else if given.next_if(|first| first == "import").is_some() {
        let export = given
            .next()
            .ok_or("import needs the export's path: import EXPORT [--dry-run] [--table NAME]")?;
        args.command = Command::Import(PathBuf::from(export));
    } else if given.next_if(|first| first == "disable-mfa").is_some() {
        let user_id = given
            .next()
            .ok_or("disable-mfa needs the account's user id: disable-mfa USER_ID [--table NAME]")?;
        args.command = Command::DisableMfa(user_id);
    }
    while let Some(flag) = given.next() {
        if flag == "--dry-run" && matches!(args.command, Command::Import(_)) {
            args.dry_run = true;
            continue;
        }
        let value = given
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => {
                args.listen = value.parse().map_err(|_| {
                    format!("--listen: expected an address like 127.0.0.1:3000, got {value:?}")
                })?
            }
            "--data" => args.data = PathBuf::from(value),
            "--settings" => args.settings = Some(PathBuf::from(value)),
            "--table" if matches!(args.command, Command::Import(_) | Command::DisableMfa(_)) => {
                args.table = Some(value)
            }
            _ => {
                return Err(format!(
                    "unknown option {flag} (known: --listen, --data, --settings; \
                     import: --dry-run, --table; disable-mfa: --table)"
                ));
            }
        }
    }
    Ok(args)
}

async fn run() -> Result<(), String> {
    let args = parse_args()?;
    let settings = match &args.settings {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Settings::from_file_and_env(&text)
        }
        None => Settings::from_env(),
    }
    .map_err(|e| e.to_string())?;
    let token_keys = args.data.join("token-keys.json");
    if args.command == Command::RotateKeys {
        let session = &settings.session;
        if !session.algorithm.is_asymmetric() {
            return Err("rotate-keys: ALGORITHM is HS256, which signs with the signing key".into());
        }
        let set = blockauth::session::keys::rotate_file(
            &token_keys,
            session.algorithm,
            session.key_rotation_grace as i64,
            session.refresh_token_lifetime as i64,
        )?;
        let newest = set.keys.last().map(|k| (k.kid.as_str(), k.signs_from));
        if let Some((kid, signs_from)) = newest {
            println!(
                "{}: {} keys; the new key {kid} signs from {}",
                token_keys.display(),
                set.keys.len(),
                blockauth::clock::rfc3339(signs_from)
            );
        }
        return Ok(());
    }
    if let Command::Import(export) = &args.command {
        return import(&args, export, &settings).await;
    }
    if let Command::DisableMfa(user_id) = &args.command {
        let (store, _local) = store_for(&args, &settings).await?;
        let found = blockauth::mfa::factor::disable_by_operator(&store, user_id)
            .await
            .map_err(|e| format!("disable-mfa: {}", e.body()))?;
        if !found {
            return Err(format!("disable-mfa: no account has the user id {user_id}"));
        }
        println!("{user_id}: the second factor is off and every session has ended");
        return Ok(());
    }
    if args.command == Command::Describe {
        let text = serde_json::to_string_pretty(&blockauth_local::openapi(&settings))
            .map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    let key = SigningKey::load_or_generate(&args.data.join("signing.key"))?;
    let outbox = args.data.join("outbox");
    let events = args.data.join("events.jsonl");
    let mailer = Mailer::Outbox(Outbox {
        dir: outbox.clone(),
        from: settings.email_from.clone(),
        announce: true,
    });
    // What is served: the enabled features that have a function here.
    let features: Vec<&str> = FEATURES
        .iter()
        .map(|(feature, _)| *feature)
        .filter(|feature| settings.enabled(*feature))
        .map(|feature| feature.name())
        .collect();
    let running = start(Options {
        settings,
        listen: args.listen,
        storage: Storage::File(args.data.join("dynamodb.sqlite3")),
        mailer,
        events: Events::Log(EventLog {
            path: events.clone(),
            announce: true,
        }),
        key,
        factor_key: SigningKey::load_or_generate(&args.data.join("totp.key"))?,
        token_keys: Some(token_keys),
        retry: true,
    })
    .await?;
    println!("BlockAuth is serving {}/", running.base_url);
    println!("  features: {}", features.join(", "));
    println!(
        "  data:     {} (DynamoDB, signing key)",
        args.data.display()
    );
    println!(
        "  outbox:   {} (one file per message; codes also print here)",
        outbox.display()
    );
    println!(
        "  events:   {} (one JSON line per lifecycle event)",
        events.display()
    );
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    println!("stopping");
    Ok(())
}

/// The table a one-off command works on: `--table` (a deployed one, with the AWS SDK's
/// default credentials and region), else the local server's store (kept open while the
/// second value lives).
async fn store_for(
    args: &Args,
    settings: &Settings,
) -> Result<(blockauth::store::Store, Option<blockauth_local::LocalStore>), String> {
    match &args.table {
        Some(table) => {
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            let client = aws_sdk_dynamodb::Client::new(&config);
            Ok((blockauth::store::Store::new(client, table.clone()), None))
        }
        None => {
            let local = blockauth_local::local_store(
                &args.data.join("dynamodb.sqlite3"),
                &settings.table_name,
            )
            .await?;
            Ok((local.store.clone(), Some(local)))
        }
    }
}

/// `import`: reads the export, imports into the local store or `--table`, prints the report.
/// Fails when the export cannot be read or the store failed for some user (a rerun skips
/// the users already imported); skipped users are reported, not failures.
async fn import(args: &Args, export: &std::path::Path, settings: &Settings) -> Result<(), String> {
    use blockauth::identity::moving_in;
    use blockauth_local::import::{PARALLEL, read, summary};
    let peers = read(export)?;
    let (store, _local) = store_for(args, settings).await?;
    let started = std::time::Instant::now();
    let count = peers.len();
    let report = moving_in::import_all(&store, peers, args.dry_run, PARALLEL).await;
    let (text, complete) = summary(&report, args.dry_run);
    print!("{text}");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{count} users in {seconds:.1} s ({:.0} a second)",
        count as f64 / seconds.max(0.001)
    );
    if complete {
        Ok(())
    } else {
        Err("the store failed for some users: run the import again".into())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // An import's refused transactions are answers (already imported, taken), not news
    // from the embedded DynamoDB.
    let quiet = std::env::args()
        .nth(1)
        .is_some_and(|command| command == "import");
    let default = if quiet { "warn,dynoxide=error" } else { "warn" };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blockauth-local: {e}");
            ExitCode::FAILURE
        }
    }
}

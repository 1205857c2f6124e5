//! `cargo run`: the whole API on http://127.0.0.1:3000/auth/ with an embedded DynamoDB,
//! mail in an outbox folder (and a console line per message), and a generated signing key.
//!
//! Options: `--listen ADDR` (default 127.0.0.1:3000), `--data DIR` (default `.local`),
//! `--settings FILE` (default `blockauth.toml` when it exists). `BLOCKAUTH_*` environment
//! variables override the file. `cargo run -- openapi` prints the OpenAPI description of
//! what these settings serve (with the defaults, it is `infra/openapi.json`), and stops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use blockauth::Settings;
use blockauth::events::{EventLog, Events};
use blockauth::mail::{Mailer, Outbox};
use blockauth::signing_key::SigningKey;
use blockauth_local::{FEATURES, Options, Storage, start};

struct Args {
    /// `openapi`: print the description instead of serving.
    describe: bool,
    listen: SocketAddr,
    data: PathBuf,
    settings: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        describe: false,
        listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
        data: PathBuf::from(".local"),
        settings: Some(PathBuf::from("blockauth.toml")).filter(|p| p.exists()),
    };
    let mut given = std::env::args().skip(1).peekable();
    if given.next_if(|first| first == "openapi").is_some() {
        args.describe = true;
    }
    while let Some(flag) = given.next() {
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
            _ => {
                return Err(format!(
                    "unknown option {flag} (known: --listen, --data, --settings)"
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
    if args.describe {
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

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
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

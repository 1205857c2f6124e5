//! Durability: the local server, killed with SIGKILL in the middle of a load, loses nothing
//! it acknowledged, and starts again on the same data.
//!
//! The server is this test binary run once more (`durability --serve DIR`), so that it can
//! be killed like any process; it keeps its table (embedded DynamoDB, a SQLite file) and
//! signing key in DIR. The load is wallet sign-ins that create their accounts: each
//! acknowledged one wrote a user, its wallet claim and a session in one transaction.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use blockauth::events::Events;
use blockauth::mail::{Mailer, Outbox};
use blockauth::signing_key::SigningKey;
use blockauth_local::{Options, Storage};
use blockauth_tests::wallet::TestWallet;
use blockauth_tests::{Reply, fresh_key, send, test_settings, try_send};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Sign-ins in flight at once during the load.
const CLIENTS: usize = 8;
/// The kill comes once this many sign-ins were acknowledged (or the load ran 20 s).
const ACKNOWLEDGED_BEFORE_THE_KILL: usize = 150;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--serve") {
        Some(i) => runtime.block_on(serve(Path::new(&args[i + 1]))),
        None => {
            runtime.block_on(acknowledged_sign_ins_survive_a_sigkill());
            println!("durability: ok");
        }
    }
}

/// The server, on `dir`'s data, until killed: prints its base URL once it answers.
async fn serve(dir: &Path) {
    let mut settings = test_settings();
    settings.limits.request_limit = 1_000_000;
    settings.limits.network_request_limit = 1_000_000;
    let running = blockauth_local::start(Options {
        settings: settings.clone(),
        listen: "127.0.0.1:0".parse().unwrap(),
        storage: Storage::File(dir.join("blockauth.sqlite")),
        mailer: Mailer::Outbox(Outbox {
            dir: dir.join("outbox"),
            from: settings.email_from.clone(),
            announce: false,
        }),
        events: Events::None,
        key: SigningKey::load_or_generate(&dir.join("signing.key")).expect("a signing key"),
        factor_key: fresh_key(),
        token_keys: None,
        retry: true,
    })
    .await
    .expect("the server starts");
    println!("{}", running.base_url);
    std::future::pending::<()>().await;
}

/// `durability --serve dir`, and the base URL it printed.
async fn start(dir: &Path) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().expect("this test binary"))
        .arg("--serve")
        .arg(dir)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the server starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    tokio::time::timeout(
        Duration::from_secs(60),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("the server answers within 60 s")
    .expect("its stdout");
    assert!(line.starts_with("http://"), "the server printed {line:?}");
    (child, line.trim().to_owned())
}

/// A wallet's sign-in at `base`: its answer, or None if the server did not answer.
async fn sign_in(http: &reqwest::Client, base: &str, wallet: &TestWallet) -> Option<Reply> {
    let challenge = http
        .post(format!("{base}/login/wallet/challenge/"))
        .json(&json!({"address": wallet.address}));
    // A connection the kill broke is None rather than a panic.
    let challenge = try_send(challenge).await.ok()?;
    let message = challenge.body["message"].as_str()?.to_owned();
    let login = http
        .post(format!("{base}/login/wallet/"))
        .json(&json!({"message": message, "signature": wallet.sign(&message)}));
    try_send(login).await.ok()
}

/// What an acknowledged sign-in gave its client.
struct Acknowledged {
    wallet: TestWallet,
    user: String,
    refresh: String,
}

async fn acknowledged_sign_ins_survive_a_sigkill() {
    let dir = tempfile::tempdir().expect("a data folder");
    let (mut server, base) = start(dir.path()).await;
    let http = reqwest::Client::new();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Acknowledged>::new()));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (http, base, acknowledged) = (http.clone(), base.clone(), acknowledged.clone());
            tokio::spawn(async move {
                for n in 0.. {
                    let wallet = TestWallet::labelled(&format!("durability {client} {n}"));
                    let Some(reply) = sign_in(&http, &base, &wallet).await else {
                        return; // killed
                    };
                    assert_eq!(reply.status, 200, "{:?}", reply.body);
                    acknowledged.lock().unwrap().push(Acknowledged {
                        user: reply.body["user"]["id"].as_str().unwrap().to_owned(),
                        refresh: reply.body["refresh"].as_str().unwrap().to_owned(),
                        wallet,
                    });
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < ACKNOWLEDGED_BEFORE_THE_KILL
        && started.elapsed() < Duration::from_secs(20)
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // SIGKILL, with sign-ins in flight: no shutdown, no flush.
    server.kill().await.expect("the server is killed");
    for client in clients {
        client.await.expect("a client");
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    assert!(
        acknowledged.len() >= ACKNOWLEDGED_BEFORE_THE_KILL,
        "only {} sign-ins in 20 s",
        acknowledged.len()
    );

    let (_server, base) = start(dir.path()).await;
    for ack in &acknowledged {
        // Its session: the refresh token it was given still refreshes.
        let refreshed = send(
            http.post(format!("{base}/token/refresh/"))
                .json(&json!({"refresh": ack.refresh})),
        )
        .await;
        assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
        // Its account: the wallet signs in to the same user.
        let again = sign_in(&http, &base, &ack.wallet)
            .await
            .expect("the restarted server answers");
        assert_eq!(again.status, 200, "{:?}", again.body);
        assert_eq!(again.body["user"]["id"], ack.user.as_str());
    }
    println!(
        "durability: {} acknowledged sign-ins before the SIGKILL, all there after the restart",
        acknowledged.len()
    );
}

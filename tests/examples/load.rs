//! A load run against a running server, as many clients at once.
//!
//!     BLOCKAUTH_REQUEST_LIMIT=1000000000 cargo run --release -- --data target/load-data
//!     cargo run --release -p blockauth-tests --example load -- [BASE_URL] [SECONDS] [CLIENTS]
//!
//! Scenarios, each for SECONDS (default 10) with CLIENTS (default 16) clients:
//! - `challenge`: `login/wallet/challenge/` (one rate-limit update, one nonce put);
//! - `wallet login`: a fresh challenge signed and sent to `login/wallet/` (signer recovery,
//!   two reads, one transaction), two requests per round;
//! - `refresh`: `token/refresh/` with rotation, each client on its own session.
//!
//! The server's own rate limits would answer 429 to one client IP at this rate: raise
//! `REQUEST_LIMIT` for the run, as above. Prints a Markdown table.

use std::time::{Duration, Instant};

use blockauth_tests::wallet::TestWallet;
use serde_json::{Value, json};

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn post(&self, path: &str, body: Value) -> Result<Value, String> {
        let reply = self
            .http
            .post(format!("{}/{path}", self.base))
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = reply.status();
        let body: Value = reply.json().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{path}: {status} {body}"))
        }
    }

    async fn challenge(&self, wallet: &TestWallet) -> Result<String, String> {
        let reply = self
            .post(
                "login/wallet/challenge/",
                json!({"address": wallet.address}),
            )
            .await?;
        Ok(reply["message"].as_str().unwrap_or_default().to_owned())
    }

    async fn wallet_login(&self, wallet: &TestWallet) -> Result<Value, String> {
        let message = self.challenge(wallet).await?;
        self.post(
            "login/wallet/",
            json!({"message": message, "signature": wallet.sign(&message)}),
        )
        .await
    }
}

#[derive(Clone, Copy, Debug)]
enum Scenario {
    Challenge,
    WalletLogin,
    Refresh,
}

/// One client: rounds until `until`, each round's latency recorded.
async fn client(
    scenario: Scenario,
    client: Client,
    n: usize,
    until: Instant,
) -> Result<Vec<Duration>, String> {
    let wallet = TestWallet::labelled(&format!("load client {n}"));
    let mut refresh = match scenario {
        Scenario::Refresh => client.wallet_login(&wallet).await?["refresh"].clone(),
        _ => Value::Null,
    };
    let mut latencies = Vec::new();
    while Instant::now() < until {
        let start = Instant::now();
        match scenario {
            Scenario::Challenge => {
                client.challenge(&wallet).await?;
            }
            Scenario::WalletLogin => {
                client.wallet_login(&wallet).await?;
            }
            Scenario::Refresh => {
                refresh = client
                    .post("token/refresh/", json!({"refresh": refresh}))
                    .await?["refresh"]
                    .clone();
            }
        }
        latencies.push(start.elapsed());
    }
    Ok(latencies)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:3000/auth".to_owned());
    let seconds: u64 = args
        .next()
        .map_or(Ok(10), |s| s.parse())
        .map_err(|_| "SECONDS")?;
    let clients: usize = args
        .next()
        .map_or(Ok(16), |s| s.parse())
        .map_err(|_| "CLIENTS")?;
    println!("{clients} clients, {seconds} s each, against {base}\n");
    println!("| scenario | rounds | rounds/s | p50, ms | p90, ms | p99, ms | max, ms |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for scenario in [
        Scenario::Challenge,
        Scenario::WalletLogin,
        Scenario::Refresh,
    ] {
        let until = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|n| {
                let c = Client {
                    http: reqwest::Client::new(),
                    base: base.clone(),
                };
                tokio::spawn(client(scenario, c, n, until))
            })
            .collect();
        let mut latencies = Vec::new();
        for task in tasks {
            latencies.extend(task.await.map_err(|e| e.to_string())??);
        }
        let elapsed = started.elapsed().as_secs_f64();
        latencies.sort();
        println!(
            "| {scenario:?} | {} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} |",
            latencies.len(),
            latencies.len() as f64 / elapsed,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.9),
            percentile(&latencies, 0.99),
            percentile(&latencies, 1.0),
        );
    }
    Ok(())
}

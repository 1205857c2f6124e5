//! The demo page (`/demo/`) in a real browser: Debian's chromium, headless, driven by
//! `tests/browser/demo.mjs` (playwright-core) with a CDP virtual authenticator as the passkey,
//! against a local server at `http://localhost:<port>`: an origin that is a secure context,
//! whose RP id is `localhost`. The driver asks for each mailed code on its output; this test
//! reads the code from the server's outbox and answers on the driver's input. A screenshot of
//! each step lands in `target/browser/`. The driver's passkey steps run once the server
//! describes passkey routes. The page's wallet is played by the driver, with a test wallet's
//! key that this test signs with. Below, the page's files as the server serves them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use blockauth::Settings;
use blockauth_tests::wallet::TestWallet;
use blockauth_tests::{TestApp, missing};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Every step together takes seconds; this is for a machine under the whole suite's load.
const DRIVER_LIMIT: Duration = Duration::from_secs(120);

/// The settings for a server at `http://localhost:<port>`. Passkeys (once the server has
/// them) must know that origin, so the port is chosen before the server starts.
fn settings(port: u16) -> Settings {
    let origin = format!("http://localhost:{port}");
    let mut values = BTreeMap::from([
        // The page asks for passkey options (autofill) at every sign-out, from one client
        // network; one person's walk through every flow stays under this.
        ("REQUEST_LIMIT".to_owned(), "100".to_owned()),
        ("REQUEST_WINDOW".to_owned(), "3600".to_owned()),
        ("WALLET_DOMAIN".to_owned(), format!("localhost:{port}")),
        ("WALLET_URI".to_owned(), origin.clone()),
    ]);
    if Settings::names().contains(&"PASSKEY_RP_ID") {
        values.insert("PASSKEY_RP_ID".to_owned(), "localhost".to_owned());
        values.insert("PASSKEY_ALLOWED_ORIGINS".to_owned(), origin);
    }
    Settings::from_values(&values).expect("the browser test's settings")
}

async fn server() -> TestApp {
    TestApp::start_on_a_free_port(settings).await
}

/// Where the screenshots go: `target/browser/`, never the repository.
fn screenshots() -> PathBuf {
    let target = option_env!("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let tests = Path::new(env!("CARGO_MANIFEST_DIR"));
            tests.parent().unwrap_or(tests).join("target")
        });
    target.join("browser")
}

#[tokio::test]
async fn the_demo_page_signs_up_and_in_in_a_browser() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser");
    if !dir.join("node_modules/playwright-core").is_dir() {
        return missing("playwright-core is not installed in tests/browser").unwrap_or(());
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file() {
        return missing(&format!(
            "no browser at {chromium} (apt-get install chromium)"
        ))
        .unwrap_or(());
    }
    let app = server().await;
    let page = format!("http://localhost:{}/demo/", app.server.address.port());
    let shots = screenshots();
    // Only this run's pictures, should an older run have had more steps.
    let _ = std::fs::remove_dir_all(&shots);

    let mut command = Command::new("node");
    command
        .arg("demo.mjs")
        .arg(&page)
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .current_dir(&dir);
    let Some(mut node) = blockauth_tests::spawn_node(command) else {
        return;
    };
    let mut input = node.stdin.take().expect("piped stdin");
    let mut output = BufReader::new(node.stdout.take().expect("piped stdout")).lines();
    let mut errors = node.stderr.take().expect("piped stderr");
    // Read as it comes, so that a chatty driver never blocks on a full pipe.
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = errors.read_to_string(&mut text).await;
        text
    });

    // The page's wallet signs with this key (the driver asks for each signature).
    let wallet = TestWallet::number(7);
    let started = Instant::now();
    let mut steps = Vec::new();
    let mut done = false;
    let walk = async {
        while let Some(line) = output.next_line().await.expect("the driver's output") {
            let said: Value = serde_json::from_str(&line)
                .unwrap_or_else(|_| panic!("demo.mjs printed {line:?}, not JSON"));
            let answer = if let Some(email) = said["code_for"].as_str() {
                Some(app.code_for(email))
            } else if said["wallet_address"] == true {
                Some(wallet.address.clone())
            } else {
                said["sign"].as_str().map(|message| wallet.sign(message))
            };
            if let Some(answer) = answer {
                input
                    .write_all(format!("{answer}\n").as_bytes())
                    .await
                    .expect("the driver reads its input");
            } else if let Some(step) = said["step"].as_str() {
                eprintln!("browser: {step} ({} ms)", said["ms"]);
                steps.push(step.to_owned());
            } else if let Some(what) = said["skipped"].as_str() {
                eprintln!("SKIPPED in the browser: {what}: {}", said["why"]);
            } else if said["done"] == true {
                done = true;
                break;
            }
        }
    };
    let finished = tokio::time::timeout(DRIVER_LIMIT, walk).await;
    drop(input);
    // Done, the driver closes the browser and ends by itself; else it is stopped here.
    let status = match tokio::time::timeout(Duration::from_secs(30), node.wait()).await {
        Ok(status) if finished.is_ok() => status,
        _ => {
            let _ = node.start_kill();
            node.wait().await
        }
    }
    .expect("the driver ends");
    let stderr = stderr.await.unwrap_or_default();
    assert!(
        finished.is_ok(),
        "demo.mjs did not finish within {DRIVER_LIMIT:?} (steps done: {steps:?}; screenshots in {}): {stderr}",
        shots.display()
    );
    assert!(
        status.success() && done,
        "demo.mjs failed after {steps:?} ({status}; screenshots in {}):\n{stderr}",
        shots.display()
    );
    eprintln!(
        "browser: {} steps in {:?}; screenshots in {}",
        steps.len(),
        started.elapsed(),
        shots.display()
    );
}

/// What a GET of `path` (from the server's root) answers: status, a header's value, body.
async fn get(app: &TestApp, path: &str, header: &str) -> (u16, String, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let response = client
        .get(format!("http://{}{path}", app.server.address))
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let value = response
        .headers()
        .get(header)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, value, response.text().await.expect("a body"))
}

#[tokio::test]
async fn the_demo_page_is_served_with_its_types_and_a_strict_policy() {
    let app = TestApp::start().await;
    let (status, location, _) = get(&app, "/demo", "location").await;
    assert_eq!((status, location.as_str()), (308, "/demo/"));

    let (status, policy, html) = get(&app, "/demo/", "content-security-policy").await;
    assert_eq!(status, 200);
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    // Nothing inline, which the policy would block anyway: scripts and styles are files.
    let handler = html.match_indices(" on").any(|(at, _)| {
        let name: String = html[at + 3..]
            .chars()
            .take_while(char::is_ascii_lowercase)
            .collect();
        !name.is_empty() && html[at + 3 + name.len()..].starts_with('=')
    });
    assert!(!html.contains("<script>") && !html.contains(" style=") && !handler);
    for (path, wanted) in [
        ("/demo/", "text/html; charset=utf-8"),
        ("/demo/app.js", "text/javascript; charset=utf-8"),
        ("/demo/style.css", "text/css; charset=utf-8"),
        ("/demo/config.json", "application/json"),
    ] {
        let (status, content_type, _) = get(&app, path, "content-type").await;
        assert_eq!((status, content_type.as_str()), (200, wanted), "{path}");
        let (_, nosniff, _) = get(&app, path, "x-content-type-options").await;
        assert_eq!(nosniff, "nosniff", "{path}");
    }
    let (status, _, _) = get(&app, "/demo/missing.js", "content-type").await;
    assert_eq!(status, 404);
}

/// The page calls the API where BASE_PATH puts it; a BASE_PATH of `/demo` keeps the API and
/// drops the page (both cannot have the path), without failing to start.
#[tokio::test]
async fn the_demo_page_follows_the_base_path() {
    let app = TestApp::start_with(|s| s.base_path = "/api/auth".into()).await;
    let (status, _, config) = get(&app, "/demo/config.json", "content-type").await;
    assert_eq!(status, 200);
    let config: Value = serde_json::from_str(&config).expect("JSON");
    assert_eq!(config["base_path"], "/api/auth");

    let app = TestApp::start_with(|s| s.base_path = "/demo".into()).await;
    let (status, _, _) = get(&app, "/demo/app.js", "content-type").await;
    assert_eq!(status, 404);
    let reply = app.post("login/basic/", serde_json::json!({})).await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
}

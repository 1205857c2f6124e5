//! The contract: the OpenAPI description against the routes that serve it, its validity, a
//! client generated from it, and schemathesis on every route it describes.
//!
//! The Python tools (schemathesis, openapi-spec-validator, openapi-python-client) are those
//! `infra/test` installs; it names their folder in `TOOLS_BIN`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use blockauth::{Feature, Settings};
use blockauth_tests::{PASSWORD, TestApp, access};
use serde_json::Value;

/// Requests the fuzzer must make across all routes, at the least.
const FUZZED_REQUESTS: u64 = 5000;

/// A tool from `TOOLS_BIN`, or None (loudly) where the test command did not install it. In
/// CI a missing tool is a failure, never a skip.
fn tool(name: &str) -> Option<PathBuf> {
    match std::env::var("TOOLS_BIN") {
        Ok(bin) => Some(Path::new(&bin).join(name)),
        Err(_) if std::env::var("CI").is_ok() => panic!("TOOLS_BIN is not set: run infra/test"),
        Err(_) => {
            eprintln!(
                "SKIPPED: {name} is not installed; run `bash infra/test` to include this test"
            );
            None
        }
    }
}

/// Runs `command` with the tools first on PATH, off the runtime's threads (it talks to the
/// server the test runs); its output, or a panic saying what failed.
async fn run(command: Command) -> Output {
    tokio::task::spawn_blocking(move || run_blocking(command))
        .await
        .expect("the command's thread")
}

fn run_blocking(mut command: Command) -> Output {
    if let Ok(bin) = std::env::var("TOOLS_BIN") {
        let path = std::env::var("PATH").unwrap_or_default();
        command.env("PATH", format!("{bin}:{path}"));
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

async fn served_description(app: &TestApp) -> Value {
    let reply = app.send(app.http.get(app.url("openapi.json"))).await;
    assert_eq!(reply.status, 200);
    reply.body
}

/// Every (METHOD, path) a description names.
fn operations(description: &Value) -> BTreeSet<(String, String)> {
    let mut found = BTreeSet::new();
    for (path, item) in description["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            found.insert((method.to_uppercase(), path.clone()));
        }
    }
    found
}

#[test]
fn the_description_in_the_repository_is_current() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../infra/openapi.json");
    let kept: Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("infra/openapi.json"))
            .expect("infra/openapi.json is JSON");
    assert!(
        kept == blockauth_local::openapi(&Settings::default()),
        "infra/openapi.json is not what the routes declare: run `cargo run -- openapi > infra/openapi.json`"
    );
}

/// Each described operation reaches its handler (with and without the last `/`), every
/// route the features declare is described, and nothing else is served.
/// (With an asymmetric algorithm, so that the published keys are served too.)
#[tokio::test]
async fn the_description_is_exactly_the_routes() {
    let app = TestApp::start_with(|s| {
        s.session.algorithm = blockauth::session::settings::Algorithm::Es256;
        s.session.token_issuer = "http://127.0.0.1/auth".into();
    })
    .await;
    let settings = &app.server.context.settings;
    let description = served_description(&app).await;
    assert_eq!(description, blockauth_local::openapi(settings));
    let described = operations(&description);
    assert!(described.contains(&("GET".to_owned(), "/.well-known/jwks.json/".to_owned())));
    let declared: BTreeSet<(String, String)> = blockauth_local::FEATURES
        .iter()
        .filter(|(feature, _)| settings.enabled(*feature))
        .flat_map(|(_, routes)| routes().table())
        .map(|(method, path)| (method.to_string(), path))
        // No social provider is configured here, so no provider has routes.
        .filter(|(_, path)| !path.contains("{provider}"))
        .collect();
    assert_eq!(described, declared);

    for (method, path) in &described {
        for path in [path.clone(), path.trim_end_matches('/').to_owned()] {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let reply = app
                .send(app.http.request(method.clone(), app.url(&path)))
                .await;
            // No body and no token: 415 or 401, from the handler's own extractors; the
            // published keys need neither.
            let expected: &[u16] = if path.starts_with("/.well-known/") {
                &[200]
            } else {
                &[401, 415]
            };
            assert!(
                expected.contains(&reply.status),
                "{method} {path}: {} {:?}",
                reply.status,
                reply.body
            );
        }
        let reply = app.send(app.http.put(app.url(path))).await;
        assert_eq!(reply.status, 405, "PUT {path}");
    }
    let reply = app.post("not/described/", serde_json::json!({})).await;
    assert_eq!(reply.status, 404);
}

/// A server with some features describes exactly those.
#[tokio::test]
async fn the_description_names_only_the_enabled_features() {
    let app = TestApp::start_with(|s| s.features = [Feature::Signup].into()).await;
    let description = served_description(&app).await;
    let paths: BTreeSet<&str> = description["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        paths,
        ["/signup/", "/signup/confirm/", "/signup/otp/resend/"].into()
    );
    let tags: Vec<&str> = description["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["SIGNUP"]);
}

/// Another `AUTH_HEADER_NAME` is described as the header it is.
#[test]
fn the_token_header_is_described_as_configured() {
    let mut settings = Settings::default();
    settings.session.auth_header_name = "HTTP_X_AUTH_TOKEN".into();
    let description = blockauth_local::openapi(&settings);
    let scheme = &description["components"]["securitySchemes"]["access"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["name"], "x-auth-token");
}

/// Google, with a mobile app, and Apple, without one.
fn with_providers() -> Settings {
    use blockauth::social::settings::{AppleSigner, ProviderKind};
    let mut settings = Settings::default();
    let mut google = blockauth_tests::oidc::provider(
        "google",
        ProviderKind::Google,
        "https://accounts.google.com".into(),
        true,
    );
    google.native_client_ids = vec!["ios-app".into()];
    let mut apple = blockauth_tests::oidc::provider(
        "apple",
        ProviderKind::Apple,
        "https://appleid.apple.com".into(),
        false,
    );
    apple.signer = Some(AppleSigner {
        team_id: "TEAM".into(),
        key_id: "KEY".into(),
    });
    settings.social.providers = [("google".into(), google), ("apple".into(), apple)].into();
    settings
}

#[tokio::test]
async fn the_served_description_is_valid_openapi_3_1() {
    let Some(validator) = tool("openapi-spec-validator") else {
        return;
    };
    let app = TestApp::start().await;
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("openapi.json");
    std::fs::write(&file, served_description(&app).await.to_string()).unwrap();
    let mut command = Command::new(&validator);
    command.arg(&file);
    run(command).await;
    // With social providers configured, their routes are described too, each with the
    // providers that serve it (Apple's callback is a POST), and still valid.
    let with_providers = blockauth_local::openapi(&with_providers());
    let paths = &with_providers["paths"];
    let served_by =
        |path: &str, method: &str| paths[path][method]["parameters"][0]["schema"]["enum"].clone();
    assert_eq!(
        served_by("/{provider}/", "get"),
        serde_json::json!(["apple", "google"])
    );
    assert_eq!(
        served_by("/{provider}/callback/", "get"),
        serde_json::json!(["google"])
    );
    assert_eq!(
        served_by("/{provider}/callback/", "post"),
        serde_json::json!(["apple"])
    );
    assert_eq!(
        served_by("/{provider}/native/verify/", "post"),
        serde_json::json!(["google"])
    );
    assert!(paths["/{provider}/"]["get"]["responses"]["302"].is_object());
    std::fs::write(&file, with_providers.to_string()).unwrap();
    let mut command = Command::new(&validator);
    command.arg(&file);
    run(command).await;
    // And the validator does refuse what is not OpenAPI 3.1: it is not a no-op.
    std::fs::write(&file, r#"{"openapi": "3.1.0", "info": {}, "paths": {}}"#).unwrap();
    let mut command = Command::new(tool("openapi-spec-validator").unwrap());
    command.arg(&file);
    let refused = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(!refused.status.success());
}

/// A client generated from the description (openapi-python-client) signs up, signs in,
/// refreshes, changes the password and signs out (`tests/contract/client_flow.py`).
#[tokio::test]
async fn a_client_generated_from_the_description_works() {
    let (Some(generator), Some(python)) = (tool("openapi-python-client"), tool("python")) else {
        return;
    };
    let app = TestApp::start().await;
    let folder = tempfile::tempdir().unwrap();
    // openapi-python-client 0.29 writes code that does not import what it names for a body
    // given in two media types; the client speaks JSON, so it is generated from that one.
    let mut description = served_description(&app).await;
    for item in description["paths"].as_object_mut().unwrap().values_mut() {
        for operation in item.as_object_mut().unwrap().values_mut() {
            let content = operation
                .get_mut("requestBody")
                .and_then(|body| body.get_mut("content"))
                .and_then(Value::as_object_mut);
            if let Some(content) = content {
                content.remove("application/x-www-form-urlencoded");
            }
        }
    }
    let file = folder.path().join("openapi.json");
    std::fs::write(&file, description.to_string()).unwrap();
    let generated = folder.path().join("blockauth_client");
    let mut command = Command::new(generator);
    command
        .args(["generate", "--meta", "none", "--path"])
        .arg(&file)
        .arg("--output-path")
        .arg(&generated);
    run(command).await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/contract/client_flow.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        .arg(folder.path())
        .arg(&app.server.base_url)
        .arg(app.outbox_dir());
    run(command).await;
}

/// Where a well-formed request may get 400 (a wrong code, a password the policy refuses),
/// the description says so (`Rejected`); elsewhere 400 is for bodies it does not allow.
/// Where a path names something (a passkey's id), a well-formed request may get its 404.
fn schemathesis_config(description: &Value, folder: &Path) -> PathBuf {
    let mut config = "# Written by tests/tests/contract.rs.\n".to_owned();
    for item in description["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let responses = &operation["responses"];
            let rejects = responses["400"]["$ref"] == "#/components/responses/Rejected";
            let finds = responses.get("404").is_some();
            if !rejects && !finds {
                continue;
            }
            let mut expected = vec!["2xx", "401", "403", "409", "429"];
            if rejects {
                expected.push("400");
            }
            if finds {
                expected.push("404");
            }
            let expected: Vec<String> = expected.iter().map(|s| format!("{s:?}")).collect();
            config.push_str(&format!(
                "[[operations]]\n\
                 include-operation-id = [{}]\n\
                 checks.positive_data_acceptance.expected-statuses = [{}]\n",
                operation["operationId"],
                expected.join(", ")
            ));
        }
    }
    let file = folder.join("schemathesis.toml");
    std::fs::write(&file, config).unwrap();
    file
}

/// Runs schemathesis with every check on every described route, as a signed-in user;
/// returns how many requests it made.
async fn fuzz(app: &TestApp, examples: u32) -> u64 {
    let st = tool("st").expect("checked by the caller");
    let signed_in = app.sign_up("fuzzer@example.com", PASSWORD).await;
    let description = served_description(app).await;
    let folder = tempfile::tempdir().unwrap();
    let config = schemathesis_config(&description, folder.path());
    let mut command = Command::new(st);
    command
        .current_dir(folder.path())
        .arg("--config-file")
        .arg(&config)
        .args(["--no-color", "run"])
        .arg(app.url("openapi.json"))
        .args(["--url", &app.server.base_url])
        .args(["--checks", "all", "--max-examples", &examples.to_string()])
        // One worker: CPython 3.11 can fail compiling in two threads at once
        // ("AST constructor recursion depth mismatch").
        .args(["--workers", "1"])
        .args([
            "--header",
            &format!("Authorization: Bearer {}", access(&signed_in)),
        ]);
    let started = std::time::Instant::now();
    let output = run(command).await;
    let text = String::from_utf8_lossy(&output.stdout);
    let generated = text
        .lines()
        .find_map(|line| line.trim().split_once(" generated, ")?.0.parse().ok())
        .unwrap_or_else(|| panic!("no count of generated requests in:\n{text}"));
    eprintln!(
        "schemathesis: {generated} requests in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    generated
}

/// Limits raised so that throttling cannot hide a bug: at least `FUZZED_REQUESTS`
/// requests, no 5xx, and no answer the description does not allow.
#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_nothing_on_any_route() {
    if tool("st").is_none() {
        return;
    }
    let app = TestApp::start_with(|s| {
        let limits = &mut s.limits;
        limits.request_limit = u32::MAX;
        limits.send_limit = u32::MAX;
        limits.send_total_limit = u32::MAX;
        limits.login_failure_limit = u32::MAX;
        limits.login_failure_total_limit = u32::MAX;
    })
    .await;
    let requests = fuzz(&app, 200).await;
    assert!(requests >= FUZZED_REQUESTS, "only {requests} requests");
}

/// With the default limits the same checks hold: throttling answers 429, never 5xx.
#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_with_default_limits_sees_only_4xx() {
    if tool("st").is_none() {
        return;
    }
    let app = TestApp::start().await;
    fuzz(&app, 10).await;
}

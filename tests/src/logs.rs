//! The servers of every test binary log as a deployed function does (JSON lines, INFO),
//! into one file per process under `<target>/<profile>/test-logs/`; beside each log, what
//! the tests gave or got that must never appear in it (passwords sent, codes mailed, keys).
//! After the suite, `infra/test` scans them all (`tests/logs/scan.py --tests`).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use base64::Engine;

struct Files {
    secrets: Mutex<File>,
}

fn files() -> Option<&'static Files> {
    static FILES: OnceLock<Option<Files>> = OnceLock::new();
    FILES.get_or_init(open).as_ref()
}

/// Opens this process's two files and sends its log lines to the first; None where the
/// folder cannot be made (the logs are then not captured, and the scan finds no file).
fn open() -> Option<Files> {
    let exe = std::env::current_exe().ok()?;
    // <target>/<profile>/deps/<binary>: the folder beside deps.
    let dir: PathBuf = exe.parent()?.parent()?.join("test-logs");
    std::fs::create_dir_all(&dir).ok()?;
    let name = format!(
        "{}-{}",
        exe.file_stem()?.to_string_lossy(),
        std::process::id()
    );
    let create = |extension: &str| {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{name}.{extension}")))
            .ok()
    };
    let log = create("log")?;
    let secrets = Mutex::new(create("secrets")?);
    // As `lambda::init_logging` under Lambda's JSON log format. A binary that installed a
    // subscriber of its own (dynamodb_calls.rs counts calls) keeps it.
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .without_time()
        .with_writer(Mutex::new(log))
        .try_init();
    Some(Files { secrets })
}

/// Starts capturing this process's log lines (once; every test server calls it).
pub fn capture() {
    files();
}

/// Notes `value` as something no log line may hold, `what` naming it in a find.
pub fn secret(what: &str, value: &str) {
    if let Some(files) = files() {
        let line = serde_json::json!({"what": what, "value": value});
        let mut file = files.secrets.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(file, "{line}");
    }
}

/// Notes the passwords in a request body. Only ones a validator would take: a weak one
/// ("password", "short") is also an ordinary word of log lines.
pub fn passwords_in(body: &serde_json::Value) {
    for field in ["password", "new_password", "old_password"] {
        if let Some(password) = body.get(field).and_then(|v| v.as_str()) {
            let strong = password.len() >= 10 && !password.chars().all(char::is_alphabetic);
            if strong {
                secret("a password", password);
            }
        }
    }
}

/// Notes a key in the forms a careless log line would print it.
pub fn key(bytes: &[u8]) {
    if let Ok(text) = std::str::from_utf8(bytes) {
        secret("a key", text);
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    secret("a key", &hex);
    for engine in [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        secret("a key", &engine.encode(bytes));
    }
}

//! The local server's data (the signing key, the embedded DynamoDB's SQLite file and its
//! journals, their folder) is readable by its owner only, from the moment it exists.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use blockauth::Settings;
use blockauth::events::{EventLog, Events};
use blockauth::mail::{Mailer, Outbox};
use blockauth::signing_key::SigningKey;
use blockauth_local::{Options, Running, Storage};
use blockauth_tests::PASSWORD;
use serde_json::json;

fn mode(path: &Path) -> u32 {
    let metadata = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    metadata.permissions().mode() & 0o777
}

/// The local server as `cargo run` starts it, its data in `data`.
async fn start(data: &Path, outbox: &Path, key: SigningKey) -> Running {
    let settings = Settings::default();
    let mailer = Mailer::Outbox(Outbox {
        dir: outbox.to_owned(),
        from: settings.email_from.clone(),
        announce: false,
    });
    blockauth_local::start(Options {
        settings,
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        storage: Storage::File(data.join("dynamodb.sqlite3")),
        mailer,
        events: Events::Log(EventLog {
            path: data.join("events.jsonl"),
            announce: false,
        }),
        key,
        factor_key: blockauth::signing_key::SigningKey::load_or_generate(&data.join("totp.key"))
            .expect("the TOTP key"),
        token_keys: Some(data.join("token-keys.json")),
        retry: false,
    })
    .await
    .expect("the local server starts")
}

#[tokio::test]
async fn the_key_and_the_database_are_the_owners_only() {
    let temp = tempfile::tempdir().expect("a temporary folder");
    let outbox = tempfile::tempdir().expect("a temporary outbox");
    // As `cargo run` does: the key first (it creates the folder), then the database.
    let data = temp.path().join("first").join(".local");
    let key = SigningKey::load_or_generate(&data.join("signing.key")).expect("a new key");
    let server = start(&data, outbox.path(), key.clone()).await;
    // A write, so that SQLite has its journal files.
    let reply = reqwest::Client::new()
        .post(format!("{}/signup/", server.base_url))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(reply.status(), 200);

    assert_eq!(mode(&temp.path().join("first")), 0o700);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("signing.key")), 0o600);
    assert_eq!(mode(&data.join("dynamodb.sqlite3")), 0o600);
    let mut journals = 0;
    for suffix in ["-wal", "-shm", "-journal"] {
        let journal = data.join(format!("dynamodb.sqlite3{suffix}"));
        if journal.exists() {
            journals += 1;
            assert_eq!(mode(&journal), 0o600, "{}", journal.display());
        }
    }
    assert!(journals > 0, "SQLite kept no journal beside the database");

    // A restart reads the same key and database.
    drop(server);
    let again = SigningKey::load_or_generate(&data.join("signing.key")).expect("the key");
    assert_eq!(again.bytes(), key.bytes());
    let server = start(&data, outbox.path(), again).await;
    let reply = reqwest::Client::new()
        .post(format!("{}/signup/otp/resend/", server.base_url))
        .json(&json!({"email": "ada@example.com"}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(reply.status(), 200);
    assert_eq!(mode(&data.join("dynamodb.sqlite3")), 0o600);

    // The database alone creates its folder the same way.
    let alone = temp.path().join("second");
    let key = SigningKey::from_text(&SigningKey::generate_text().expect("a key")).expect("a key");
    let _server = start(&alone, outbox.path(), key).await;
    assert_eq!(mode(&alone), 0o700);
    assert_eq!(mode(&alone.join("dynamodb.sqlite3")), 0o600);
}

//! Moving in from BlockAuth/Django: password hashes made by Django itself log in and are
//! upgraded to argon2id in the same request; a peer's database export (tests/import/, made
//! with the real peer) is imported once, its users sign in, and nothing existing is
//! overwritten.

use std::path::{Path, PathBuf};

use blockauth::identity::identifier::Identifier;
use blockauth::identity::moving_in::{self, Outcome, PeerUser, Skip};
use blockauth::identity::user::{self, SignInMethod, User, UserChange, UserField};
use blockauth::social::ProviderIdentity;
use blockauth::store::{Step, Transaction};
use blockauth_local::import::{PARALLEL, read};
use blockauth_tests::wallet::{TestWallet, eth_account_python, wallet_login};
use blockauth_tests::{PASSWORD, TestApp, access, claims, refresh};
use serde_json::{Value, json};

const NEW_PASSWORD: &str = "Brand-New-7-Secret";

/// `tests/django/hashes.py`'s hashes of `PASSWORD` by Django itself, by format; None where
/// the tools' Python is not installed (never in CI).
fn django_hashes() -> Option<Vec<(String, String)>> {
    let python = eth_account_python()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/django/hashes.py");
    let out = std::process::Command::new(python)
        .args([script, PASSWORD])
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let formats = made.as_object().expect("an object by format");
    Some(
        formats
            .iter()
            .map(|(format, hashes)| (format.clone(), hashes[PASSWORD].as_str().unwrap().into()))
            .collect(),
    )
}

/// The committed vector of `format` (tests/django/vectors.json), for tests without Python.
fn vector(format: &str) -> String {
    let file: Value =
        serde_json::from_str(include_str!("../../django/vectors.json")).expect("vectors");
    let found = file["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["format"] == format)
        .expect("the format's vector");
    assert_eq!(found["password"], PASSWORD);
    found["hash"].as_str().unwrap().to_owned()
}

/// An imported account known by `email` whose password is the Django hash `stored`.
async fn moved_in(app: &TestApp, email: &str, stored: &str) -> User {
    let identifier = Identifier::email(email).unwrap();
    let mut user = User::new(&identifier, Some(stored.to_owned()), SignInMethod::Email);
    user.last_login = None;
    app.put_user(&user, &identifier).await;
    user
}

async fn stored_hash(app: &TestApp, id: &str) -> String {
    app.user(id).await.unwrap().password_hash.unwrap()
}

#[tokio::test]
async fn django_hashes_log_in_and_become_argon2id_in_the_same_request() {
    let Some(hashes) = django_hashes() else {
        return;
    };
    // Twelve logins from one address: more than the route's default limit.
    let app = TestApp::start_with(|s| s.limits.request_limit = 1000).await;
    assert_eq!(hashes.len(), 3);
    for (format, stored) in hashes {
        assert!(stored.starts_with(&format!("{format}$")), "{stored}");
        let email = format!("{}@example.com", format.replace('_', "-"));
        let user = moved_in(&app, &email, &stored).await;

        let wrong = app.log_in(&email, "Correct-Horse-9-Batterz").await;
        assert_eq!(wrong.status, 401, "{format}");
        assert_eq!(wrong.body["code"], "authentication_failed", "{format}");
        assert_eq!(stored_hash(&app, &user.id).await, stored, "unchanged");

        let first = app.log_in(&email, PASSWORD).await;
        assert_eq!(first.status, 200, "{format}: {:?}", first.body);
        assert_eq!(claims(&access(&first))["sub"], user.id, "{format}");
        assert!(!refresh(&first).is_empty());
        let upgraded = stored_hash(&app, &user.id).await;
        assert!(upgraded.starts_with("$argon2id$"), "{format}: {upgraded}");

        let again = app.log_in(&email, PASSWORD).await;
        assert_eq!(again.status, 200, "{format}");
        assert_eq!(stored_hash(&app, &user.id).await, upgraded, "upgraded once");
        let wrong = app.log_in(&email, "Correct-Horse-9-Batterz").await;
        assert_eq!(wrong.status, 401, "{format}");
        assert_eq!(wrong.body["code"], "authentication_failed", "{format}");
    }
}

#[tokio::test]
async fn an_unusable_or_unknown_hash_never_matches() {
    let app = TestApp::start().await;
    for (email, stored) in [
        (
            "unusable@example.com",
            "!Xu3Bx0mYSSbhwz7jWb1ZJr8sZnyQmqFGGeMwOkdO",
        ),
        (
            "md5@example.com",
            "md5$salt$5f4dcc3b5aa765d61d8327deb882cf99",
        ),
        (
            "costly@example.com",
            "pbkdf2_sha256$99999999$salt$LMfn7/BzQeDKEryg2bT+DX2yXZr6Qiw/tuejU6M6eJ4=",
        ),
    ] {
        let user = moved_in(&app, email, stored).await;
        for password in [PASSWORD, stored, ""] {
            let reply = app.log_in(email, password).await;
            assert!(matches!(reply.status, 400 | 401), "{email}: {reply:?}");
        }
        assert_eq!(stored_hash(&app, &user.id).await, stored);
    }
}

/// Password change verifies the old password against a Django hash; reset replaces one.
#[tokio::test]
async fn change_and_reset_work_for_an_account_that_still_holds_a_django_hash() {
    let app = TestApp::start().await;
    let stored = vector("pbkdf2_sha256");
    let user = moved_in(&app, "ada@example.com", &stored).await;
    let session = app.log_in("ada@example.com", PASSWORD).await;
    assert_eq!(session.status, 200);
    // Back to the Django hash, as if the session came another way (a code, a wallet).
    let mut current = app.user(&user.id).await.unwrap();
    let back = UserChange {
        set: vec![UserField::PasswordHash(stored.clone())],
        ..Default::default()
    };
    let steps = Transaction::new().step(Step::UserChange, back.apply(&mut current));
    app.server.context.store.transact(steps).await.unwrap();

    let token = access(&session);
    let change = |old: &'static str| {
        app.post_as(
            &token,
            "password/change/",
            json!({"old_password": old, "new_password": NEW_PASSWORD}),
        )
    };
    assert_eq!(change("Correct-Horse-9-Batterz").await.status, 400);
    let changed = change(PASSWORD).await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert!(stored_hash(&app, &user.id).await.starts_with("$argon2id$"));
    assert_eq!(
        app.log_in("ada@example.com", NEW_PASSWORD).await.status,
        200
    );

    let other = moved_in(&app, "bob@example.com", &vector("bcrypt_sha256")).await;
    let asked = app
        .post("password/reset/", json!({"email": "bob@example.com"}))
        .await;
    assert_eq!(asked.status, 200);
    let code = app.code_for("bob@example.com");
    let reset = app
        .post(
            "password/reset/confirm/",
            json!({"email": "bob@example.com", "otp": code, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    assert!(stored_hash(&app, &other.id).await.starts_with("$argon2id$"));
    assert_eq!(app.log_in("bob@example.com", PASSWORD).await.status, 401);
    assert_eq!(
        app.log_in("bob@example.com", NEW_PASSWORD).await.status,
        200
    );
}

/// tests/import/peer.sql made a SQLite file, as the peer's database is.
fn peer_sqlite(dir: &Path) -> PathBuf {
    let path = dir.join("db.sqlite3");
    let sql = include_str!("../../import/peer.sql");
    rusqlite::Connection::open(&path)
        .and_then(|db| db.execute_batch(sql))
        .expect("the peer's SQL builds a database");
    path
}

fn peer_dump() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("import/peer-dump.json")
}

async fn import(app: &TestApp, peers: Vec<PeerUser>, dry_run: bool) -> Vec<(String, Outcome)> {
    moving_in::import_all(&app.server.context.store, peers, dry_run, PARALLEL)
        .await
        .into_iter()
        .map(|(id, outcome)| (id, outcome.expect("the store answers")))
        .collect()
}

fn imported(report: &[(String, Outcome)]) -> Vec<String> {
    report
        .iter()
        .filter(|(_, outcome)| *outcome == Outcome::Imported)
        .map(|(id, _)| id.clone())
        .collect()
}

fn skipped(report: &[(String, Outcome)]) -> Vec<Skip> {
    let mut skips: Vec<Skip> = report
        .iter()
        .filter_map(|(_, outcome)| match outcome {
            Outcome::Skipped(skip) => Some(skip.clone()),
            Outcome::Imported => None,
        })
        .collect();
    skips.sort_by_key(|skip| skip.to_string());
    skips
}

/// The fixture's users (tests/import/README.md).
const ADA: &str = "01a22e08-dbe6-7436-84dd-7729974fac6f";
const PHONE: &str = "01a22e08-dcd5-7d36-8592-41d04d4d22d1";
const WALLET: &str = "01a22e08-ddbd-7b2d-bcb9-c02093d7698a";
const GINA: &str = "01a22e08-ddbe-7083-bc81-7d2fb06ef51c";
const NO_PASSWORD: &str = "01a22e08-dea5-7f84-afd0-b91f060499b7";
const ARGON: &str = "01a22e08-e362-7df3-bc1f-0b9153d8d3bd";

#[tokio::test]
async fn a_peer_export_moves_in_once_and_its_users_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let peers = read(&peer_sqlite(dir.path())).unwrap();
    let app = TestApp::start().await;

    let first = import(&app, peers.clone(), false).await;
    let mut ids = imported(&first);
    ids.sort();
    assert_eq!(ids, [ADA, PHONE, WALLET, GINA, NO_PASSWORD, ARGON]);
    assert_eq!(
        skipped(&first),
        [Skip::NotVerified, Skip::InvalidPhone, Skip::InvalidWallet]
    );
    let mut accounts = Vec::new();
    for id in &ids {
        accounts.push(app.user(id).await.expect("imported"));
    }

    // A second run finds every account and changes none.
    let second = import(&app, peers, false).await;
    assert!(imported(&second).is_empty());
    assert_eq!(
        skipped(&second)
            .iter()
            .filter(|s| **s == Skip::AlreadyImported)
            .count(),
        6
    );
    for account in &accounts {
        assert_eq!(app.user(&account.id).await.as_ref(), Some(account));
    }

    let ada = &accounts[0];
    assert_eq!(ada.email.as_deref(), Some("ada@example.com"));
    assert!(
        ada.password_hash
            .as_deref()
            .unwrap()
            .starts_with("pbkdf2_sha256$")
    );
    assert_eq!(ada.last_login, Some(1_790_856_000));
    assert_eq!(ada.date_joined, 1_790_856_000, "the earliest date known");
    for (email, id) in [("ada@example.com", ADA), ("argon@example.com", ARGON)] {
        let signed_in = app.log_in(email, PASSWORD).await;
        assert_eq!(signed_in.status, 200, "{email}: {:?}", signed_in.body);
        assert_eq!(claims(&access(&signed_in))["sub"], id);
        assert!(stored_hash(&app, id).await.starts_with("$argon2id$"));
    }
    let phone = app
        .post(
            "login/basic/",
            json!({"phone": "+14155550123", "password": PASSWORD}),
        )
        .await;
    assert_eq!(phone.status, 200, "{:?}", phone.body);
    assert_eq!(app.log_in("nopass@example.com", "").await.status, 400);
    assert_eq!(app.log_in("nopass@example.com", PASSWORD).await.status, 401);

    // The wallet was stored lowercase by the peer; it signs in with its key.
    let wallet = wallet_login(&app, &TestWallet::number(1)).await;
    assert_eq!(wallet.status, 200, "{:?}", wallet.body);
    assert_eq!(claims(&access(&wallet))["sub"], WALLET);
    let gina = app.user(GINA).await.unwrap();
    assert_eq!(gina.authentication_types, ["GOOGLE"]);
    assert_eq!(gina.password_hash, None);
    let identity = ProviderIdentity {
        provider: "google",
        subject: "108234567890123456789",
    };
    let owner = user::owner(&app.server.context, &identity).await.unwrap();
    assert_eq!(owner.as_deref(), Some(GINA));
    // Recorded in the account as the social flow records a link (the export lists it,
    // deletion frees it).
    let records = app
        .server
        .context
        .store
        .query_prefix(&user::partition(GINA), blockauth::social::LINK_PREFIX)
        .await
        .unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(
        records[0].text("subject").as_deref(),
        Some(identity.subject)
    );
}

#[tokio::test]
async fn the_json_dump_and_the_sqlite_file_give_the_same_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let (from_sqlite, from_json) = (
        read(&peer_sqlite(dir.path())).unwrap(),
        read(&peer_dump()).unwrap(),
    );
    assert_eq!(from_sqlite.len(), 9);
    let (sqlite_app, json_app) = (TestApp::start().await, TestApp::start().await);
    let by_sqlite = import(&sqlite_app, from_sqlite, false).await;
    let by_json = import(&json_app, from_json, false).await;
    assert_eq!(by_sqlite, by_json);
    for id in imported(&by_sqlite) {
        let (mut a, mut b) = (
            sqlite_app.user(&id).await.unwrap(),
            json_app.user(&id).await.unwrap(),
        );
        // Without a date in the export, `date_joined` is the moment of the import.
        if a.last_login.is_none() && id != GINA {
            assert!((a.date_joined - b.date_joined).abs() <= 5);
            (a.date_joined, b.date_joined) = (0, 0);
        }
        assert_eq!(a, b);
    }
}

#[tokio::test]
async fn an_existing_account_is_never_overwritten() {
    let app = TestApp::start().await;
    let mine = app.sign_up("ada@example.com", NEW_PASSWORD).await;
    let report = import(&app, read(&peer_dump()).unwrap(), false).await;
    let ada = report.iter().find(|(id, _)| id == ADA).unwrap();
    assert_eq!(
        ada.1,
        Outcome::Skipped(Skip::Taken("email:ada@example.com".into()))
    );
    assert_eq!(
        Skip::Taken("email:ada@example.com".into()).to_string(),
        "email:ada@example.com belongs to another account"
    );
    assert!(app.user(ADA).await.is_none(), "nothing of it written");
    assert_eq!(imported(&report).len(), 5);
    let signed_in = app.log_in("ada@example.com", NEW_PASSWORD).await;
    assert_eq!(signed_in.status, 200);
    assert_eq!(
        claims(&access(&signed_in))["sub"],
        claims(&access(&mine))["sub"]
    );
    assert_eq!(app.log_in("ada@example.com", PASSWORD).await.status, 401);
}

#[tokio::test]
async fn a_dry_run_writes_nothing() {
    let app = TestApp::start().await;
    let peers = read(&peer_dump()).unwrap();
    let dry = import(&app, peers.clone(), true).await;
    assert_eq!(imported(&dry).len(), 6, "would be imported");
    for (id, _) in &dry {
        assert!(app.user(id).await.is_none(), "{id}");
    }
    let identity = ProviderIdentity {
        provider: "google",
        subject: "108234567890123456789",
    };
    assert!(
        user::owner(&app.server.context, &identity)
            .await
            .unwrap()
            .is_none()
    );
    let real = import(&app, peers, false).await;
    assert_eq!(imported(&real), imported(&dry));
}

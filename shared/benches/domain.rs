//! The CPU work of one request, piece by piece: what a cold or warm Lambda spends besides
//! waiting on DynamoDB. Run with `cargo bench -p blockauth`; results in
//! `infra/measurements/benchmarks.md`.

use std::collections::BTreeMap;
use std::hint::black_box;

use blockauth::codes::{self, Purpose};
use blockauth::identity::identifier::Identifier;
use blockauth::session::keys::KeySet;
use blockauth::session::settings::Algorithm;
use blockauth::session::token::{KeySource, TokenType, Tokens};
use blockauth::signing_key::SigningKey;
use blockauth::wallet::siwe::SiweMessage;
use blockauth::{Settings, mail::messages, password, wallet};
use criterion::{Criterion, criterion_group, criterion_main};

fn settings(c: &mut Criterion) {
    let values: BTreeMap<String, String> = [
        ("FEATURES", "SIGNUP,BASIC_LOGIN,TOKEN_REFRESH"),
        ("REQUEST_LIMIT", "5"),
        ("OTP_VALIDITY", "120"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    c.bench_function("settings: parse", |b| {
        b.iter(|| Settings::from_values(black_box(&values)))
    });
}

fn tokens(c: &mut Criterion) {
    // Issuing and verifying await nothing with a key in hand: a current-thread runtime
    // only drives them.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let key = SigningKey::from_text(&"k".repeat(64)).expect("key");
    for algorithm in Algorithm::ALL {
        let mut settings = Settings::default();
        settings.session.algorithm = algorithm;
        let tokens = match algorithm {
            Algorithm::Hs256 => Tokens::new(&key, &settings),
            _ => {
                let set = KeySet::generate(algorithm, 0).expect("key set");
                Tokens::with_key_set(&set, KeySource::Fixed, &settings).expect("tokens")
            }
        };
        let name = algorithm.name();
        c.bench_function(&format!("token {name}: issue pair"), |b| {
            b.iter(|| {
                runtime.block_on(tokens.issue(
                    black_box("user-id"),
                    black_box("family"),
                    &Default::default(),
                ))
            })
        });
        let pair = runtime
            .block_on(tokens.issue("user-id", "family", &Default::default()))
            .expect("pair");
        c.bench_function(&format!("token {name}: verify"), |b| {
            b.iter(|| runtime.block_on(tokens.verify(black_box(&pair.access), TokenType::Access)))
        });
    }
}

fn codes_and_messages(c: &mut Criterion) {
    let settings = Settings::default();
    c.bench_function("code: generate", |b| {
        b.iter(|| codes::generate(black_box(6)))
    });
    c.bench_function("message: render code mail", |b| {
        b.iter(|| messages::code(&settings, Purpose::Signup, black_box("123456")))
    });
    c.bench_function("identifier: parse email", |b| {
        b.iter(|| Identifier::email(black_box(" Ada.Lovelace@Example.com ")))
    });
    c.bench_function("password: validate", |b| {
        b.iter(|| {
            settings.password_policy.problems(
                black_box("Correct-Horse-9-Battery"),
                &[("email", "ada@example.com")],
            )
        })
    });
    // A process's first check inflates and sorts Django's list; every later one searches it.
    c.bench_function("password: common list, first check", |b| {
        b.iter(|| {
            password::CommonPasswords::embedded()
                .map(|list| list.is_common(black_box("Correct-Horse-9-Battery")))
        })
    });
    let list = password::CommonPasswords::embedded().expect("the embedded list");
    c.bench_function("password: common list, a check after", |b| {
        b.iter(|| list.is_common(black_box("Correct-Horse-9-Battery")))
    });
}

fn wallets(c: &mut Criterion) {
    let text = "localhost:3000 wants you to sign in with your Ethereum account:
0x337C1a59Da3c795D91344DacAaA362Ef73019cAC

Sign in to BlockAuth.

URI: http://localhost:3000
Version: 1
Chain ID: 1
Nonce: Fixture0Nonce123
Issued At: 2026-11-24T10:00:00Z";
    c.bench_function("siwe: parse message", |b| {
        b.iter(|| SiweMessage::parse(black_box(text)))
    });
    // Signed by eth-account (tests/wallet/vectors.json, "siwe, statement" of wallet 1).
    let signature = "0x8493aed4cc964cc25fe52a2cb734a623fd2d32b5d391193c589585e717692f81206d56e0123cee242de63c099a6d721a984f7e771491e64af9865cd018a76d7d1b";
    let signer = wallet::recover_signer(text.as_bytes(), signature).expect("a valid signature");
    assert_eq!(
        signer.checksummed(),
        "0x337C1a59Da3c795D91344DacAaA362Ef73019cAC"
    );
    c.bench_function("wallet: recover EIP-191 signer", |b| {
        b.iter(|| wallet::recover_signer(black_box(text.as_bytes()), black_box(signature)))
    });
}

fn passwords(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    group.bench_function("argon2id hash (m=19456, t=2, p=1)", |b| {
        b.iter(|| runtime.block_on(password::hash(black_box("Correct-Horse-9-Battery".into()))))
    });
    let hash = runtime
        .block_on(password::hash("Correct-Horse-9-Battery".into()))
        .expect("hash");
    group.bench_function("argon2id verify", |b| {
        b.iter(|| {
            runtime.block_on(password::verify(
                black_box("Correct-Horse-9-Battery".into()),
                Some(hash.clone()),
            ))
        })
    });
    // Hashes moved in from Django (tests/django/vectors.json): a wrong password is checked
    // at the hash's own cost, which an unknown identifier's dummy argon2id does not match.
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/django/vectors.json")).expect("vectors");
    for vector in vectors["vectors"].as_array().expect("a list") {
        let format = vector["format"].as_str().expect("format");
        let stored = vector["hash"].as_str().expect("hash").to_owned();
        group.bench_function(format!("django {format} verify (wrong password)"), |b| {
            b.iter(|| {
                runtime.block_on(password::verify(
                    black_box("Correct-Horse-9-Batterz".into()),
                    Some(stored.clone()),
                ))
            })
        });
    }
    group.bench_function("no account: dummy argon2id", |b| {
        b.iter(|| runtime.block_on(password::verify(black_box("x".into()), None)))
    });
    group.finish();
}

criterion_group!(
    benches,
    settings,
    tokens,
    codes_and_messages,
    wallets,
    passwords
);
criterion_main!(benches);

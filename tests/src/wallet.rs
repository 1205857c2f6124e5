//! Ethereum wallets for the tests. `TestWallet` holds the keys of `tests/wallet/eth_wallet.py`
//! (each the Keccak-256 of a public label) and signs EIP-191 personal messages as wallets do;
//! `eth_account_sign` asks that script, i.e. the real eth-account library, to sign.

use std::io::Write;
use std::process::{Command, Stdio};

use blockauth::wallet::{Address, personal_message_hash};
use serde_json::json;

use crate::{Reply, TestApp};
use k256::ecdsa::SigningKey;
use sha3::{Digest, Keccak256};

/// The vectors `eth_wallet.py vectors` made with eth-account and siwe.
pub const VECTORS: &str = include_str!("../wallet/vectors.json");

pub struct TestWallet {
    pub label: String,
    key: SigningKey,
    /// EIP-55.
    pub address: String,
}

impl TestWallet {
    /// The wallet of `eth_wallet.py`'s label `blockauth test wallet <n>`.
    pub fn number(n: u32) -> Self {
        Self::labelled(&format!("blockauth test wallet {n}"))
    }

    pub fn labelled(label: &str) -> Self {
        let secret = Keccak256::digest(label.as_bytes());
        let key = SigningKey::from_slice(&secret).expect("a Keccak-256 is a valid key here");
        let point = key.verifying_key().to_sec1_point(false);
        let hash = Keccak256::digest(&point.as_bytes()[1..]);
        let lower: String = hash[12..].iter().map(|b| format!("{b:02x}")).collect();
        let address = Address::parse(&format!("0x{lower}"))
            .expect("20 bytes make an address")
            .checksummed();
        TestWallet {
            label: label.to_owned(),
            key,
            address,
        }
    }

    /// `0x` r‖s‖v with v 27 or 28, as `personal_sign` answers.
    pub fn sign(&self, message: &str) -> String {
        let (signature, recovery) = self
            .key
            .sign_prehash_recoverable(&personal_message_hash(message.as_bytes()));
        let mut bytes = signature.to_bytes().to_vec();
        bytes.push(27 + recovery.to_byte());
        format!(
            "0x{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        )
    }
}

/// The Python with eth-account that the test command installed, or None (loudly) where it
/// is not installed. In CI a missing signer is a failure, never a skip.
pub fn eth_account_python() -> Option<String> {
    match std::env::var("WALLET_PYTHON") {
        Ok(python) => Some(python),
        Err(_) if std::env::var("CI").is_ok() => panic!("WALLET_PYTHON is not set: run infra/test"),
        Err(_) => {
            eprintln!(
                "SKIPPED: eth-account is not installed; run `bash infra/test` to include this test"
            );
            None
        }
    }
}

/// `message` signed by eth-account with the key of `label`.
pub fn eth_account_sign(python: &str, label: &str, message: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/wallet/eth_wallet.py");
    let mut child = Command::new(python)
        .args(["-W", "ignore", script, "sign", label])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the eth-account signer starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(message.as_bytes())
        .expect("the message reaches the signer");
    let out = child.wait_with_output().expect("the signer answers");
    assert!(out.status.success(), "eth_wallet.py sign failed");
    String::from_utf8(out.stdout)
        .expect("a hex signature")
        .trim()
        .to_owned()
}

/// A Sign-In with Ethereum challenge for `wallet`: the message to sign.
pub async fn challenge(app: &TestApp, wallet: &TestWallet) -> String {
    let reply = app
        .post(
            "login/wallet/challenge/",
            json!({"address": wallet.address}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["message"]
        .as_str()
        .expect("a message")
        .to_owned()
}

/// `login/wallet/` with a signed message.
pub async fn login(app: &TestApp, message: &str, signature: &str) -> Reply {
    app.post(
        "login/wallet/",
        json!({"message": message, "signature": signature}),
    )
    .await
}

/// Challenge, sign with the test wallet, log in.
pub async fn wallet_login(app: &TestApp, wallet: &TestWallet) -> Reply {
    let message = challenge(app, wallet).await;
    login(app, &message, &wallet.sign(&message)).await
}

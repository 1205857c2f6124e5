//! Sign-In with Ethereum: `login/wallet/challenge/` and `login/wallet/`, with signatures
//! from eth-account (committed vectors, and a live signer) and from the test wallet.

use std::sync::Arc;

use blockauth::wallet::siwe::SiweMessage;
use blockauth::wallet::{SignatureError, recover_signer};
use blockauth_tests::wallet::{
    TestWallet, VECTORS, challenge, eth_account_python, eth_account_sign, login, wallet_login,
};
use blockauth_tests::{Reply, TestApp, access, refresh};
use serde_json::{Value, json};

fn assert_code(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{:?}", reply.body);
    assert_eq!(reply.body["code"], code, "{:?}", reply.body);
}

fn assert_field_error(reply: &Reply, field: &str) {
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert!(reply.body[field].is_array(), "{:?}", reply.body);
}

#[test]
fn eth_account_vectors_verify() {
    let vectors: Vec<Value> = serde_json::from_str(VECTORS).expect("vectors.json");
    assert_eq!(vectors.len(), 15);
    for v in &vectors {
        let kind = v["kind"].as_str().unwrap();
        let message = v["message"].as_str().unwrap();
        let address = v["address"].as_str().unwrap();
        for signature in [&v["signature"], &v["signature_v01"]] {
            let signer = recover_signer(message.as_bytes(), signature.as_str().unwrap())
                .unwrap_or_else(|e| panic!("{kind}: {e:?}"));
            assert_eq!(signer.checksummed(), address, "{kind}");
        }
        assert_eq!(
            recover_signer(message.as_bytes(), v["signature_high_s"].as_str().unwrap()),
            Err(SignatureError::HighS),
            "{kind}"
        );
        if kind.starts_with("siwe") {
            let parsed = SiweMessage::parse(message).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(parsed.address.checksummed(), address);
        }
        // The test wallet signs exactly as eth-account does (RFC 6979 nonces), so the
        // tests below that sign with it stand for a real wallet.
        let wallet = TestWallet::labelled(v["label"].as_str().unwrap());
        assert_eq!(wallet.address, address);
        assert_eq!(wallet.sign(message), v["signature"].as_str().unwrap());
    }
}

#[tokio::test]
async fn eth_account_signs_a_fresh_challenge_and_logs_in() {
    let Some(python) = eth_account_python() else {
        return;
    };
    let app = TestApp::start().await;
    let wallet = TestWallet::number(1);
    let reply = app
        .post(
            "login/wallet/challenge/",
            json!({"address": wallet.address.to_lowercase(), "chain_id": 1}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let message = reply.body["message"].as_str().unwrap();
    let nonce = reply.body["nonce"].as_str().unwrap();
    assert!(
        message.starts_with("localhost:3000 wants you to sign in with your Ethereum account:\n")
    );
    assert!(
        message.contains(&format!("\n{}\n", wallet.address)),
        "EIP-55 address"
    );
    assert!(message.contains(&format!("\nNonce: {nonce}\n")));
    assert!(reply.body["issued_at"].is_string() && reply.body["expires_at"].is_string());

    let signature = eth_account_sign(&python, &wallet.label, message);
    let first = app
        .post(
            "login/wallet/",
            json!({"message": message, "signature": signature, "wallet_address": wallet.address}),
        )
        .await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    let user = &first.body["user"];
    assert_eq!(user["wallet_address"], wallet.address.as_str());
    assert_eq!(user["email"], Value::Null);
    assert_eq!(user["authentication_types"], json!(["WALLET"]));
    assert_eq!(user["is_verified"], true);

    // The same address later is the same account, and its tokens refresh.
    let message = challenge(&app, &wallet).await;
    let again = login(
        &app,
        &message,
        &eth_account_sign(&python, &wallet.label, &message),
    )
    .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    assert_eq!(again.body["user"]["id"], user["id"]);
    let refreshed = app
        .post("token/refresh/", json!({"refresh": refresh(&again)}))
        .await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
}

/// The challenge's message with `edit` applied, signed by `wallet`.
async fn edited(app: &TestApp, wallet: &TestWallet, edit: impl Fn(&str) -> String) -> Reply {
    let message = edit(&challenge(app, wallet).await);
    login(app, &message, &wallet.sign(&message)).await
}

#[tokio::test]
async fn messages_for_another_site_are_refused() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 100).await;
    let wallet = TestWallet::number(2);
    let domain = edited(&app, &wallet, |m| {
        m.replacen("localhost:3000", "evil.example", 1)
    })
    .await;
    assert_field_error(&domain, "message");
    let uri = edited(&app, &wallet, |m| {
        m.replace("URI: http://localhost:3000", "URI: http://evil.example")
    })
    .await;
    assert_field_error(&uri, "message");
    let chain = edited(&app, &wallet, |m| {
        m.replace("Chain ID: 1\n", "Chain ID: 5\n")
    })
    .await;
    assert_field_error(&chain, "message");
    let version = edited(&app, &wallet, |m| m.replace("Version: 1", "Version: 2")).await;
    assert_field_error(&version, "message");
}

#[tokio::test]
async fn expired_and_not_yet_valid_messages_are_refused() {
    let app = TestApp::start().await;
    let wallet = TestWallet::number(1);
    let expired = edited(&app, &wallet, |m| {
        let at = m.find("Expiration Time: ").unwrap();
        format!("{}Expiration Time: 2020-01-01T00:00:00Z", &m[..at])
    })
    .await;
    assert_code(&expired, 401, "message_expired");
    let early = edited(&app, &wallet, |m| {
        format!("{m}\nNot Before: 2999-01-01T00:00:00Z")
    })
    .await;
    assert_code(&early, 401, "message_not_yet_valid");
}

#[tokio::test]
async fn unknown_foreign_and_replayed_nonces_are_refused() {
    let app = TestApp::start().await;
    let ada = TestWallet::number(1);
    let bob = TestWallet::number(2);

    let unknown = edited(&app, &ada, |m| {
        let nonce = m
            .split("Nonce: ")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned();
        m.replace(&nonce, "Unknown0Nonce000")
    })
    .await;
    assert_code(&unknown, 401, "nonce_invalid");

    // Bob's message with a nonce issued to Ada.
    let adas = challenge(&app, &ada).await;
    let bobs = adas.replace(&ada.address, &bob.address);
    assert_code(
        &login(&app, &bobs, &bob.sign(&bobs)).await,
        401,
        "nonce_invalid",
    );

    // Ada's own message works once.
    let signature = ada.sign(&adas);
    assert_eq!(login(&app, &adas, &signature).await.status, 200);
    assert_code(&login(&app, &adas, &signature).await, 401, "nonce_invalid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_parallel_logins_with_one_nonce_make_one_session() {
    let app = Arc::new(TestApp::start_with(|s| s.limits.request_limit = 100).await);
    let wallet = TestWallet::number(3);
    let message = challenge(&app, &wallet).await;
    let signature = wallet.sign(&message);
    let replies = blockauth_tests::parallel(20, |_| {
        let (app, message, signature) = (app.clone(), message.clone(), signature.clone());
        async move { login(&app, &message, &signature).await }
    })
    .await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    for reply in replies.iter().filter(|r| r.status != 200) {
        assert_code(reply, 401, "nonce_invalid");
    }
    // One account for the address.
    let again = wallet_login(&app, &wallet).await;
    let first = replies.iter().find(|r| r.status == 200).unwrap();
    assert_eq!(again.body["user"]["id"], first.body["user"]["id"]);
}

#[tokio::test]
async fn bad_signatures_are_refused() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 100).await;
    let ada = TestWallet::number(1);
    let mallory = TestWallet::labelled("mallory");

    let message = challenge(&app, &ada).await;
    assert_code(
        &login(&app, &message, &mallory.sign(&message)).await,
        401,
        "signature_invalid",
    );
    // Signed, then changed: the signature no longer recovers Ada.
    let signature = ada.sign(&message);
    let tampered = message.replace("Sign in to BlockAuth.", "Sign in to BlockAuth!");
    assert_code(
        &login(&app, &tampered, &signature).await,
        401,
        "signature_invalid",
    );

    for bad in [
        "0x1234".to_owned(),
        format!("0x{}", "zz".repeat(65)),
        signature[..130].to_owned(),
        format!("{}1d", &signature[..130]),
    ] {
        assert_field_error(&login(&app, &message, &bad).await, "signature");
    }

    // The same signature in high-s form (s' = n - s, v flipped) is refused, not recovered.
    let vectors: Vec<Value> = serde_json::from_str(VECTORS).unwrap();
    let v = &vectors[0];
    let high_s = login(
        &app,
        v["message"].as_str().unwrap(),
        v["signature_high_s"].as_str().unwrap(),
    )
    .await;
    assert_field_error(&high_s, "signature");
    assert!(
        high_s.body["signature"][0]
            .as_str()
            .unwrap()
            .contains("EIP-2")
    );

    // v as 0/1 is accepted like 27/28.
    let message = challenge(&app, &ada).await;
    let signature = ada.sign(&message);
    let v01 = format!(
        "{}{:02x}",
        &signature[..130],
        u8::from_str_radix(&signature[130..], 16).unwrap() - 27
    );
    assert_eq!(login(&app, &message, &v01).await.status, 200);
}

#[tokio::test]
async fn malformed_and_oversized_requests_are_field_errors() {
    let app = TestApp::start().await;
    let ada = TestWallet::number(1);
    let message = challenge(&app, &ada).await;
    let signature = ada.sign(&message);

    let garbled = login(&app, "hello", &signature).await;
    assert_field_error(&garbled, "message");
    assert!(
        garbled.body["message"][0]
            .as_str()
            .unwrap()
            .contains("EIP-4361")
    );
    let long = format!("{message}\nResources:\n- https://{}", "a".repeat(5000));
    assert_field_error(&login(&app, &long, &ada.sign(&long)).await, "message");
    let missing = app.post("login/wallet/", json!({"message": message})).await;
    assert_field_error(&missing, "signature");
    let wrong_type = app
        .post(
            "login/wallet/",
            json!({"message": 7, "signature": signature}),
        )
        .await;
    assert_field_error(&wrong_type, "message");
    let other = TestWallet::number(2);
    let mismatch = app
        .post(
            "login/wallet/",
            json!({"message": message, "signature": signature, "wallet_address": other.address}),
        )
        .await;
    assert_field_error(&mismatch, "wallet_address");

    for body in [
        json!({}),
        json!({"address": "0x1234"}),
        json!({"address": ada.address.replacen('C', "c", 1)}),
        json!({"address": 12}),
    ] {
        let reply = app.post("login/wallet/challenge/", body).await;
        assert_field_error(&reply, "address");
    }
    for chain_id in [json!(5), json!("one"), json!(-1), json!(1.5)] {
        let reply = app
            .post(
                "login/wallet/challenge/",
                json!({"address": ada.address, "chain_id": chain_id}),
            )
            .await;
        assert_field_error(&reply, "chain_id");
    }
}

#[tokio::test]
async fn challenges_are_rate_limited() {
    let app = TestApp::start().await;
    let ada = TestWallet::number(1);
    for _ in 0..3 {
        challenge(&app, &ada).await;
    }
    let fourth = app
        .post("login/wallet/challenge/", json!({"address": ada.address}))
        .await;
    assert_code(&fourth, 429, "throttled");
    assert!(fourth.header("retry-after").is_some());
    // Another address is another counter.
    challenge(&app, &TestWallet::number(2)).await;
}

#[tokio::test]
async fn unknown_addresses_get_no_account_when_auto_create_is_off() {
    let app = TestApp::start_with(|s| s.wallet.login_auto_create = false).await;
    let reply = wallet_login(&app, &TestWallet::number(1)).await;
    assert_code(&reply, 401, "no_account");
}

#[tokio::test]
async fn other_chains_and_domains_follow_the_settings() {
    let app = TestApp::start_with(|s| {
        s.wallet.domain = "app.example.com".into();
        s.wallet.uri = "https://app.example.com".into();
        s.wallet.chain_ids = vec![137, 1];
    })
    .await;
    let ada = TestWallet::number(1);
    let message = challenge(&app, &ada).await;
    assert!(message.starts_with("app.example.com wants you"));
    assert!(message.contains("\nChain ID: 137\n"));
    assert_eq!(login(&app, &message, &ada.sign(&message)).await.status, 200);
    let reply = app
        .post(
            "login/wallet/challenge/",
            json!({"address": ada.address, "chain_id": 1}),
        )
        .await;
    let message = reply.body["message"].as_str().unwrap();
    // A scheme that matches WALLET_URI's is accepted in the message.
    let with_scheme = format!("https://{message}");
    let reply = login(&app, &with_scheme, &ada.sign(&with_scheme)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert!(!access(&reply).is_empty());
}

//! A failing dependency gets 503 with nothing half-written.

use blockauth_tests::wallet::TestWallet;
use blockauth_tests::{PASSWORD, TestApp, access};
use serde_json::json;

#[tokio::test]
async fn dynamodb_down_gets_503_and_sends_nothing() {
    let app = TestApp::start_embedded().await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let wallet = TestWallet::number(1);
    let wallet_session = blockauth_tests::wallet::wallet_login(&app, &wallet).await;
    let challenge = app
        .post(
            "login/wallet/challenge/",
            json!({"address": wallet.address}),
        )
        .await;
    let message = challenge.body["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.server.stop_dynamodb();
    // Let the embedded server close its listener.
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(app.server.dynamodb_address)
            .await
            .is_err()
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let requests = [
        (
            "signup/",
            json!({"email": "grace@example.com", "password": PASSWORD}),
        ),
        ("signup/otp/resend/", json!({"email": "grace@example.com"})),
        (
            "signup/confirm/",
            json!({"email": "grace@example.com", "otp": "123456"}),
        ),
        (
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        ),
        ("token/refresh/", json!({"refresh": login.body["refresh"]})),
        ("token/revoke/", json!({"refresh": login.body["refresh"]})),
        (
            "login/wallet/challenge/",
            json!({"address": wallet.address}),
        ),
        (
            "login/wallet/",
            json!({"message": message, "signature": wallet.sign(&message)}),
        ),
        ("wallet/email/add/", json!({"email": "grace@example.com"})),
    ];
    for (route, body) in requests {
        // The token matters only to the protected route.
        let reply = app
            .send(
                app.http
                    .post(app.url(route))
                    .bearer_auth(access(&wallet_session))
                    .json(&body),
            )
            .await;
        assert_eq!(reply.status, 503, "{route}: {:?}", reply.body);
        assert_eq!(reply.body["code"], "service_unavailable");
    }
    assert!(app.messages_to("grace@example.com").is_empty());
}

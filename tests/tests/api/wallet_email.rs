//! Adding an email to a wallet account: `wallet/email/add/` and its confirm (protected).

use std::sync::Arc;

use blockauth_tests::wallet::TestWallet;
use blockauth_tests::{PASSWORD, Reply, TestApp, access, code_in};
use serde_json::json;

use blockauth_tests::wallet::wallet_login;

const ADD: &str = "wallet/email/add/";
const CONFIRM: &str = "wallet/email/add/confirm/";

async fn stored_email(app: &TestApp, user_id: &str) -> Option<String> {
    blockauth::identity::user::get(&app.server.context, user_id)
        .await
        .expect("the store answers")
        .expect("the user exists")
        .email
}

fn user_id(reply: &Reply) -> String {
    reply.body["user"]["id"]
        .as_str()
        .expect("a user id")
        .to_owned()
}

#[tokio::test]
async fn a_wallet_account_gets_a_verified_email() {
    let app = TestApp::start().await;
    let signed_in = wallet_login(&app, &TestWallet::number(1)).await;
    let token = access(&signed_in);
    let id = user_id(&signed_in);

    let sent = app
        .post_as(&token, ADD, json!({"email": " Ada@Example.com "}))
        .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    assert!(sent.body["message"].is_string());
    // Nothing changes until the code comes back.
    assert_eq!(stored_email(&app, &id).await, None);

    let code = app.code_for("ada@example.com");
    let wrong = app
        .post_as(
            &token,
            CONFIRM,
            json!({"email": "ada@example.com", "otp": "000000"}),
        )
        .await;
    assert_eq!(wrong.status, 400, "{:?}", wrong.body);
    assert_eq!(wrong.body["code"], "otp_invalid");

    let confirmed = app
        .post_as(
            &token,
            CONFIRM,
            json!({"email": "ada@example.com", "code": code}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert!(confirmed.body["access"].is_string() && confirmed.body["refresh"].is_string());
    assert_eq!(confirmed.body["user"]["email"], "ada@example.com");
    assert_eq!(confirmed.body["user"]["id"], id.as_str());
    assert_eq!(
        stored_email(&app, &id).await.as_deref(),
        Some("ada@example.com")
    );

    // The email now signs in to the same account, passwordless.
    app.post("login/passwordless/", json!({"email": "ada@example.com"}))
        .await;
    let code = app.code_for("ada@example.com");
    let by_email = app
        .post(
            "login/passwordless/confirm/",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(by_email.status, 200, "{:?}", by_email.body);
    assert_eq!(by_email.body["user"]["id"], id.as_str());
    assert_eq!(
        by_email.body["user"]["wallet_address"],
        TestWallet::number(1).address.as_str()
    );

    // A second email is refused: that is what email change is for.
    let again = app
        .post_as(
            &access(&confirmed),
            ADD,
            json!({"email": "other@example.com"}),
        )
        .await;
    assert_eq!(again.status, 409, "{:?}", again.body);
    assert_eq!(again.body["code"], "email_exists");
}

#[tokio::test]
async fn an_email_of_another_account_gets_the_same_answer_and_its_owner_a_notice() {
    let app = TestApp::start().await;
    app.sign_up("taken@example.com", PASSWORD).await;
    let wallet = wallet_login(&app, &TestWallet::number(1)).await;
    let free = app
        .post_as(&access(&wallet), ADD, json!({"email": "free@example.com"}))
        .await;
    let reply = app
        .post_as(&access(&wallet), ADD, json!({"email": "taken@example.com"}))
        .await;
    assert_eq!((reply.status, &reply.body), (free.status, &free.body));
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let mail = app.messages_to("taken@example.com");
    assert_eq!(mail.len(), 2, "the signup code, then one notice");
    assert!(code_in(&mail[1]).is_none(), "no code: {}", mail[1]);
    // The code for a free address names the wallet account that asked.
    let address = wallet.body["user"]["wallet_address"].as_str().unwrap();
    assert!(app.messages_to("free@example.com")[0].contains(address));
}

#[tokio::test]
async fn only_wallet_accounts_with_a_token_may_add() {
    let app = TestApp::start().await;
    let unauthenticated = app.post(ADD, json!({"email": "ada@example.com"})).await;
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(unauthenticated.header("www-authenticate"), Some("Bearer"));
    let confirm = app
        .post(
            CONFIRM,
            json!({"email": "ada@example.com", "otp": "123456"}),
        )
        .await;
    assert_eq!(confirm.status, 401);

    let email_account = app.sign_up("ada@example.com", PASSWORD).await;
    let reply = app
        .post_as(
            &access(&email_account),
            ADD,
            json!({"email": "bob@example.com"}),
        )
        .await;
    assert_eq!(reply.status, 403, "{:?}", reply.body);
    assert_eq!(reply.body["code"], "not_a_wallet_account");

    let wallet = wallet_login(&app, &TestWallet::number(1)).await;
    for body in [
        json!({}),
        json!({"email": "not-an-email"}),
        json!({"email": 5}),
    ] {
        let reply = app.post_as(&access(&wallet), ADD, body).await;
        assert_eq!(reply.status, 400, "{:?}", reply.body);
        assert!(reply.body["email"].is_array());
    }
}

#[tokio::test]
async fn a_code_sent_for_another_account_does_not_work() {
    let app = TestApp::start().await;
    let ada = wallet_login(&app, &TestWallet::number(1)).await;
    let bob = wallet_login(&app, &TestWallet::number(2)).await;
    app.post_as(&access(&ada), ADD, json!({"email": "shared@example.com"}))
        .await;
    // Bob asks for the same address: his code replaces Ada's.
    app.post_as(&access(&bob), ADD, json!({"email": "shared@example.com"}))
        .await;
    let bobs_code = app.code_for("shared@example.com");
    let reply = app
        .post_as(
            &access(&ada),
            CONFIRM,
            json!({"email": "shared@example.com", "otp": bobs_code}),
        )
        .await;
    assert_eq!(reply.status, 400, "{:?}", reply.body);
    assert_eq!(stored_email(&app, &user_id(&ada)).await, None);
    let reply = app
        .post_as(
            &access(&bob),
            CONFIRM,
            json!({"email": "shared@example.com", "otp": bobs_code}),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_confirms_attach_one_email_once() {
    let app = Arc::new(TestApp::start_with(|s| s.limits.request_limit = 100).await);
    let signed_in = wallet_login(&app, &TestWallet::number(1)).await;
    let token = access(&signed_in);

    // Twenty confirms of one code: one wins.
    app.post_as(&token, ADD, json!({"email": "one@example.com"}))
        .await;
    let code = app.code_for("one@example.com");
    let statuses = blockauth_tests::parallel(20, |_| {
        let (app, token, code) = (app.clone(), token.clone(), code.clone());
        async move {
            app.post_as(
                &token,
                CONFIRM,
                json!({"email": "one@example.com", "otp": code}),
            )
            .await
            .status
        }
    })
    .await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );

    // Two codes for two addresses, confirmed at once: one address is attached, and the
    // other stays free for anyone.
    let other = wallet_login(&app, &TestWallet::number(2)).await;
    let token = access(&other);
    for email in ["x@example.com", "y@example.com"] {
        app.post_as(&token, ADD, json!({"email": email})).await;
    }
    let emails = ["x@example.com", "y@example.com"];
    let replies = blockauth_tests::parallel(emails.len(), |i| {
        let (app, token, email) = (app.clone(), token.clone(), emails[i]);
        let code = app.code_for(email);
        async move {
            app.post_as(&token, CONFIRM, json!({"email": email, "otp": code}))
                .await
        }
    })
    .await;
    let won: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(won.len(), 1, "{replies:?}");
    let lost = replies.iter().find(|r| r.status != 200).unwrap();
    assert_eq!(lost.status, 409, "{:?}", lost.body);
    let attached = won[0].body["user"]["email"].as_str().unwrap();
    let free = if attached == "x@example.com" {
        "y@example.com"
    } else {
        "x@example.com"
    };
    let third = app.sign_up(free, PASSWORD).await;
    assert_eq!(third.status, 200);
}

#[tokio::test]
async fn requests_are_rate_limited_per_account() {
    let app = TestApp::start().await;
    let token = access(&wallet_login(&app, &TestWallet::number(1)).await);
    for n in 0..3 {
        let reply = app
            .post_as(&token, ADD, json!({"email": format!("a{n}@example.com")}))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let fourth = app
        .post_as(&token, ADD, json!({"email": "a3@example.com"}))
        .await;
    assert_eq!(fourth.status, 429);
    assert!(fourth.header("retry-after").is_some());
}

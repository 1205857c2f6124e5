use std::sync::Arc;

use blockauth_tests::{PASSWORD, TestApp, access, code_in};
use serde_json::json;

#[tokio::test]
async fn email_change_moves_the_account_and_tells_the_old_address() {
    let app = TestApp::start().await;
    let login = app.sign_up("ada@example.com", PASSWORD).await;
    let asked = app
        .post_as(
            &access(&login),
            "email/change/",
            json!({"new_email": "Ada@New.example"}),
        )
        .await;
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    let code = app.code_for("ada@new.example");
    let confirmed = app
        .post(
            "email/change/confirm/",
            json!({"email": "ada@new.example", "otp": code}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert!(confirmed.body["message"].is_string());
    assert_eq!(confirmed.body["user"]["email"], "ada@new.example");
    assert_eq!(confirmed.body["user"]["id"], login.body["user"]["id"]);
    let notice = app.messages_to("ada@example.com");
    assert!(
        notice
            .last()
            .unwrap()
            .contains("was changed to ada@new.example")
    );

    let old = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(old.status, 401);
    let new = app
        .post(
            "login/basic/",
            json!({"email": "ada@new.example", "password": PASSWORD}),
        )
        .await;
    assert_eq!(new.status, 200);
    // The old address is free again.
    let reuse = app.sign_up("ada@example.com", PASSWORD).await;
    assert_ne!(reuse.body["user"]["id"], login.body["user"]["id"]);
}

#[tokio::test]
async fn an_address_of_another_account_gets_the_same_answer_and_its_owner_a_notice() {
    let app = TestApp::start().await;
    let ada = app.sign_up("ada@example.com", PASSWORD).await;
    app.sign_up("grace@example.com", PASSWORD).await;
    let free = app
        .post_as(
            &access(&ada),
            "email/change/",
            json!({"new_email": "free@example.com"}),
        )
        .await;
    let taken = app
        .post_as(
            &access(&ada),
            "email/change/",
            json!({"new_email": "GRACE@example.com"}),
        )
        .await;
    assert_eq!((taken.status, &taken.body), (free.status, &free.body));
    assert_eq!(taken.status, 200);
    let mail = app.messages_to("grace@example.com");
    assert_eq!(mail.len(), 2, "the signup code, then one notice");
    assert!(code_in(&mail[1]).is_none(), "no code: {}", mail[1]);
    assert!(mail[1].contains("already belongs to your account"));
    // The code for a free address names the account that asked.
    assert!(app.messages_to("free@example.com")[0].contains("ada@example.com"));
    let same = app
        .post_as(
            &access(&ada),
            "email/change/",
            json!({"new_email": "ada@example.com"}),
        )
        .await;
    assert_eq!(same.status, 400);
    assert!(same.body["new_email"].is_array());
    let bad = app
        .post_as(&access(&ada), "email/change/", json!({"new_email": "nope"}))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body,
        json!({"new_email": ["Enter a valid email address."]})
    );
}

#[tokio::test]
async fn an_address_taken_after_the_code_was_sent_is_409_at_confirm() {
    let app = TestApp::start().await;
    let ada = app.sign_up("ada@example.com", PASSWORD).await;
    app.post_as(
        &access(&ada),
        "email/change/",
        json!({"new_email": "shared@example.com"}),
    )
    .await;
    let code = app.code_for("shared@example.com");
    // Meanwhile someone signs up with that address.
    app.sign_up("shared@example.com", PASSWORD).await;
    let confirmed = app
        .post(
            "email/change/confirm/",
            json!({"email": "shared@example.com", "otp": code}),
        )
        .await;
    // The email-change code is still valid (signup codes have a purpose of their own), so
    // the change reaches its transaction, where claiming the address fails.
    assert_eq!(confirmed.status, 409, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["code"], "email_taken");
    let still = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(still.status, 200, "nothing moved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_accounts_racing_for_one_address_one_wins() {
    let app = Arc::new(TestApp::start_with(|s| s.limits.request_limit = 100).await);
    let ada = app.sign_up("ada@example.com", PASSWORD).await;
    let grace = app.sign_up("grace@example.com", PASSWORD).await;
    // Both ask; the second code replaces the first for that address.
    for who in [&ada, &grace] {
        let asked = app
            .post_as(
                &access(who),
                "email/change/",
                json!({"new_email": "prize@example.com"}),
            )
            .await;
        assert_eq!(asked.status, 200);
    }
    let codes: Vec<String> = app
        .messages_to("prize@example.com")
        .iter()
        .filter_map(|m| blockauth_tests::code_in(m))
        .collect();
    assert_eq!(codes.len(), 2);
    let replies = blockauth_tests::parallel(codes.len(), |i| {
        let (app, code) = (app.clone(), codes[i].clone());
        async move {
            app.post(
                "email/change/confirm/",
                json!({"email": "prize@example.com", "otp": code}),
            )
            .await
        }
    })
    .await;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{replies:?}");
    let loser = replies.iter().find(|r| r.status != 200).unwrap();
    assert!(matches!(loser.status, 400 | 409), "{loser:?}");
    let owner = app
        .post(
            "login/basic/",
            json!({"email": "prize@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(owner.body["user"]["id"], winners[0].body["user"]["id"]);
}

#[tokio::test]
async fn email_change_needs_a_token_and_a_right_code() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 100).await;
    let unauthenticated = app
        .post("email/change/", json!({"new_email": "x@example.com"}))
        .await;
    assert_eq!(unauthenticated.status, 401);
    let ada = app.sign_up("ada@example.com", PASSWORD).await;
    app.post_as(
        &access(&ada),
        "email/change/",
        json!({"new_email": "new@example.com"}),
    )
    .await;
    let code = app.code_for("new@example.com");
    let wrong = if code == "123123" { "321321" } else { "123123" };
    let reply = app
        .post(
            "email/change/confirm/",
            json!({"email": "new@example.com", "otp": wrong}),
        )
        .await;
    assert_eq!(reply.status, 400);
    let other_address = app
        .post(
            "email/change/confirm/",
            json!({"email": "other@example.com", "otp": code}),
        )
        .await;
    assert_eq!(other_address.status, 400);
}

#[tokio::test]
async fn email_change_is_rate_limited() {
    let app = TestApp::start().await;
    let ada = app.sign_up("ada@example.com", PASSWORD).await;
    for i in 0..3 {
        let reply = app
            .post_as(
                &access(&ada),
                "email/change/",
                json!({"new_email": format!("n{i}@example.com")}),
            )
            .await;
        assert_eq!(reply.status, 200);
    }
    let reply = app
        .post_as(
            &access(&ada),
            "email/change/",
            json!({"new_email": "n4@example.com"}),
        )
        .await;
    assert_eq!(reply.status, 429);
}

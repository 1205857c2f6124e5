use blockauth_tests::{PASSWORD, TestApp, claims, code_in};
use serde_json::json;

#[tokio::test]
async fn signup_then_confirm_returns_tokens_and_the_user() {
    let app = TestApp::start().await;
    let started = app
        .post(
            "signup/",
            json!({"email": " Ada@Example.com ", "password": PASSWORD}),
        )
        .await;
    assert_eq!(started.status, 200);
    assert!(started.body["message"].is_string());

    let mail = app.messages_to("ada@example.com");
    assert_eq!(mail.len(), 1);
    assert!(mail[0].contains("text/plain") && mail[0].contains("text/html"));
    assert!(mail[0].contains("expires in 1 minute"));
    let code = app.code_for("ada@example.com");
    assert_eq!(code.len(), 6);

    let confirmed = app
        .post(
            "signup/confirm/",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let user = &confirmed.body["user"];
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["is_verified"], true);
    assert_eq!(user["authentication_types"], json!(["EMAIL"]));
    assert_eq!(user["phone"], json!(null));
    assert!(user["date_joined"].as_str().unwrap().ends_with('Z'));
    let fields: Vec<&String> = user.as_object().unwrap().keys().collect();
    assert!(
        !fields
            .iter()
            .any(|f| f.contains("password") || f.contains("hash"))
    );

    let access = claims(confirmed.body["access"].as_str().unwrap());
    let refresh = claims(confirmed.body["refresh"].as_str().unwrap());
    assert_eq!(access["type"], "access");
    assert_eq!(refresh["type"], "refresh");
    assert_eq!(access["user_id"], user["id"]);
    assert_eq!(access["sub"], user["id"]);
    assert_eq!(access["iss"], "blockauth");
    assert_eq!(access["aud"], "blockauth");
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        3600
    );
    assert_eq!(
        refresh["exp"].as_i64().unwrap() - refresh["iat"].as_i64().unwrap(),
        86400
    );

    // The code was single use.
    let again = app
        .post(
            "signup/confirm/",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body["code"], "otp_invalid");
}

#[tokio::test]
async fn the_aliases_of_later_blockauth_releases_are_accepted() {
    let app = TestApp::start().await;
    let started = app
        .post(
            "signup",
            json!({"identifier": "grace@example.com", "method": "email", "password": PASSWORD}),
        )
        .await;
    assert_eq!(started.status, 200);
    let code = app.code_for("grace@example.com");
    let confirmed = app
        .post(
            "signup/confirm",
            json!({"identifier": "grace@example.com", "code": code}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["user"]["email"], "grace@example.com");
}

#[tokio::test]
async fn a_phone_number_signs_up_by_sms() {
    let app = TestApp::start().await;
    let started = app
        .post(
            "signup/",
            json!({"phone": "+14155550123", "password": PASSWORD}),
        )
        .await;
    assert_eq!(started.status, 200);
    let sms = app.messages_to("+14155550123");
    assert_eq!(sms.len(), 1);
    let code = code_in(&sms[0]);
    let confirmed = app
        .post(
            "signup/confirm/",
            json!({"identifier": "+14155550123", "method": "sms", "otp": code.unwrap()}),
        )
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(confirmed.body["user"]["phone"], "+14155550123");
    assert_eq!(
        confirmed.body["user"]["authentication_types"],
        json!(["PHONE"])
    );
}

#[tokio::test]
async fn signing_up_an_existing_account_reveals_nothing_and_tells_the_owner() {
    let app = TestApp::start().await;
    app.sign_up("ada@example.com", PASSWORD).await;
    let fresh = app
        .post(
            "signup/",
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    let existing = app
        .post(
            "signup/",
            json!({"email": "ADA@example.com", "password": "Another-Pass-42"}),
        )
        .await;
    assert_eq!(existing.status, fresh.status);
    assert_eq!(existing.body, fresh.body);
    assert_eq!(
        existing.headers.get("content-length"),
        fresh.headers.get("content-length")
    );

    let mail = app.messages_to("ada@example.com");
    assert_eq!(mail.len(), 2);
    assert!(mail[1].contains("already have"));
    assert_eq!(code_in(&mail[1]), None);
    // No code exists, so nothing can be confirmed; the account keeps its password.
    let confirm = app
        .post(
            "signup/confirm/",
            json!({"email": "ada@example.com", "otp": "000000"}),
        )
        .await;
    assert_eq!(confirm.status, 400);
    let login = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200);
}

#[tokio::test]
async fn weak_passwords_are_field_errors_and_send_nothing() {
    let app = TestApp::start().await;
    let reply = app
        .post(
            "signup/",
            json!({"email": "ada@example.com", "password": "password"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    let problems = reply.body["password"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.as_str().unwrap().contains("too common"))
    );
    assert!(app.messages_to("ada@example.com").is_empty());

    let similar = app
        .post(
            "signup/",
            json!({"email": "adalovelace@example.com", "password": "Adalovelace-1"}),
        )
        .await;
    assert_eq!(similar.status, 400);
    assert!(
        similar.body["password"][0]
            .as_str()
            .unwrap()
            .contains("similar")
    );
}

#[tokio::test]
async fn a_code_dies_after_the_attempt_cap() {
    let app = TestApp::start_with(|s| s.limits.request_limit = 100).await;
    app.post(
        "signup/",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    let code = app.code_for("ada@example.com");
    let wrong = if code == "111111" { "222222" } else { "111111" };
    for _ in 0..5 {
        let reply = app
            .post(
                "signup/confirm/",
                json!({"email": "ada@example.com", "otp": wrong}),
            )
            .await;
        assert_eq!(reply.status, 400);
        assert_eq!(reply.body["code"], "otp_invalid");
    }
    let right = app
        .post(
            "signup/confirm/",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(right.status, 400, "the code is dead after 5 wrong tries");
}

#[tokio::test]
async fn malformed_codes_are_refused() {
    let app = TestApp::start().await;
    app.post(
        "signup/",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    for bad in ["12345", "1234567", "abcdef", "12 456"] {
        let reply = app
            .post(
                "signup/confirm/",
                json!({"email": "ada@example.com", "otp": bad}),
            )
            .await;
        if reply.status == 429 {
            break;
        }
        assert_eq!(reply.status, 400, "{bad}");
        assert_eq!(reply.body["code"], "otp_invalid");
    }
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = TestApp::start_with(|s| s.codes.validity = 1).await;
    app.post(
        "signup/",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    let code = app.code_for("ada@example.com");
    // Validity is counted in whole seconds: after two, the code has expired.
    tokio::time::sleep(std::time::Duration::from_millis(2000)).await;
    let reply = app
        .post(
            "signup/confirm/",
            json!({"email": "ada@example.com", "otp": code}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["code"], "otp_invalid");
}

#[tokio::test]
async fn resend_replaces_the_code_and_answers_the_same_for_anyone() {
    let app = TestApp::start().await;
    app.post(
        "signup/",
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    let first = app.code_for("ada@example.com");
    let resent = app
        .post("signup/otp/resend/", json!({"email": "ada@example.com"}))
        .await;
    let unknown = app
        .post("signup/otp/resend/", json!({"email": "nobody@example.com"}))
        .await;
    assert_eq!(resent.status, 200);
    assert_eq!((unknown.status, &unknown.body), (200, &resent.body));
    // Everyone gets one message; only a waiting signup gets a code.
    let nobody = app.messages_to("nobody@example.com");
    assert_eq!(nobody.len(), 1);
    assert_eq!(code_in(&nobody[0]), None);
    let second = app.code_for("ada@example.com");
    assert_eq!(app.messages_to("ada@example.com").len(), 2);
    if first != second {
        let old = app
            .post(
                "signup/confirm/",
                json!({"email": "ada@example.com", "otp": first}),
            )
            .await;
        assert_eq!(old.status, 400, "the old code was replaced");
    }
    let new = app
        .post(
            "signup/confirm/",
            json!({"email": "ada@example.com", "otp": second}),
        )
        .await;
    assert_eq!(new.status, 200);
}

#[tokio::test]
async fn confirming_without_a_signup_fails() {
    let app = TestApp::start().await;
    let reply = app
        .post(
            "signup/confirm/",
            json!({"email": "ghost@example.com", "otp": "123456"}),
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["code"], "otp_invalid");
}

#[tokio::test]
async fn signup_is_rate_limited_per_identifier() {
    let app = TestApp::start().await;
    for _ in 0..3 {
        let ok = app
            .post("signup/otp/resend/", json!({"email": "ada@example.com"}))
            .await;
        assert_eq!(ok.status, 200);
    }
    let throttled = app
        .post("signup/otp/resend/", json!({"email": "ada@example.com"}))
        .await;
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.body["code"], "throttled");
    let retry_after: u64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "within the window");
    // Another identifier has its own budget.
    let other = app
        .post("signup/otp/resend/", json!({"email": "grace@example.com"}))
        .await;
    assert_eq!(other.status, 200);
}

#[tokio::test]
async fn disabled_features_have_no_routes() {
    let app = TestApp::start_with(|s| {
        s.features = [blockauth::Feature::BasicLogin].into_iter().collect()
    })
    .await;
    let reply = app
        .post(
            "signup/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["code"], "not_found");
    let login = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 401);
}

//! A stranger's moves against the flows: each test is a step somebody else takes first or
//! in between, often from other client networks (`TestApp::post_from`), and what the owner
//! must still be able to do afterwards.

use blockauth_tests::{PASSWORD, TestApp, access, code_in, parallel};
use serde_json::json;

const ADA: &str = "ada@example.com";
/// A valid password that a stranger chose.
const STRANGER: &str = "Stranger-Chosen-7!";

async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    app.post(
        "login/basic/",
        json!({"email": email, "password": password}),
    )
    .await
    .status
}

async fn sign_up_step(app: &TestApp, host: u8, password: &str) {
    let reply = app
        .post_from(host, "signup/", json!({"email": ADA, "password": password}))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
}

async fn confirm_signup(app: &TestApp, password: Option<&str>) -> blockauth_tests::Reply {
    let mut body = json!({"email": ADA, "otp": app.code_for(ADA)});
    if let Some(password) = password {
        body["password"] = json!(password);
    }
    app.post("signup/confirm/", body).await
}

/// The account exists with the owner's password, and the stranger's does not open it.
async fn assert_owner_s_password(app: &TestApp, confirmed: &blockauth_tests::Reply) {
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    assert_eq!(login_status(app, ADA, PASSWORD).await, 200);
    assert_eq!(login_status(app, ADA, STRANGER).await, 401);
}

#[tokio::test]
async fn a_second_signup_never_sets_the_password_of_the_account() {
    let app = TestApp::start().await;
    sign_up_step(&app, 1, PASSWORD).await;
    sign_up_step(&app, 9, STRANGER).await;
    // The owner has the newest code (the stranger's signup sent it to the owner's inbox).
    let seeds_body = confirm_signup(&app, None).await;
    assert_eq!(seeds_body.status, 400, "{:?}", seeds_body.body);
    assert!(seeds_body.body["password"].is_array());
    assert_owner_s_password(&app, &confirm_signup(&app, Some(PASSWORD)).await).await;
}

#[tokio::test]
async fn a_stranger_who_signs_up_first_cannot_own_the_account() {
    let app = TestApp::start().await;
    sign_up_step(&app, 9, STRANGER).await;
    sign_up_step(&app, 1, PASSWORD).await;
    assert_owner_s_password(&app, &confirm_signup(&app, Some(PASSWORD)).await).await;
}

#[tokio::test]
async fn the_same_password_twice_still_confirms_with_the_code_alone() {
    let app = TestApp::start().await;
    sign_up_step(&app, 1, PASSWORD).await;
    sign_up_step(&app, 1, PASSWORD).await;
    let confirmed = confirm_signup(&app, None).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
}

#[tokio::test]
async fn a_password_the_signup_never_saw_is_refused_and_spends_nothing() {
    let app = TestApp::start().await;
    sign_up_step(&app, 1, PASSWORD).await;
    let wrong = confirm_signup(&app, Some(STRANGER)).await;
    assert_eq!(wrong.status, 400, "{:?}", wrong.body);
    assert!(wrong.body["password"].is_array());
    assert_owner_s_password(&app, &confirm_signup(&app, Some(PASSWORD)).await).await;
}

#[tokio::test]
async fn resends_and_later_signups_never_extend_a_pending_signup() {
    let app = TestApp::start().await;
    let expires_at = || async {
        let item = app
            .server
            .context
            .store
            .get(&format!("SIGNUP#email:{ADA}"), "SIGNUP")
            .await
            .unwrap()
            .expect("a pending signup");
        item.number("expires_at").unwrap()
    };
    sign_up_step(&app, 1, PASSWORD).await;
    let first = expires_at().await;
    assert!(first - blockauth::clock::now() <= blockauth::identity::pending_signup::LIFETIME);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let resent = app.post("signup/otp/resend/", json!({"email": ADA})).await;
    assert_eq!(resent.status, 200);
    sign_up_step(&app, 9, STRANGER).await;
    assert_eq!(expires_at().await, first);
}

#[tokio::test]
async fn strangers_signing_up_in_parallel_leave_the_owner_s_signup_intact() {
    let app = std::sync::Arc::new(TestApp::start().await);
    sign_up_step(&app, 1, PASSWORD).await;
    let replies = parallel(8, |i| {
        let app = app.clone();
        async move {
            app.post_from(
                10 + i as u8,
                "signup/",
                json!({"email": ADA, "password": format!("{STRANGER}{i}")}),
            )
            .await
            .status
        }
    })
    .await;
    assert!(replies.iter().all(|s| *s == 200), "{replies:?}");
    assert_owner_s_password(&app, &confirm_signup(&app, Some(PASSWORD)).await).await;
    assert_eq!(login_status(&app, ADA, &format!("{STRANGER}3")).await, 401);
}

const NEW_ADDRESS: &str = "ada@new.example";

#[tokio::test]
async fn another_account_asking_for_my_new_address_never_replaces_my_code() {
    let app = TestApp::start().await;
    let ada = app.sign_up(ADA, PASSWORD).await;
    let eve = app.sign_up("eve@example.com", PASSWORD).await;
    let ask = |token: String| {
        let app = &app;
        async move {
            let reply = app
                .post_as(&token, "email/change/", json!({"new_email": NEW_ADDRESS}))
                .await;
            assert_eq!(reply.status, 200, "{:?}", reply.body);
        }
    };
    ask(access(&ada)).await;
    let ada_code = app.code_for(NEW_ADDRESS);
    ask(access(&eve)).await;
    let mail = app.messages_to(NEW_ADDRESS);
    assert!(mail[0].contains(ADA) && mail[1].contains("eve@example.com"));
    let eve_code = code_in(&mail[1]).unwrap();
    // Signed in as Ada, the owner of the address types the newest code: Eve's. Refused.
    let captured = app
        .post_as(
            &access(&ada),
            "email/change/confirm/",
            json!({"email": NEW_ADDRESS, "otp": eve_code}),
        )
        .await;
    assert_eq!(captured.status, 400, "{:?}", captured.body);
    assert_eq!(captured.body["code"], "otp_invalid");
    // Ada's own code still moves Ada.
    let moved = app
        .post_as(
            &access(&ada),
            "email/change/confirm/",
            json!({"email": NEW_ADDRESS, "otp": ada_code}),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(moved.body["user"]["id"], ada.body["user"]["id"]);
}

#[tokio::test]
async fn without_a_token_the_code_says_whose_change_it_is() {
    let app = TestApp::start().await;
    let ada = app.sign_up(ADA, PASSWORD).await;
    let eve = app.sign_up("eve@example.com", PASSWORD).await;
    for token in [access(&ada), access(&eve)] {
        let reply = app
            .post_as(&token, "email/change/", json!({"new_email": NEW_ADDRESS}))
            .await;
        assert_eq!(reply.status, 200);
    }
    let ada_code = code_in(&app.messages_to(NEW_ADDRESS)[0]).unwrap();
    let moved = app
        .post(
            "email/change/confirm/",
            json!({"email": NEW_ADDRESS, "otp": ada_code}),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    assert_eq!(moved.body["user"]["id"], ada.body["user"]["id"]);
    assert_eq!(login_status(&app, NEW_ADDRESS, PASSWORD).await, 200);
    assert_eq!(login_status(&app, "eve@example.com", PASSWORD).await, 200);
}

#[tokio::test]
async fn wrong_old_passwords_count_against_the_failed_login_cap() {
    let app = TestApp::start_with(|s| {
        s.limits.request_limit = 1000;
        s.limits.login_failure_limit = 3;
    })
    .await;
    let token = access(&app.sign_up(ADA, PASSWORD).await);
    let change = |old: &'static str| {
        let (app, token) = (&app, token.clone());
        async move {
            app.post_as(
                &token,
                "password/change/",
                json!({"old_password": old, "new_password": "Brand-New-Pass-77"}),
            )
            .await
        }
    };
    for _ in 0..3 {
        let wrong = change("Wrong-Guess-1!").await;
        assert_eq!(wrong.status, 400, "{:?}", wrong.body);
        assert!(wrong.body["old_password"].is_array());
    }
    let capped = change(PASSWORD).await;
    assert_eq!(capped.status, 429, "{:?}", capped.body);
    // The same cap as the sign-in form's.
    assert_eq!(login_status(&app, ADA, PASSWORD).await, 429);
}

#[tokio::test]
async fn strangers_failing_from_many_networks_cannot_lock_the_owner_out() {
    let app = TestApp::start_with(|s| {
        s.limits.request_limit = 1000;
        s.limits.login_failure_limit = 3;
        s.limits.login_failure_total_limit = 6;
    })
    .await;
    // The owner signed up, and so signed in, from 127.0.0.1.
    app.sign_up(ADA, PASSWORD).await;
    let guess = json!({"email": ADA, "password": "Wrong-Guess-1!"});
    let mut statuses = Vec::new();
    for host in 10..14 {
        for _ in 0..3 {
            statuses.push(
                app.post_from(host, "login/basic/", guess.clone())
                    .await
                    .status,
            );
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        6,
        "{statuses:?}"
    );
    assert!(statuses[6..].iter().all(|s| *s == 429), "{statuses:?}");
    // A network the account never signed in from meets the wall, even with the password...
    let right = json!({"email": ADA, "password": PASSWORD});
    let unfamiliar = app.post_from(20, "login/basic/", right.clone()).await;
    assert_eq!(unfamiliar.status, 429);
    assert!(unfamiliar.header("retry-after").is_some());
    // ...and the owner's own network does not.
    let owner = app.post_from(1, "login/basic/", right).await;
    assert_eq!(owner.status, 200, "{:?}", owner.body);
}

#[tokio::test]
async fn one_network_s_failures_never_use_up_another_s_share() {
    let app = TestApp::start_with(|s| {
        s.limits.request_limit = 1000;
        s.limits.login_failure_limit = 3;
    })
    .await;
    app.sign_up(ADA, PASSWORD).await;
    let guess = json!({"email": ADA, "password": "Wrong-Guess-1!"});
    for _ in 0..3 {
        assert_eq!(
            app.post_from(9, "login/basic/", guess.clone()).await.status,
            401
        );
    }
    assert_eq!(app.post_from(9, "login/basic/", guess).await.status, 429);
    let right = json!({"email": ADA, "password": PASSWORD});
    assert_eq!(app.post_from(30, "login/basic/", right).await.status, 200);
}

#[tokio::test]
async fn a_stranger_cannot_use_up_the_owner_s_code_budget_and_mail_stays_bounded() {
    let app = TestApp::start_with(|s| {
        s.limits.request_limit = 1000;
        s.limits.send_limit = 2;
        s.limits.send_total_limit = 5;
    })
    .await;
    app.sign_up(ADA, PASSWORD).await;
    let reset = json!({"email": ADA});
    let stranger: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..3 {
            statuses.push(
                app.post_from(9, "password/reset/", reset.clone())
                    .await
                    .status,
            );
        }
        statuses
    };
    assert_eq!(stranger, [200, 200, 429]);
    // The owner's network has its own share.
    assert_eq!(
        app.post_from(1, "password/reset/", reset.clone())
            .await
            .status,
        200
    );
    // Strangers on many networks meet the total, which bounds the mail the owner gets
    // (the signup's code counted too).
    for host in 10..20 {
        app.post_from(host, "password/reset/", reset.clone()).await;
    }
    assert_eq!(app.messages_to(ADA).len(), 5);
}

/// `payload` as an HS256 JWT under `key`, with `header` merged over the usual one.
fn signed(payload: &serde_json::Value, key: &[u8], header: serde_json::Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut head = json!({"alg": "HS256", "typ": "JWT"});
    for (name, value) in header.as_object().unwrap() {
        head[name] = value.clone();
    }
    let input = format!(
        "{}.{}",
        b64.encode(head.to_string()),
        b64.encode(payload.to_string())
    );
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let signature = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64.encode(signature.as_ref()))
}

/// Tokens an attacker forges, mixes up or keeps after they should have died: none opens a
/// protected route or refreshes, and the genuine ones still do.
#[tokio::test]
async fn forged_confused_and_dead_tokens_are_refused() {
    let app = TestApp::start_with(|s| {
        s.session.token_issuer = "https://auth.example".into();
        s.session.token_audience = "app".into();
    })
    .await;
    let ada = app.sign_up(ADA, PASSWORD).await;
    let (access_token, refresh_token) = (access(&ada), blockauth_tests::refresh(&ada));
    let payload = blockauth_tests::claims(&access_token);
    let key = app.key.bytes().to_vec();
    let app = &app;
    let me = |token: String| async move { app.get_as(&token, "me/").await.status };
    let refresh = |token: String| async move {
        app.post("token/refresh/", json!({"refresh": token}))
            .await
            .status
    };
    assert_eq!(me(access_token.clone()).await, 200);

    // alg none, and our claims under another key.
    let unsigned = format!(
        "{}.",
        signed(&payload, b"x", json!({"alg": "none"}))
            .rsplit_once('.')
            .unwrap()
            .0
    );
    assert_eq!(me(unsigned).await, 401);
    assert_eq!(
        me(signed(
            &payload,
            b"another key, 32 bytes or longer....",
            json!({})
        ))
        .await,
        401
    );
    // Our key, but another issuer or audience, or a type we never issue for this route.
    for (claim, value) in [
        ("iss", "https://evil.example"),
        ("aud", "other"),
        ("type", "stepup"),
    ] {
        let mut other = payload.clone();
        other[claim] = json!(value);
        assert_eq!(me(signed(&other, &key, json!({}))).await, 401, "{claim}");
    }
    // Access as refresh, refresh as access.
    assert_eq!(refresh(access_token.clone()).await, 401);
    assert_eq!(me(refresh_token.clone()).await, 401);
    // Expired: its times moved back by two lifetimes (3600 s each), signed with our key.
    assert_eq!(me(app.issued_earlier(&access_token, 7200)).await, 401);

    // A signed-out session's tokens die with it, access token included.
    let laptop = app.log_in(ADA, PASSWORD).await;
    let out = app
        .post(
            "token/revoke/",
            json!({"refresh": blockauth_tests::refresh(&laptop)}),
        )
        .await;
    assert!(out.status < 300, "{out:?}");
    assert_eq!(me(access(&laptop)).await, 401);
    assert_eq!(refresh(blockauth_tests::refresh(&laptop)).await, 401);
    // A deleted account's tokens die with it.
    assert_eq!(app.delete_as(&access_token, "me/").await.status, 204);
    assert_eq!(me(access_token).await, 401);
    assert_eq!(refresh(refresh_token).await, 401);
}

/// SMS pumping: codes asked for numbers in countries the product does not serve are refused
/// before anything is written or sent, on every route that sends; email is untouched.
#[tokio::test]
async fn sms_to_countries_left_out_is_refused_before_anything_is_sent() {
    let app = TestApp::start_with(|s| {
        s.limits.sms_allowed_countries = vec!["+1".into(), "+44".into()];
        s.limits.request_limit = 100;
    })
    .await;
    let pumped = "+88216123456";
    for (route, body) in [
        ("signup/", json!({"phone": pumped, "password": PASSWORD})),
        ("signup/otp/resend/", json!({"phone": pumped})),
        ("login/passwordless/", json!({"phone": pumped})),
        (
            "password/reset/",
            json!({"identifier": pumped, "method": "sms"}),
        ),
    ] {
        let reply = app.post(route, body).await;
        assert_eq!(reply.status, 400, "{route}: {:?}", reply.body);
        assert_eq!(reply.body["code"], "sms_country_not_allowed", "{route}");
    }
    assert!(app.messages_to(pumped).is_empty());
    // A served country, and email, as before.
    let served = "+447700900123";
    let reply = app
        .post("signup/", json!({"phone": served, "password": PASSWORD}))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(app.messages_to(served).len(), 1);
    assert_eq!(app.sign_up(ADA, PASSWORD).await.status, 200);
}

/// An attack that gets past the country list (numbers in a served country) spends at most
/// the month's cap of texts; then every number gets the same 429 until the month ends,
/// whether it has an account or not, and email goes on.
#[tokio::test]
async fn texts_stop_at_the_months_cap_for_every_number_alike() {
    let app = TestApp::start_with(|s| s.limits.sms_monthly_limit = 3).await;
    let owner = "+447700900100";
    let confirmed = app
        .post("signup/", json!({"phone": owner, "password": PASSWORD}))
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
    let code = app.code_for(owner);
    let confirm = json!({"phone": owner, "otp": code});
    assert_eq!(app.post("signup/confirm/", confirm).await.status, 200);
    // Two more texts, from numbers and networks of their own: the cap (3) is reached.
    for (host, number) in [(2, "+447700900101"), (3, "+447700900102")] {
        let reply = app
            .post_from(host, "login/passwordless/", json!({"phone": number}))
            .await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let texts = |app: &TestApp| {
        (100..=104)
            .map(|n| app.messages_to(&format!("+447700900{n}")).len())
            .sum::<usize>()
    };
    assert_eq!(texts(&app), 3);
    // The owner and a stranger's number, each from a fresh network: the same answer.
    for (host, number) in [(4, owner), (5, "+447700900104")] {
        let reply = app
            .post_from(host, "password/reset/", json!({"phone": number}))
            .await;
        assert_eq!(reply.status, 429, "{number}: {:?}", reply.body);
        let retry: u64 = reply
            .header("retry-after")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!((1..=31 * 86_400).contains(&retry), "{retry}");
    }
    assert_eq!(texts(&app), 3);
    assert_eq!(app.sign_up(ADA, PASSWORD).await.status, 200);
}

/// A client cannot pick its network: the limits count the connection's address, whatever
/// X-Forwarded-For or X-Real-IP claim (deployed, API Gateway's request context is the
/// address; tests/tests/sam_local.rs checks that it is).
#[tokio::test]
async fn forged_forwarding_headers_do_not_make_another_network() {
    let app = TestApp::start().await;
    let mut statuses = Vec::new();
    for n in 1..=4 {
        let forged = format!("203.0.113.{n}");
        let reply = app
            .send(
                app.http
                    .post(app.url("login/basic/"))
                    .header("x-forwarded-for", &forged)
                    .header("x-real-ip", &forged)
                    .header("forwarded", format!("for={forged}"))
                    .json(&json!({"email": ADA, "password": STRANGER})),
            )
            .await;
        statuses.push(reply.status);
    }
    // REQUEST_LIMIT (3) per route, identifier and network: the fourth is one network's fourth.
    assert_eq!(statuses, [401, 401, 401, 429]);
}

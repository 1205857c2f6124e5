//! A failing dependency gets 503 with nothing half-written.

use blockauth_tests::wallet::TestWallet;
use blockauth_tests::{Fault, PASSWORD, Proxy, Reply, TestApp, access, refresh};
use serde_json::{Value, json};

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

/// One step of a flow: `route` with `body`, sent with `token` if any.
struct Step {
    route: &'static str,
    body: Value,
    token: Option<String>,
}

fn step(route: &'static str, body: Value) -> Step {
    Step {
        route,
        body,
        token: None,
    }
}

fn step_as(token: &str, route: &'static str, body: Value) -> Step {
    Step {
        route,
        body,
        token: Some(token.to_owned()),
    }
}

/// Sends `step` once with its k-th DynamoDB call failing, for k = 0, 1, ... until an attempt
/// makes fewer calls than k and so succeeds: every earlier attempt must answer 503, and
/// whatever it wrote before its failing call must not stand in the way of the next attempt
/// (nothing half-written). The successful answer, and how many calls the step makes.
async fn fail_each_call_then_succeed(app: &TestApp, proxy: &Proxy, step: Step) -> (Reply, usize) {
    for k in 0.. {
        proxy.fail(k, Fault::Refuse);
        let mut request = app.http.post(app.url(step.route)).json(&step.body);
        if let Some(token) = &step.token {
            request = request.bearer_auth(token);
        }
        let reply = app.send(request).await;
        proxy.heal();
        if reply.status != 503 {
            assert!(
                reply.status < 300,
                "{}: after its call {k} failed, the next attempt answered {:?}",
                step.route,
                reply
            );
            return (reply, k);
        }
        assert_eq!(reply.body["code"], "service_unavailable", "{}", step.route);
        assert!(
            k < 20,
            "{}: still 503 with its call {k} failing",
            step.route
        );
    }
    unreachable!()
}

#[tokio::test]
async fn every_dynamodb_call_of_every_step_failing_is_a_503_and_the_retry_succeeds() {
    let (app, proxy, _database) = TestApp::start_behind_proxy(|s| {
        s.limits.request_limit = 10_000;
        s.limits.network_request_limit = 10_000;
        s.limits.send_limit = 10_000;
        s.limits.send_total_limit = 10_000;
    })
    .await;
    let email = "ada@example.com";
    let body = json!({"email": email, "password": PASSWORD});
    let mut calls = Vec::new();
    let mut run = async |step: Step| {
        let route = step.route;
        let (reply, made) = fail_each_call_then_succeed(&app, &proxy, step).await;
        calls.push((route, made));
        reply
    };

    run(step("signup/", body.clone())).await;
    let code = app.code_for(email);
    let confirmed = run(step(
        "signup/confirm/",
        json!({"email": email, "otp": code}),
    ))
    .await;
    let login = run(step("login/basic/", body.clone())).await;
    let refreshed = run(step("token/refresh/", json!({"refresh": refresh(&login)}))).await;
    run(step(
        "token/revoke/",
        json!({"refresh": refresh(&refreshed)}),
    ))
    .await;

    run(step("login/passwordless/", json!({"email": email}))).await;
    let code = app.code_for(email);
    run(step(
        "login/passwordless/confirm/",
        json!({"email": email, "otp": code}),
    ))
    .await;

    run(step("password/reset/", json!({"email": email}))).await;
    let code = app.code_for(email);
    let new_password = "Reset-Horse-7-Battery";
    let reset = json!({"email": email, "otp": code, "new_password": new_password});
    run(step("password/reset/confirm/", reset)).await;
    let login = run(step(
        "login/basic/",
        json!({"email": email, "password": new_password}),
    ))
    .await;
    let change = json!({"old_password": new_password, "new_password": PASSWORD});
    let changed = run(step_as(&access(&login), "password/change/", change)).await;

    let token = access(&changed);
    let moved = "ada@new.example";
    run(step_as(
        &token,
        "email/change/",
        json!({"new_email": moved}),
    ))
    .await;
    let code = app.code_for(moved);
    let confirm = json!({"email": moved, "otp": code});
    run(step_as(&token, "email/change/confirm/", confirm)).await;

    let wallet = TestWallet::number(7);
    let challenge = run(step(
        "login/wallet/challenge/",
        json!({"address": wallet.address}),
    ))
    .await;
    let message = challenge.body["message"].as_str().unwrap().to_owned();
    let signed = json!({"message": message, "signature": wallet.sign(&message)});
    let wallet_login = run(step("login/wallet/", signed)).await;
    let token = access(&wallet_login);
    let grace = "grace@example.com";
    run(step_as(
        &token,
        "wallet/email/add/",
        json!({"email": grace}),
    ))
    .await;
    let code = app.code_for(grace);
    let confirm = json!({"email": grace, "otp": code});
    run(step_as(&token, "wallet/email/add/confirm/", confirm)).await;

    // The end state is whole: the account signs in at its new address with the password.
    let login = app.log_in(moved, PASSWORD).await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    assert_eq!(login.body["user"]["id"], confirmed.body["user"]["id"]);
    // Every step made calls, so every step met a failure.
    assert!(calls.iter().all(|(_, made)| *made > 0), "{calls:?}");
}

/// A DynamoDB that stalls makes a 503 within the SDK's timeouts (`aws::timeouts`), not a
/// request that hangs.
#[tokio::test]
async fn a_stalled_dynamodb_is_a_503_not_a_hang() {
    let (app, proxy, _database) = TestApp::start_behind_proxy(|_| {}).await;
    proxy.fail(0, Fault::Stall);
    let reply = app
        .send(
            app.http
                .post(app.url("login/basic/"))
                .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
                // Far above the SDK's 3 s: only a hang reaches it.
                .timeout(std::time::Duration::from_secs(30)),
        )
        .await;
    assert_eq!(reply.status, 503, "{:?}", reply.body);
    proxy.heal();
    let reply = app.log_in("ada@example.com", PASSWORD).await;
    assert_eq!(reply.status, 401, "{:?}", reply.body);
}

/// The local server's transactions reach the embedded DynamoDB without the SDK's
/// idempotency token, which dynoxide would keep and scan at every later transaction for ten
/// minutes (infra/src/lib.rs, `WithoutIdempotencyToken`); the transaction still applies.
#[tokio::test]
async fn local_transactions_carry_no_idempotency_token() {
    let (app, proxy, _database) = TestApp::start_behind_proxy(|_| {}).await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    assert_eq!(signed_up.status, 200, "{:?}", signed_up.body);
    let calls = proxy.calls.lock().unwrap();
    let transactions: Vec<Value> = calls
        .iter()
        .filter(|call| {
            call.headers
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                == Some("DynamoDB_20120810.TransactWriteItems")
        })
        .map(|call| serde_json::from_slice(&call.body).expect("a JSON body"))
        .collect();
    assert!(!transactions.is_empty());
    for transaction in &transactions {
        assert!(
            transaction.get("ClientRequestToken").is_none(),
            "{transaction}"
        );
        assert!(
            transaction["TransactItems"]
                .as_array()
                .is_some_and(|items| !items.is_empty())
        );
    }
}

//! Custom claims: the static map, and the hook the deployer runs, as a webhook (a small HTTP
//! receiver this test starts, which checks the signature as a real receiver would) and as a
//! Lambda function (the AWS SDK's Lambda client against a local stand-in for Lambda's
//! Invoke API: the call's shape and its answers are real; IAM and Lambda's runtime are not
//! exercised here).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use blockauth::https::{self, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use blockauth::session::claims;
use blockauth::session::hook::ClaimsHook;
use blockauth_tests::{PASSWORD, TestApp, access, claims as decoded, refresh};
use serde_json::{Value, json};

pub(crate) const SECRET: &str = "a-webhook-secret-of-at-least-32-chars";

/// How the receiver answers.
#[derive(Clone)]
pub(crate) enum Answer {
    Claims(Value),
    Raw(&'static str),
    Status(u16),
    Slow,
}

/// A webhook receiver: what it was sent (signature checked), and what it answers.
pub(crate) struct Receiver {
    pub(crate) url: String,
    calls: Arc<Mutex<Vec<Value>>>,
    answer: Arc<Mutex<Answer>>,
}

impl Receiver {
    pub(crate) async fn start(answer: Answer) -> Receiver {
        let calls: Arc<Mutex<Vec<Value>>> = Arc::default();
        let answer = Arc::new(Mutex::new(answer));
        let (seen, replies) = (calls.clone(), answer.clone());
        let handler = move |headers: HeaderMap, body: Bytes| {
            let (seen, replies) = (seen.clone(), replies.clone());
            async move {
                let header = |name: &str| {
                    headers
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let at: i64 = header(TIMESTAMP_HEADER).parse().unwrap_or(0);
                let now = blockauth::clock::now();
                // What a receiver checks: the signature over the time and the body, and a
                // recent time.
                if header(SIGNATURE_HEADER) != https::signature(SECRET, at, &body)
                    || (now - at).abs() > 300
                {
                    return (StatusCode::UNAUTHORIZED, "bad signature").into_response();
                }
                seen.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).unwrap());
                let answer = replies.lock().unwrap().clone();
                match answer {
                    Answer::Claims(claims) => {
                        axum::Json(json!({ "claims": claims })).into_response()
                    }
                    Answer::Raw(text) => text.into_response(),
                    Answer::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
                    Answer::Slow => {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        axum::Json(json!({"claims": {}})).into_response()
                    }
                }
            }
        };
        let app = axum::Router::new().route("/hook", axum::routing::post(handler));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            url: format!("http://{address}/hook"),
            calls,
            answer,
        }
    }

    pub(crate) fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    pub(crate) fn calls(&self) -> Vec<Value> {
        self.calls.lock().unwrap().clone()
    }
}

async fn with_webhook(receiver: &Receiver, on_refresh: bool) -> TestApp {
    let url = receiver.url.clone();
    TestApp::start_with(move |s| {
        s.claims.custom = json!({"plan": "free", "tenant": "default"})
            .as_object()
            .unwrap()
            .clone();
        s.claims.hook = Some(url);
        s.webhook_secret = Some(SECRET.into());
        s.claims.hook_timeout_ms = 500;
        s.claims.on_refresh = on_refresh;
        // One account signs in many times here.
        s.limits.request_limit = 100;
    })
    .await
}

#[tokio::test]
async fn static_claims_are_in_every_token_and_survive_refresh() {
    let app = TestApp::start_with(|s| {
        s.claims.custom = json!({"tenant": "acme"}).as_object().unwrap().clone();
    })
    .await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    assert_eq!(decoded(&access(&signed_up))["tenant"], "acme");
    let refreshed = app
        .post("token/refresh/", json!({"refresh": refresh(&signed_up)}))
        .await;
    assert_eq!(refreshed.status, 200);
    assert_eq!(decoded(&access(&refreshed))["tenant"], "acme");
}

#[tokio::test]
async fn the_hooks_claims_are_added_at_sign_in_and_carried_by_refresh() {
    let receiver = Receiver::start(Answer::Claims(
        json!({"tenant": "acme", "roles": ["admin"]}),
    ))
    .await;
    let app = with_webhook(&receiver, false).await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    assert_eq!(signed_up.status, 200);
    let token = decoded(&access(&signed_up));
    // The hook's claims over the static ones.
    assert_eq!(token["tenant"], "acme");
    assert_eq!(token["roles"], json!(["admin"]));
    assert_eq!(token["plan"], "free");
    assert_eq!(token["sub"], signed_up.body["user"]["id"]);
    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0]["version"], 1);
    assert_eq!(calls[0]["trigger"], "sign_in");
    assert_eq!(calls[0]["method"], "EMAIL");
    assert_eq!(calls[0]["user"]["email"], "ada@example.com");
    // Never a secret: no password hash, nothing but the public view.
    assert!(!calls[0].to_string().contains("argon2"));
    assert!(calls[0]["user"].get("password_hash").is_none());

    // A refresh carries the sign-in's claims without asking the hook.
    let refreshed = app
        .post("token/refresh/", json!({"refresh": refresh(&signed_up)}))
        .await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    assert_eq!(decoded(&access(&refreshed))["roles"], json!(["admin"]));
    assert_eq!(receiver.calls().len(), 1);

    // Each way in asks it, with its method.
    let login = app
        .post(
            "login/basic/",
            json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status, 200);
    assert_eq!(receiver.calls()[1]["method"], "EMAIL");

    // A password change continues the caller's session: its claims, no call.
    let changed = app
        .post_as(
            &access(&login),
            "password/change/",
            json!({"old_password": PASSWORD, "new_password": "Another-Pass-456"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    assert_eq!(decoded(&access(&changed))["tenant"], "acme");
    assert_eq!(receiver.calls().len(), 2);
}

#[tokio::test]
async fn claims_on_refresh_asks_the_hook_again() {
    let receiver = Receiver::start(Answer::Claims(json!({"version_of_roles": 1}))).await;
    let app = with_webhook(&receiver, true).await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    receiver.answer(Answer::Claims(json!({"version_of_roles": 2})));
    let refreshed = app
        .post("token/refresh/", json!({"refresh": refresh(&signed_up)}))
        .await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    assert_eq!(decoded(&access(&refreshed))["version_of_roles"], 2);
    let calls = receiver.calls();
    assert_eq!(calls.last().unwrap()["trigger"], "refresh");
    assert_eq!(calls.last().unwrap()["method"], Value::Null);
}

/// A hook that fails in any way fails the sign-in closed: 503, and no token.
#[tokio::test]
async fn a_hook_that_fails_gives_no_token() {
    let receiver = Receiver::start(Answer::Claims(json!({}))).await;
    let app = with_webhook(&receiver, false).await;
    app.sign_up("ada@example.com", PASSWORD).await;
    let login = json!({"email": "ada@example.com", "password": PASSWORD});
    for answer in [
        Answer::Claims(json!({"sub": "someone-else"})),
        Answer::Claims(json!({"exp": 9_999_999_999_i64})),
        Answer::Claims(json!({"blob": "x".repeat(5000)})),
        Answer::Claims(json!(["not", "an", "object"])),
        Answer::Raw("<html>oops</html>"),
        Answer::Raw(r#"{"not_claims": {}}"#),
        Answer::Status(500),
        Answer::Slow,
    ] {
        receiver.answer(answer);
        let reply = app.post("login/basic/", login.clone()).await;
        assert_eq!(reply.status, 503, "{:?}", reply.body);
        assert!(reply.body.get("access").is_none());
    }
    // And a hook that is down.
    let down = TestApp::start_with(|s| {
        s.claims.hook = Some("http://127.0.0.1:9/hook".into());
        s.webhook_secret = Some(SECRET.into());
    })
    .await;
    let started = down
        .post(
            "signup/",
            json!({"email": "bob@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(started.status, 200);
    let code = down.code_for("bob@example.com");
    let confirmed = down
        .post(
            "signup/confirm/",
            json!({"email": "bob@example.com", "otp": code}),
        )
        .await;
    assert_eq!(confirmed.status, 503, "{:?}", confirmed.body);
}

/// The hook failing (refusing, answering nonsense, or slower than its timeout) at each
/// step that signs in spends nothing: the 503 comes before anything is written, so the same
/// code, signed message or refresh token works once the hook is back; and no answer waits
/// out a stall.
#[tokio::test]
async fn a_hook_failing_at_each_sign_in_spends_nothing_and_the_retry_succeeds() {
    use blockauth_tests::wallet::{TestWallet, challenge};
    let receiver = Receiver::start(Answer::Claims(json!({}))).await;
    let app = with_webhook(&receiver, true).await;
    let ada = "ada@example.com";
    let signup = json!({"email": ada, "password": PASSWORD});
    assert_eq!(app.post("signup/", signup).await.status, 200);
    let confirm = json!({"email": ada, "otp": app.code_for(ada)});
    let confirmed = failing_then_back(&app, &receiver, 0, "signup/confirm/", confirm).await;
    let login = json!({"email": ada, "password": PASSWORD});
    failing_then_back(&app, &receiver, 1, "login/basic/", login).await;
    let again = json!({"refresh": refresh(&confirmed)});
    failing_then_back(&app, &receiver, 2, "token/refresh/", again).await;
    let bob = "bob@example.com";
    let asked = app.post("login/passwordless/", json!({"email": bob})).await;
    assert_eq!(asked.status, 200);
    let code = json!({"email": bob, "otp": app.code_for(bob)});
    failing_then_back(&app, &receiver, 3, "login/passwordless/confirm/", code).await;
    let wallet = TestWallet::number(7);
    let message = challenge(&app, &wallet).await;
    let signed = json!({"message": message, "signature": wallet.sign(&message)});
    failing_then_back(&app, &receiver, 4, "login/wallet/", signed).await;
}

/// POSTs `body` to `path` with the hook failing in the `n`th way (503, quickly), then with
/// it back (200, its claims in the token); the second answer.
async fn failing_then_back(
    app: &TestApp,
    receiver: &Receiver,
    n: usize,
    path: &str,
    body: Value,
) -> blockauth_tests::Reply {
    let failures = [Answer::Status(500), Answer::Raw("<html>"), Answer::Slow];
    receiver.answer(failures[n % failures.len()].clone());
    let started = std::time::Instant::now();
    let reply = app.post(path, body.clone()).await;
    assert_eq!(reply.status, 503, "{path}, hook failing: {:?}", reply.body);
    // The hook's timeout is 500 ms; the stalled receiver would answer after 5 s.
    assert!(started.elapsed() < Duration::from_secs(3), "{path} waited");
    receiver.answer(Answer::Claims(json!({"role": "member"})));
    let reply = app.post(path, body).await;
    assert_eq!(reply.status, 200, "{path}, hook back: {:?}", reply.body);
    assert_eq!(decoded(&access(&reply))["role"], "member", "{path}");
    reply
}

/// A local stand-in for Lambda's API: `invoke` answers each function's Invoke call
/// (`POST /2015-03-31/functions/{name}/invocations`); where it listens.
pub(crate) async fn lambda_api(invoke: axum::routing::MethodRouter) -> SocketAddr {
    let api = axum::Router::new().route("/2015-03-31/functions/{name}/invocations", invoke);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await });
    address
}

/// The Lambda form: Lambda's Invoke call, signed with SigV4, against a local stand-in for
/// Lambda's API, which answers as Lambda does (the function's output, or
/// `X-Amz-Function-Error`).
#[tokio::test]
async fn a_lambda_hook_is_invoked_with_the_user_and_its_answer_used() {
    let seen: Arc<Mutex<Vec<(String, Value, String)>>> = Arc::default();
    let recorded = seen.clone();
    let invoke = move |axum::extract::Path(name): axum::extract::Path<String>,
                       headers: axum::http::HeaderMap,
                       body: Bytes| {
        let recorded = recorded.clone();
        async move {
            let request: Value = serde_json::from_slice(&body).unwrap();
            let authorization = headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            recorded
                .lock()
                .unwrap()
                .push((name.clone(), request, authorization));
            if name == "failing-hook" {
                return (
                    [("x-amz-function-error", "Unhandled")],
                    r#"{"errorMessage": "boom"}"#,
                )
                    .into_response();
            }
            axum::Json(json!({"claims": {"tenant": "from-lambda"}})).into_response()
        }
    };
    let address = lambda_api(axum::routing::post(invoke)).await;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sesv2::config::Credentials::for_tests())
        .endpoint_url(format!("http://{address}"))
        .load()
        .await;

    let app = TestApp::start().await;
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    let server = &app.server.context;
    let user =
        blockauth::identity::user::get(server, signed_up.body["user"]["id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
    let arn = "arn:aws:lambda:us-east-1:123456789012:function:claims-hook";
    for (function, expected) in [
        ("claims-hook", Some("from-lambda")),
        ("failing-hook", None),
        (arn, Some("from-lambda")),
    ] {
        let mut settings = server.settings.clone();
        settings.claims.hook = Some(function.into());
        let hook = ClaimsHook::from_settings(&settings.claims, None, Some(&aws)).unwrap();
        let key = blockauth::signing_key::SigningKey::from_text(&"k".repeat(40)).unwrap();
        let tokens = blockauth::session::token::Tokens::new(&key, &settings);
        let ctx = blockauth::Context::new(
            settings,
            server.store.clone(),
            blockauth::mail::Mailer::Disabled,
            &key,
            tokens,
            hook,
            blockauth::events::Events::None,
            None,
        );
        let method = blockauth::identity::user::SignInMethod::Passkey;
        let answer = claims::for_user(&ctx, &user, Some(method), "sign_in").await;
        match expected {
            Some(tenant) => assert_eq!(answer.unwrap()["tenant"], tenant),
            None => assert_eq!(answer.unwrap_err(), blockauth::AuthError::Unavailable),
        }
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].0, "claims-hook");
    assert_eq!(seen[0].1["method"], "PASSKEY");
    assert_eq!(seen[0].1["user"]["email"], "ada@example.com");
    // Signed by the SDK's SigV4 signer for Lambda in the configured region.
    let (_, _, authorization) = &seen[0];
    assert!(
        authorization.starts_with("AWS4-HMAC-SHA256 Credential=")
            && authorization.contains("/us-east-1/lambda/aws4_request")
            && authorization.contains("Signature="),
        "{authorization}"
    );
    // An ARN reaches the same function (its colons percent-encoded in the path).
    assert_eq!(seen[2].0, arn);
}

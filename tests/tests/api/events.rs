//! Lifecycle events: each flow publishes its event after the change is stored, in the
//! documented schema (version 1), carrying no secret; a bus that fails never fails the
//! request; and EventBridge itself, against moto, delivers them to a rule's queue.

use std::collections::BTreeSet;

use blockauth::aws::{self, SdkConfig, Service};
use blockauth::events::{Event, Events};
use blockauth::mail::Mailer;
use blockauth_tests::wallet::{TestWallet, wallet_login};
use blockauth_tests::{PASSWORD, Reply, TestApp, access, moto_url, refresh};
use serde_json::{Value, json};

/// The fields an event of type `kind` has besides the envelope, as documented.
fn fields_of(kind: &str) -> &'static [&'static str] {
    match kind {
        "signup.confirmed" => &["method"],
        "login" => &["method", "sid"],
        "token.reuse_detected" | "logout" | "sessions.ended" => &["sid"],
        "password.changed" | "password.reset" | "account.deleted" | "mfa.enabled"
        | "mfa.disabled" => &[],
        "email.changed" | "wallet.email_added" => &["email"],
        "wallet.linked" | "wallet.unlinked" => &["address"],
        "social.linked" => &["provider"],
        "passkey.registered" | "passkey.removed" => &["passkey_id"],
        other => panic!("undocumented event type {other}"),
    }
}

/// `event` is exactly the schema: the envelope and its type's fields, each a string.
pub fn check_schema(event: &Value) {
    let object = event.as_object().expect("an event is an object");
    assert_eq!(event["version"], 1, "{event}");
    let kind = event["type"].as_str().expect("a type");
    assert!(Event::KINDS.contains(&kind), "{event}");
    let id = event["id"].as_str().expect("an id");
    assert!(
        id.len() == 36 && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
        "{event}"
    );
    let time = event["time"].as_str().expect("a time");
    assert!(
        time.len() == 20 && time.ends_with('Z') && time.as_bytes()[10] == b'T',
        "{event}"
    );
    let mut expected: BTreeSet<&str> = ["version", "id", "type", "time", "user_id"].into();
    expected.extend(fields_of(kind));
    let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
    assert_eq!(keys, expected, "{event}");
    for name in expected.iter().filter(|n| **n != "version") {
        assert!(event[name].is_string(), "{name} of {event}");
    }
}

/// The events of `kind` for `user_id`.
fn of<'a>(events: &'a [Value], kind: &str, user_id: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == kind && e["user_id"] == user_id)
        .collect()
}

fn user_id(reply: &Reply) -> String {
    reply.body["user"]["id"]
        .as_str()
        .expect("a user")
        .to_owned()
}

fn sid(token: &str) -> String {
    blockauth_tests::claims(token)["sid"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn every_flow_publishes_its_event_in_the_schema_without_secrets() {
    // No grace window: a used refresh token presented again is theft at once.
    let app = TestApp::start_with(|s| s.session.refresh_reuse_grace = 0).await;
    let mut secrets: Vec<String> = vec![PASSWORD.into()];

    // Signup: the account, then its first session.
    let signed_up = app.sign_up("ada@example.com", PASSWORD).await;
    let ada = user_id(&signed_up);
    secrets.extend([access(&signed_up), refresh(&signed_up)]);
    let events = app.events();
    assert_eq!(events[0]["type"], "signup.confirmed");
    assert_eq!(events[0]["method"], "EMAIL");
    assert_eq!(events[1]["type"], "login");
    assert_eq!(events[1]["sid"], sid(&access(&signed_up)));

    // A password login.
    let login = app.log_in("ada@example.com", PASSWORD).await;
    assert_eq!(login.status, 200);
    secrets.extend([access(&login), refresh(&login)]);
    let logins = of(&app.events(), "login", &ada).len();
    assert_eq!(logins, 2);

    // A refresh is no event; its token used again is, once per reuse.
    let first = refresh(&login);
    let rotated = app.post("token/refresh/", json!({"refresh": first})).await;
    assert_eq!(rotated.status, 200);
    secrets.push(refresh(&rotated));
    let reused = app.post("token/refresh/", json!({"refresh": first})).await;
    assert_eq!(reused.status, 401);
    let events = app.events();
    let reuse = of(&events, "token.reuse_detected", &ada);
    assert_eq!(reuse.len(), 1);
    assert_eq!(reuse[0]["sid"], sid(&first));

    // A logout, once: the same session signed out again is no second event.
    let session = refresh(&signed_up);
    for _ in 0..2 {
        let out = app.post("token/revoke/", json!({"refresh": session})).await;
        assert_eq!(out.status, 204);
    }
    let events = app.events();
    let logouts = of(&events, "logout", &ada);
    assert_eq!(logouts.len(), 1);
    assert_eq!(logouts[0]["sid"], sid(&session));

    // A password change by the signed-in owner (in a session of its own: reuse ended the
    // last), then a reset by code.
    let login = app.log_in("ada@example.com", PASSWORD).await;
    let changed = app
        .post_as(
            &access(&login),
            "password/change/",
            json!({"old_password": PASSWORD, "new_password": "X-Another-1"}),
        )
        .await;
    assert_eq!(changed.status, 200, "{:?}", changed.body);
    secrets.extend(["X-Another-1".into(), access(&changed), refresh(&changed)]);
    app.post("password/reset/", json!({"email": "ada@example.com"}))
        .await;
    let code = app.code_for("ada@example.com");
    let reset = app
        .post(
            "password/reset/confirm/",
            json!({"email": "ada@example.com", "otp": code, "new_password": "Y-Another-2"}),
        )
        .await;
    assert_eq!(reset.status, 200, "{:?}", reset.body);
    secrets.extend([code, "Y-Another-2".into()]);
    let events = app.events();
    assert_eq!(of(&events, "password.changed", &ada).len(), 1);
    assert_eq!(of(&events, "password.reset", &ada).len(), 1);

    // An email change, confirmed by the new address's code.
    let login = app.log_in("ada@example.com", "Y-Another-2").await;
    let asked = app
        .post_as(
            &access(&login),
            "email/change/",
            json!({"new_email": "ada@new.example"}),
        )
        .await;
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    let code = app.code_for("ada@new.example");
    let moved = app
        .post_as(
            &access(&login),
            "email/change/confirm/",
            json!({"email": "ada@new.example", "otp": code}),
        )
        .await;
    assert_eq!(moved.status, 200, "{:?}", moved.body);
    secrets.extend([code, access(&login), refresh(&login)]);
    let events = app.events();
    let moved = of(&events, "email.changed", &ada);
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["email"], "ada@new.example");

    // A passwordless sign-in.
    app.post("login/passwordless/", json!({"email": "ada@new.example"}))
        .await;
    let code = app.code_for("ada@new.example");
    let passwordless = app
        .post(
            "login/passwordless/confirm/",
            json!({"email": "ada@new.example", "otp": code}),
        )
        .await;
    assert_eq!(passwordless.status, 200, "{:?}", passwordless.body);
    secrets.push(code);
    let events = app.events();
    assert_eq!(
        of(&events, "login", &ada).last().unwrap()["method"],
        "PASSWORDLESS"
    );

    // A wallet's first sign-in makes its account; then it gains an email.
    let wallet = wallet_login(&app, &TestWallet::number(7)).await;
    assert_eq!(wallet.status, 200, "{:?}", wallet.body);
    let owner = user_id(&wallet);
    secrets.extend([access(&wallet), refresh(&wallet)]);
    let asked = app
        .post_as(
            &access(&wallet),
            "wallet/email/add/",
            json!({"email": "wallet@example.com"}),
        )
        .await;
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    let code = app.code_for("wallet@example.com");
    let added = app
        .post_as(
            &access(&wallet),
            "wallet/email/add/confirm/",
            json!({"email": "wallet@example.com", "otp": code}),
        )
        .await;
    assert_eq!(added.status, 200, "{:?}", added.body);
    secrets.push(code);
    let events = app.events();
    assert_eq!(
        of(&events, "signup.confirmed", &owner)[0]["method"],
        "WALLET"
    );
    assert_eq!(of(&events, "login", &owner)[0]["method"], "WALLET");
    assert_eq!(
        of(&events, "wallet.email_added", &owner)[0]["email"],
        "wallet@example.com"
    );

    // Every event is exactly the schema (so no field beyond it), and no value is a secret.
    let events = app.events();
    for event in &events {
        check_schema(event);
    }
    let log = std::fs::read_to_string(app.outbox_dir().join("events.jsonl")).unwrap();
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret in the events");
    }
}

/// A bus that refuses the connection, or takes it and never answers, costs the request
/// nothing but the log line and (stalling) the publish's own time limit.
#[tokio::test]
async fn a_failing_bus_never_fails_the_request() {
    let refusing = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let refused = refusing.local_addr().unwrap();
    drop(refusing);
    // Accepts connections (the kernel's backlog) and never reads them.
    let stalling = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stalled = stalling.local_addr().unwrap();
    for (n, address) in [refused, stalled].into_iter().enumerate() {
        let app = TestApp::start_with_events(Events::EventBridge {
            aws: Box::new(local_config(&format!("http://{address}"))),
            bus: "default".into(),
            source: "blockauth".into(),
        })
        .await;
        let started = std::time::Instant::now();
        let email = format!("ada{n}@example.com");
        let signed_up = app.sign_up(&email, PASSWORD).await;
        assert_eq!(signed_up.status, 200);
        // Two events (signup.confirmed, login), each at most its 2 s limit.
        assert!(started.elapsed() < std::time::Duration::from_secs(8));
        let login = app.log_in(&email, PASSWORD).await;
        assert_eq!(login.status, 200);
    }
    drop(stalling);
}

/// An environment that points every AWS service at `url`.
pub fn local_config(url: &str) -> SdkConfig {
    let url = url.to_owned();
    aws::config_from(move |name| match name {
        "AWS_REGION" => Some("us-east-1".into()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".into()),
        "AWS_ENDPOINT_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap()
}

/// One call to an AWS JSON API at moto, for the test's own setup and reading.
async fn moto_call(config: &SdkConfig, service: Service, target: &str, body: Value) -> Value {
    let content_type = match service {
        Service::Sqs => "application/x-amz-json-1.0",
        _ => "application/x-amz-json-1.1",
    };
    let request = aws::Request {
        path: "/",
        target: Some(target),
        content_type,
        body: body.to_string().into_bytes(),
    };
    let response = aws::call(config, service, request, std::time::Duration::from_secs(10))
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    serde_json::from_slice(response.body()).unwrap_or(Value::Null)
}

/// A fresh SQS queue at moto: its URL and ARN.
pub async fn moto_queue(config: &SdkConfig, name: &str) -> (String, String) {
    let created = moto_call(
        config,
        Service::Sqs,
        "AmazonSQS.CreateQueue",
        json!({"QueueName": name}),
    )
    .await;
    let url = created["QueueUrl"].as_str().unwrap().to_owned();
    let attributes = moto_call(
        config,
        Service::Sqs,
        "AmazonSQS.GetQueueAttributes",
        json!({"QueueUrl": url, "AttributeNames": ["QueueArn"]}),
    )
    .await;
    let arn = attributes["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_owned();
    (url, arn)
}

/// Every message waiting in the queue at `url`, as JSON.
pub async fn moto_messages(config: &SdkConfig, url: &str) -> Vec<Value> {
    let received = moto_call(
        config,
        Service::Sqs,
        "AmazonSQS.ReceiveMessage",
        json!({"QueueUrl": url, "MaxNumberOfMessages": 10}),
    )
    .await;
    received["Messages"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|m| serde_json::from_str(m["Body"].as_str().unwrap()).unwrap())
        .collect()
}

/// In AWS's form: PutEvents (SigV4-signed) to a bus at moto, whose rule for our source
/// sends each event to a queue the test reads.
#[tokio::test]
async fn eventbridge_delivers_the_events_to_a_rule() {
    let Some(url) = moto_url() else { return };
    let config = local_config(&url);
    let bus = format!(
        "blockauth-{}-{}",
        std::process::id(),
        blockauth::clock::now()
    );
    moto_call(
        &config,
        Service::EventBridge,
        "AWSEvents.CreateEventBus",
        json!({"Name": bus}),
    )
    .await;
    let (queue_url, queue_arn) = moto_queue(&config, &bus).await;
    moto_call(
        &config,
        Service::EventBridge,
        "AWSEvents.PutRule",
        json!({"Name": "all", "EventBusName": bus,
               "EventPattern": json!({"source": ["blockauth"]}).to_string()}),
    )
    .await;
    moto_call(
        &config,
        Service::EventBridge,
        "AWSEvents.PutTargets",
        json!({"Rule": "all", "EventBusName": bus,
               "Targets": [{"Id": "queue", "Arn": queue_arn}]}),
    )
    .await;

    let app = TestApp::start().await;
    let server = &app.server.context;
    let mut settings = server.settings.clone();
    settings.events.bus = Some(bus.clone());
    let key = blockauth::signing_key::SigningKey::from_text(&"k".repeat(40)).unwrap();
    let ctx = blockauth::Context::new(
        settings.clone(),
        server.store.clone(),
        Mailer::Disabled,
        &key,
        blockauth::session::token::Tokens::new(&key, &settings),
        blockauth::session::hook::ClaimsHook::None,
        Events::from_settings(&settings.events, &config),
        None,
    );
    ctx.events
        .publish(Event::PasswordChanged { user_id: "u-1" })
        .await;

    let delivered = moto_messages(&config, &queue_url).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let envelope = &delivered[0];
    assert_eq!(envelope["source"], "blockauth");
    assert_eq!(envelope["detail-type"], "password.changed");
    check_schema(&envelope["detail"]);
    assert_eq!(envelope["detail"]["user_id"], "u-1");
}

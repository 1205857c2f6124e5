//! The AWS adapters against moto: SES v2 mail, SNS SMS, the Secrets Manager key source, and a
//! whole signup whose code travels through SES.

use blockauth::Settings;
use blockauth::identity::identifier::Identifier;
use blockauth::mail::Mailer;
use blockauth::signing_key::SigningKey;
use blockauth_tests::wallet::{TestWallet, wallet_login};
use blockauth_tests::{Fault, PASSWORD, Proxy, TestApp, code_in, mail_to, moto_mail, moto_url};
use serde_json::{Value, json};

/// The configuration a function builds from Lambda's environment (`blockauth::aws`), here
/// an environment that points every service at moto.
async fn aws_config(url: &str) -> blockauth::aws::SdkConfig {
    let url = url.to_owned();
    blockauth::aws::config_from(move |name| match name {
        "AWS_REGION" => Some("us-east-1".into()),
        "AWS_ACCESS_KEY_ID" | "AWS_SECRET_ACCESS_KEY" => Some("test".into()),
        "AWS_ENDPOINT_URL" => Some(url.clone()),
        _ => None,
    })
    .unwrap()
}

/// A mailer talking to moto, with `domain` verified as a sending identity.
async fn moto_mailer(url: &str, domain: &str) -> Mailer {
    let config = aws_config(url).await;
    let ses = aws_sdk_sesv2::Client::new(&config);
    ses.create_email_identity()
        .email_identity(domain)
        .send()
        .await
        .expect("identity created in moto");
    Mailer::Aws {
        ses,
        sns: aws_sdk_sns::Client::new(&config),
        from: format!("BlockAuth <no-reply@{domain}>"),
        configuration_set: None,
    }
}

/// `moto_mailer`, its requests through a `Proxy` to moto (to read or fail them).
async fn moto_mailer_behind_proxy(url: &str, domain: &str) -> (Proxy, Mailer) {
    let moto = url
        .trim_start_matches("http://")
        .parse()
        .expect("moto's address");
    let proxy = Proxy::start(moto).await;
    let mailer = moto_mailer(&format!("http://{}", proxy.address), domain).await;
    (proxy, mailer)
}

#[tokio::test]
async fn ses_delivers_code_mail() {
    let Some(url) = moto_url() else { return };
    let mailer = moto_mailer(&url, "ses-adapter.example").await;
    let to = Identifier::email("ses-adapter@ses-adapter.example").unwrap();
    let message = blockauth::mail::messages::code(
        &Settings::default(),
        blockauth::codes::Purpose::Signup,
        "424242",
    );
    mailer
        .send(&to, &message)
        .await
        .expect("SES accepts the mail");
    let sent = moto_mail(&url).await;
    let mine = mail_to(&sent, "ses-adapter@ses-adapter.example");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["subject"], "Your BlockAuth code: 424242");
    assert!(mine[0]["body"].as_str().unwrap().contains("424242"));
}

/// The deployed functions name the template's configuration set (SES_CONFIGURATION_SET), so
/// that SES suppresses addresses that bounced or complained. moto ignores the name, so the
/// request itself is read on its way there.
#[tokio::test]
async fn every_mail_names_the_configuration_set() {
    let Some(url) = moto_url() else { return };
    let (proxy, mut mailer) = moto_mailer_behind_proxy(&url, "configuration-set.example").await;
    if let Mailer::Aws {
        configuration_set, ..
    } = &mut mailer
    {
        *configuration_set = Some("blockauth-mail".into());
    }
    let to = Identifier::email("someone@configuration-set.example").unwrap();
    let message = blockauth::mail::messages::account_exists(&Settings::default());
    mailer
        .send(&to, &message)
        .await
        .expect("SES accepts the mail");
    let sent: Vec<Value> = proxy
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|call| call.path == "/v2/email/outbound-emails")
        .map(|call| serde_json::from_slice(&call.body).expect("a JSON request"))
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["ConfigurationSetName"], "blockauth-mail");
}

#[tokio::test]
async fn ses_failure_is_503() {
    let Some(url) = moto_url() else { return };
    // No verified identity for this sender's domain: SES refuses.
    let config = aws_config(&url).await;
    let mailer = Mailer::Aws {
        ses: aws_sdk_sesv2::Client::new(&config),
        sns: aws_sdk_sns::Client::new(&config),
        from: "no-reply@unverified.example".into(),
        configuration_set: None,
    };
    let to = Identifier::email("someone@unverified.example").unwrap();
    let message = blockauth::mail::messages::account_exists(&Settings::default());
    let error = mailer.send(&to, &message).await.unwrap_err();
    assert_eq!(error.status(), 503);
}

#[tokio::test]
async fn sns_sends_sms() {
    let Some(url) = moto_url() else { return };
    let mailer = moto_mailer(&url, "sns-adapter.example").await;
    let to = Identifier::phone("+14155550199").unwrap();
    let message = blockauth::mail::messages::code(
        &Settings::default(),
        blockauth::codes::Purpose::Signup,
        "135790",
    );
    mailer
        .send(&to, &message)
        .await
        .expect("SNS accepts the SMS");
}

#[tokio::test]
async fn signup_code_travels_through_ses() {
    let Some(url) = moto_url() else { return };
    let mailer = moto_mailer(&url, "signup-flow.example").await;
    let settings = Settings {
        email_from: "no-reply@signup-flow.example".into(),
        ..Settings::default()
    };
    let app = TestApp::start_with_mailer(settings, mailer, tempfile::tempdir().unwrap()).await;
    let to = "ada@signup-flow.example";
    let started = app
        .post("signup/", json!({"email": to, "password": PASSWORD}))
        .await;
    assert_eq!(started.status, 200, "{:?}", started.body);
    let sent = moto_mail(&url).await;
    let mine = mail_to(&sent, to);
    assert_eq!(mine.len(), 1);
    let code = code_in(mine[0]["subject"].as_str().unwrap()).unwrap();
    let confirmed = app
        .post("signup/confirm/", json!({"email": to, "otp": code}))
        .await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.body);
}

#[tokio::test]
async fn the_signing_key_comes_from_secrets_manager() {
    let Some(url) = moto_url() else { return };
    let config = aws_config(&url).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let value = SigningKey::generate_text().unwrap();
    secrets
        .create_secret()
        .name("blockauth/test-signing-key")
        .secret_string(&value)
        .send()
        .await
        .expect("secret created in moto");
    let key = SigningKey::from_secrets_manager(&secrets, "blockauth/test-signing-key")
        .await
        .expect("key read");
    assert_eq!(key.bytes(), value.as_bytes());

    let missing = SigningKey::from_secrets_manager(&secrets, "blockauth/no-such-secret").await;
    assert!(missing.unwrap_err().contains("no-such-secret"));

    secrets
        .create_secret()
        .name("blockauth/short-key")
        .secret_string("too short")
        .send()
        .await
        .unwrap();
    assert!(
        SigningKey::from_secrets_manager(&secrets, "blockauth/short-key")
            .await
            .is_err()
    );
}

/// Settings for a Lambda function against moto: its signing key in Secrets Manager (named
/// `key`, made once) and a table of its own.
async fn lambda_settings(url: &str, key: &str) -> Settings {
    let config = aws_config(url).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let exists = secrets
        .describe_secret()
        .secret_id(key)
        .send()
        .await
        .is_ok();
    if !exists {
        let value = SigningKey::generate_text().unwrap();
        let created = secrets.create_secret().name(key).secret_string(value);
        created.send().await.expect("secret created in moto");
    }
    static TABLES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = TABLES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut settings = blockauth_tests::test_settings();
    settings.table_name = format!("lambda-{}-{n}", std::process::id());
    settings.signing_key_secret = Some(key.into());
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    blockauth::store::table::create_if_missing(&dynamodb, &settings.table_name)
        .await
        .expect("table");
    settings
}

/// The routes of `feature`'s function.
fn routes_of(feature: blockauth::Feature) -> blockauth::http::FeatureRoutes {
    let (_, routes) = blockauth_local::FEATURES
        .into_iter()
        .find(|(f, _)| *f == feature)
        .expect("a function of that feature");
    routes
}

/// API Gateway's event (HTTP API, payload 2.0) for a POST of `body` to `path` by a client
/// at `source_ip`.
fn post_event(path: &str, body: &Value, source_ip: &str) -> lambda_http::LambdaEvent<Value> {
    let event = json!({
        "version": "2.0", "routeKey": format!("POST {path}"), "rawPath": path,
        "rawQueryString": "", "headers": {"content-type": "application/json"},
        "requestContext": {"http": {"method": "POST", "path": path,
            "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "test"}},
        "body": body.to_string(),
        "isBase64Encoded": false,
    });
    lambda_http::LambdaEvent::new(event, lambda_http::Context::default())
}

/// The status of `function`'s answer to `event`.
async fn status_of(
    function: &blockauth::lambda::Function,
    event: lambda_http::LambdaEvent<Value>,
) -> u64 {
    let answer = function.answer(event).await.expect("an answer");
    answer["statusCode"].as_u64().expect("a status")
}

/// A cold start while Secrets Manager is down: the function (`lambda::Function`, as each
/// Lambda function runs) answers every request 503 rather than failing its init (for which
/// API Gateway would answer 500), and the first request after Secrets Manager is back
/// starts it and is answered. A wrong setting or secret still stops it at init.
#[tokio::test]
async fn secrets_manager_down_at_a_cold_start_is_a_503_until_it_is_back() {
    use blockauth::lambda::Function;
    let Some(url) = moto_url() else { return };
    let settings = lambda_settings(&url, "blockauth/lambda-key").await;
    let short_key = lambda_settings(&url, "blockauth/lambda-short-key").await;
    let config = aws_config(&url).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&config);
    let shortened = secrets
        .put_secret_value()
        .secret_id("blockauth/lambda-short-key")
        .secret_string("too short");
    shortened.send().await.expect("a new version");
    let moto = url
        .trim_start_matches("http://")
        .parse()
        .expect("moto's address");
    let proxy = Proxy::start(moto).await;
    let through_proxy = aws_config(&format!("http://{}", proxy.address)).await;
    let login = routes_of(blockauth::Feature::BasicLogin);

    assert!(
        Function::new(login, short_key, through_proxy.clone())
            .await
            .is_err()
    );
    let mut unnamed = settings.clone();
    unnamed.signing_key_secret = None;
    assert!(
        Function::new(login, unnamed, through_proxy.clone())
            .await
            .is_err()
    );

    proxy.down(Fault::Refuse);
    let function = Function::new(login, settings, through_proxy)
        .await
        .expect("the settings are right: the function runs");
    let body = json!({"email": "ada@example.com", "password": PASSWORD});
    let event = || post_event("/auth/login/basic/", &body, "198.51.100.7");
    assert_eq!(status_of(&function, event()).await, 503);
    assert_eq!(status_of(&function, event()).await, 503);
    proxy.heal();
    // Started now: an unknown account's answer.
    assert_eq!(status_of(&function, event()).await, 401);
}

/// An attacker with an IPv6 /64 sends each guess from another of its addresses: the
/// function counts them as one client network (API Gateway's `sourceIp`), so the fourth in
/// the window is refused; another /64 has its own share.
#[tokio::test]
async fn addresses_of_one_ipv6_network_share_one_limit() {
    let Some(url) = moto_url() else { return };
    let settings = lambda_settings(&url, "blockauth/ipv6-test-key").await;
    let login = routes_of(blockauth::Feature::BasicLogin);
    let function = blockauth::lambda::Function::new(login, settings, aws_config(&url).await)
        .await
        .expect("started");
    let guess = json!({"email": "ada@example.com", "password": "Guess-Number-1"});
    let mut statuses = Vec::new();
    for host in ["::1", "::2", "::ffff:1", ":abcd:ef01:2345:6789"] {
        let source_ip = format!("2001:db8:7:7{host}");
        let event = post_event("/auth/login/basic/", &guess, &source_ip);
        statuses.push(status_of(&function, event).await);
    }
    // REQUEST_LIMIT (3) per route, identifier and network.
    assert_eq!(statuses, [401, 401, 401, 429]);
    let elsewhere = post_event("/auth/login/basic/", &guess, "2001:db8:7:8::1");
    assert_eq!(status_of(&function, elsewhere).await, 401);
}

/// Secrets Manager's part of a rotation, against moto: it stages the version `token` as
/// AWSPENDING (without a value), then invokes the rotation function once per step. moto
/// cannot run our function, so it stages the version and then refuses to invoke it; the
/// test runs the four steps itself, as Lambda would, and once more to show they are safe
/// to repeat.
async fn rotate(
    secrets: &aws_sdk_secretsmanager::Client,
    secret: &str,
    token: &str,
    settings: &blockauth::session::settings::SessionSettings,
) {
    use blockauth::session::rotation::{self, RotationEvent};
    let staged = secrets
        .rotate_secret()
        .secret_id(secret)
        .client_request_token(token)
        .rotation_lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:blockauth-keys")
        .rotate_immediately(true)
        .send()
        .await;
    assert!(staged.is_err(), "moto has no function to invoke");
    for step in [
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
        "createSecret",
        "finishSecret",
    ] {
        let event = RotationEvent {
            secret_id: secret.to_owned(),
            client_request_token: token.to_owned(),
            step: step.to_owned(),
        };
        rotation::step(secrets, settings, &event)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
}

#[tokio::test]
async fn the_token_key_set_rotates_by_secrets_managers_contract() {
    use blockauth::session::keys::KeySet;
    use blockauth::session::settings::Algorithm;
    use blockauth::session::token::{KeySource, TokenType, Tokens};
    let Some(url) = moto_url() else { return };
    let secrets = aws_sdk_secretsmanager::Client::new(&aws_config(&url).await);
    let secret = format!(
        "blockauth/token-keys-{}-{}",
        std::process::id(),
        blockauth::clock::now()
    );
    secrets
        .create_secret()
        .name(&secret)
        .secret_string(r#"{"keys": []}"#)
        .send()
        .await
        .unwrap();
    let mut settings = Settings::default();
    settings.session.algorithm = Algorithm::Es256;
    settings.session.token_issuer = "https://auth.example/auth".into();
    settings.session.key_rotation_grace = 600;
    let current = || async {
        let text = blockauth::signing_key::secret_text(&secrets, &secret)
            .await
            .unwrap();
        KeySet::parse(&text).unwrap()
    };

    // The first rotation (a deployment's) makes the first key, signing at once.
    rotate(
        &secrets,
        &secret,
        "00000000-0000-4000-8000-000000000001",
        &settings.session,
    )
    .await;
    let first = current().await;
    assert_eq!(first.keys.len(), 1);
    let source = KeySource::SecretsManager {
        client: secrets.clone(),
        secret_id: secret.clone(),
    };
    let tokens = Tokens::with_key_set(&first, source, &settings).unwrap();
    let before = tokens.issue("u", "s", &Default::default()).await.unwrap();

    // The next adds a key that signs only after the grace period; both verify.
    rotate(
        &secrets,
        &secret,
        "00000000-0000-4000-8000-000000000002",
        &settings.session,
    )
    .await;
    let second = current().await;
    assert_eq!(second.keys.len(), 2);
    assert_eq!(second.keys[0], first.keys[0]);
    assert!(second.keys[1].signs_from >= blockauth::clock::now() + 590);
    let published = tokens.published().await.unwrap();
    assert_eq!(
        published["keys"].as_array().unwrap().len(),
        1,
        "not re-read yet"
    );
    assert!(
        tokens
            .verify(&before.access, TokenType::Access)
            .await
            .is_ok()
    );

    // A step of a version that is not being rotated, or an unknown step, is refused.
    use blockauth::session::rotation::{self, RotationEvent};
    for (token, step) in [
        ("00000000-0000-4000-8000-00000000dead", "createSecret"),
        ("00000000-0000-4000-8000-000000000002", "doSomething"),
    ] {
        let event = RotationEvent {
            secret_id: secret.clone(),
            client_request_token: token.into(),
            step: step.into(),
        };
        let refused = rotation::step(&secrets, &settings.session, &event).await;
        // The current version's steps are done; any other version's are refused.
        if token.ends_with("dead") {
            assert!(refused.is_err());
        } else {
            assert!(
                refused.is_ok(),
                "the current version has nothing left to do"
            );
        }
    }
}

/// Steps that mail a code, each with SES (or SNS) down (a `Proxy` to moto refusing): the
/// step answers 503, and the same step again mails a code that completes the flow.
#[tokio::test]
async fn ses_failing_at_each_mailing_step_is_a_503_and_the_retry_works() {
    let Some(url) = moto_url() else { return };
    let domain = "ses-faults.example";
    let (proxy, mailer) = moto_mailer_behind_proxy(&url, domain).await;
    let mut settings = blockauth_tests::test_settings();
    settings.email_from = format!("no-reply@{domain}");
    settings.limits.request_limit = 100;
    // A send SES refused still counts against the budget (it bounds attempts, not mail).
    settings.limits.send_limit = 100;
    let app = TestApp::start_with_mailer(settings, mailer, tempfile::tempdir().unwrap()).await;
    let (ada, bob) = (format!("ada@{domain}"), format!("bob@{domain}"));
    let newest_code = async |to: &str| {
        let sent = moto_mail(&url).await;
        let last = *mail_to(&sent, to).last().expect("a mail");
        code_in(last["subject"].as_str().unwrap()).expect("a code")
    };
    // The step with SES down (the SDK retries a single failure), then again with SES well.
    let fails_then_mails = async |route: &str, body: Value, token: Option<&str>| {
        for fault in [true, false] {
            if fault {
                proxy.down(Fault::Refuse);
            }
            let mut request = app.http.post(app.url(route)).json(&body);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            let reply = app.send(request).await;
            proxy.heal();
            let expected = if fault { 503 } else { 200 };
            assert_eq!(reply.status, expected, "{route}: {:?}", reply.body);
        }
    };
    let ok = |reply: &blockauth_tests::Reply| assert_eq!(reply.status, 200, "{:?}", reply.body);

    let password = json!({"email": ada, "password": PASSWORD});
    fails_then_mails("signup/", password.clone(), None).await;
    let code = newest_code(&ada).await;
    let signed_up = app
        .post("signup/confirm/", json!({"email": ada, "otp": code}))
        .await;
    ok(&signed_up);

    ok(&app
        .post("signup/", json!({"email": bob, "password": PASSWORD}))
        .await);
    fails_then_mails("signup/otp/resend/", json!({"email": bob}), None).await;
    let code = newest_code(&bob).await;
    ok(&app
        .post("signup/confirm/", json!({"email": bob, "otp": code}))
        .await);

    fails_then_mails("login/passwordless/", json!({"email": ada}), None).await;
    let code = newest_code(&ada).await;
    let confirm = json!({"email": ada, "otp": code});
    ok(&app.post("login/passwordless/confirm/", confirm).await);

    fails_then_mails("password/reset/", json!({"email": ada}), None).await;
    let code = newest_code(&ada).await;
    let reset = json!({"email": ada, "otp": code, "new_password": "Reset-Horse-7-Battery"});
    ok(&app.post("password/reset/confirm/", reset).await);

    let token = blockauth_tests::access(&app.log_in(&ada, "Reset-Horse-7-Battery").await);
    let moved = format!("ada.new@{domain}");
    fails_then_mails("email/change/", json!({"new_email": moved}), Some(&token)).await;
    let code = newest_code(&moved).await;
    let confirm = json!({"email": moved, "otp": code});
    ok(&app.post_as(&token, "email/change/confirm/", confirm).await);

    // SMS through SNS, the same way (moto keeps no SMS to read a code from).
    let phone = json!({"phone": "+14155550142", "password": PASSWORD});
    fails_then_mails("signup/", phone, None).await;

    let wallet = TestWallet::number(8);
    let token = blockauth_tests::access(&wallet_login(&app, &wallet).await);
    let carol = format!("carol@{domain}");
    fails_then_mails("wallet/email/add/", json!({"email": carol}), Some(&token)).await;
    let code = newest_code(&carol).await;
    let confirm = json!({"email": carol, "otp": code});
    ok(&app
        .post_as(&token, "wallet/email/add/confirm/", confirm)
        .await);
}

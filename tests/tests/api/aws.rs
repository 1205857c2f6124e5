//! The AWS adapters against moto: SES v2 mail, SNS SMS, the Secrets Manager key source, and a
//! whole signup whose code travels through SES.

use blockauth::Settings;
use blockauth::identity::identifier::Identifier;
use blockauth::mail::Mailer;
use blockauth::signing_key::SigningKey;
use blockauth_tests::{PASSWORD, TestApp, code_in, moto_url};
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
    }
}

/// Every message moto's SES has accepted.
async fn sent_mail(url: &str) -> Vec<Value> {
    let data: Value = reqwest::get(format!("{url}/moto-api/data.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["Message"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn mail_to<'a>(messages: &'a [Value], to: &str) -> Vec<&'a Value> {
    messages
        .iter()
        .filter(|m| {
            m["destinations"]["ToAddresses"]
                .as_array()
                .is_some_and(|a| a.iter().any(|t| t == to))
        })
        .collect()
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
    let sent = sent_mail(&url).await;
    let mine = mail_to(&sent, "ses-adapter@ses-adapter.example");
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["subject"], "Your BlockAuth code: 424242");
    assert!(mine[0]["body"].as_str().unwrap().contains("424242"));
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
    let sent = sent_mail(&url).await;
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

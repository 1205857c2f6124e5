//! Your own delivery (`DELIVERY`): each message handed, as a documented JSON payload, to a
//! Lambda function, an SQS queue or a webhook in place of SES and SNS. Codes are
//! credentials, so they go point to point (never on an event bus, where any rule, archive
//! or replay could read them).
//!
//! The payload, version 1: `{"version": 1, "kind": <template>, "purpose": <what a code is
//! for, or null>, "channel": "email" | "sms", "recipient": ..., "code": <or null>,
//! "subject": ..., "text": ..., "html": ..., "sms": <the SMS form>, "locale": ...}`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::aws::{self, SdkConfig};
use crate::error::AuthError;
use crate::identity::identifier::Identifier;
use crate::mail::Message;
use crate::mail::settings::{Delivery, DeliverySettings};
use crate::purpose::Purpose;

/// The version of the payload; a courier can refuse versions it does not know.
pub const PAYLOAD_VERSION: u32 = 1;

/// Where the messages go.
pub enum Route {
    /// A Lambda function, invoked synchronously: its success is the message's.
    Lambda { aws: SdkConfig, function: String },
    /// An SQS queue (standard, encrypted at rest as SQS encrypts by default).
    Sqs { aws: SdkConfig, queue_url: String },
    /// A URL POSTed to, signed with `WEBHOOK_SECRET`.
    Webhook { url: String, secret: String },
}

/// Your own delivery: a route, the templates' locale and a time limit.
pub struct Courier {
    pub route: Route,
    pub locale: String,
    pub timeout: Duration,
}

impl Courier {
    /// The courier `settings` name (None for SES): Lambda and SQS reached with `aws`
    /// (Err where there is none), a webhook signed with `webhook_secret`.
    pub fn from_settings(
        settings: &DeliverySettings,
        webhook_secret: Option<&str>,
        aws: Option<&SdkConfig>,
    ) -> Result<Option<Courier>, String> {
        let target = settings.target.clone().unwrap_or_default();
        let aws = || {
            aws.cloned()
                .ok_or("setting DELIVERY: Lambda and SQS need an AWS configuration")
        };
        let route = match settings.delivery {
            Delivery::Ses => return Ok(None),
            Delivery::Lambda => Route::Lambda {
                aws: aws()?,
                function: target,
            },
            Delivery::Sqs => Route::Sqs {
                aws: aws()?,
                queue_url: target,
            },
            Delivery::Webhook => Route::Webhook {
                url: target,
                secret: webhook_secret.unwrap_or_default().to_owned(),
            },
        };
        Ok(Some(Courier {
            route,
            locale: settings.locale.clone(),
            timeout: Duration::from_millis(settings.timeout_ms),
        }))
    }

    /// Hands `message` for `to` to the route; a failure is 503, like SES's.
    pub async fn send(&self, to: &Identifier, message: &Message) -> Result<(), AuthError> {
        let body = payload(to, message, &self.locale).to_string();
        let failed = |why: String| AuthError::unavailable("delivery", &why);
        match &self.route {
            Route::Lambda { aws, function } => {
                aws::invoke(aws, function, body.into_bytes(), self.timeout)
                    .await
                    .map_err(failed)?;
            }
            Route::Sqs { aws, queue_url } => {
                let request = aws::Request {
                    path: "/",
                    target: Some("AmazonSQS.SendMessage"),
                    content_type: "application/x-amz-json-1.0",
                    body: json!({
                        "QueueUrl": queue_url,
                        "MessageBody": body,
                    })
                    .to_string()
                    .into_bytes(),
                };
                aws::call(aws, aws::Service::Sqs, request, self.timeout)
                    .await
                    .map_err(failed)?;
            }
            Route::Webhook { url, secret } => {
                crate::https::webhook(url, secret, body.into_bytes(), self.timeout)
                    .await
                    .map_err(failed)?;
            }
        }
        Ok(())
    }
}

/// What a courier is given for `message` to `to`.
pub fn payload(to: &Identifier, message: &Message, locale: &str) -> Value {
    json!({
        "version": PAYLOAD_VERSION,
        "kind": message.kind.name(),
        "purpose": message.purpose.map(Purpose::name),
        "channel": match to {
            Identifier::Email(_) => "email",
            Identifier::Phone(_) => "sms",
        },
        "recipient": to.value(),
        "code": message.code,
        "subject": message.subject,
        "text": message.text,
        "html": message.html,
        "sms": message.sms,
        "locale": locale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;

    #[test]
    fn the_payload_says_what_who_and_how() {
        let settings = Settings::default();
        let to = Identifier::email("ada@example.com").unwrap();
        let message = crate::mail::messages::code(&settings, Purpose::PasswordReset, "123456");
        let p = payload(&to, &message, "en");
        assert_eq!(p["version"], 1);
        assert_eq!(p["kind"], "code");
        assert_eq!(p["purpose"], "password_reset");
        assert_eq!(p["channel"], "email");
        assert_eq!(p["recipient"], "ada@example.com");
        assert_eq!(p["code"], "123456");
        assert!(p["subject"].as_str().unwrap().contains("123456"));
        let phone = Identifier::phone("+14155550123").unwrap();
        let notice = crate::mail::messages::password_changed(&settings);
        let p = payload(&phone, &notice, "en");
        assert_eq!(p["channel"], "sms");
        assert_eq!(p["code"], Value::Null);
        assert_eq!(p["purpose"], Value::Null);
        assert_eq!(p["kind"], "password_changed");
    }
}

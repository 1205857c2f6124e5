//! The delivery settings section: how codes and notices leave.

use crate::settings::read::{Section, SettingsError, Values, error};

/// `DELIVERY`: who sends the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// SES for mail, SNS for SMS (locally: the outbox).
    Ses,
    /// A Lambda function (`DELIVERY_TARGET`: its name or ARN), invoked synchronously.
    Lambda,
    /// An SQS queue (`DELIVERY_TARGET`: its URL).
    Sqs,
    /// A URL (`DELIVERY_TARGET`) POSTed to, signed with `WEBHOOK_SECRET`.
    Webhook,
}

/// The delivery settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
    pub delivery: Delivery,
    /// `DELIVERY_TARGET`: the function, queue or URL of a delivery other than SES.
    pub target: Option<String>,
    /// `DELIVERY_TIMEOUT`: milliseconds a delivery other than SES may take.
    pub timeout_ms: u64,
    /// `MESSAGE_LOCALE`: the language of the templates, told to your delivery.
    pub locale: String,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            delivery: Delivery::Ses,
            target: None,
            timeout_ms: 5000,
            locale: "en".into(),
        }
    }
}

impl Section for DeliverySettings {
    const NAMES: &'static [&'static str] = &[
        "DELIVERY",
        "DELIVERY_TARGET",
        "DELIVERY_TIMEOUT",
        "MESSAGE_LOCALE",
    ];

    fn read(&mut self, values: &Values) -> Result<(), SettingsError> {
        if let Some(v) = values.get("DELIVERY").filter(|v| !v.trim().is_empty()) {
            self.delivery = match v.trim().to_ascii_uppercase().as_str() {
                "SES" => Delivery::Ses,
                "LAMBDA" => Delivery::Lambda,
                "SQS" => Delivery::Sqs,
                "WEBHOOK" => Delivery::Webhook,
                _ => return Err(error("DELIVERY", "expected SES, LAMBDA, SQS or WEBHOOK")),
            };
        }
        if let Some(v) = values
            .get("DELIVERY_TARGET")
            .filter(|v| !v.trim().is_empty())
        {
            self.target = Some(v.trim().to_owned());
        }
        values.number("DELIVERY_TIMEOUT", &mut self.timeout_ms, 1)?;
        values.text("MESSAGE_LOCALE", &mut self.locale)?;
        let target = self.target.as_deref();
        let url = target.is_some_and(crate::https::is_url);
        match self.delivery {
            Delivery::Ses => Ok(()),
            Delivery::Lambda if target.is_some() && !url => Ok(()),
            Delivery::Sqs | Delivery::Webhook if url => Ok(()),
            Delivery::Lambda => Err(error(
                "DELIVERY_TARGET",
                "DELIVERY LAMBDA needs the function's name or ARN",
            )),
            Delivery::Sqs => Err(error(
                "DELIVERY_TARGET",
                "DELIVERY SQS needs the queue's URL",
            )),
            Delivery::Webhook => Err(error(
                "DELIVERY_TARGET",
                "DELIVERY WEBHOOK needs the URL to POST to",
            )),
        }
    }
}

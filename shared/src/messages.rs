//! What the API writes to people: each message in text, HTML and SMS form.

use crate::mailer::Message;
use crate::one_time_code::Purpose;
use crate::settings::Settings;

fn lifetime(seconds: u64) -> String {
    match seconds {
        s if s % 3600 == 0 && s >= 3600 => plural(s / 3600, "hour"),
        s if s % 60 == 0 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

fn plural(n: u64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

fn html_page(paragraphs: &[String]) -> String {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>", escape(p)))
        .collect();
    format!("<!doctype html><html><body style=\"font-family:sans-serif\">{body}</body></html>")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A message carrying a one-time code for `purpose`.
pub fn code(settings: &Settings, purpose: Purpose, code: &str) -> Message {
    let product = &settings.product_name;
    let what = match purpose {
        Purpose::Signup => "confirm your new account",
        Purpose::Login => "sign in",
        Purpose::PasswordReset => "reset your password",
        Purpose::EmailChange => "confirm your new email address",
        Purpose::WalletEmail => "add this email address to your wallet account",
    };
    let valid = lifetime(settings.otp_validity);
    let paragraphs = vec![
        format!("Your {product} code is {code}."),
        format!("Enter it to {what}. It expires in {valid} and works once."),
        "If you did not ask for this code, ignore this message: nobody can use it without \
         access to your inbox, and your account is unchanged."
            .to_owned(),
    ];
    Message {
        subject: format!("Your {product} code: {code}"),
        text: paragraphs.join("\n\n") + "\n",
        html: html_page(&paragraphs),
        sms: format!("{code} is your {product} code to {what}. It expires in {valid}."),
        code: Some(code.to_owned()),
    }
}

/// Sent instead of a code when someone signs up with an identifier that has an account:
/// the requester learns nothing, the owner learns what happened.
pub fn account_exists(settings: &Settings) -> Message {
    let product = &settings.product_name;
    let paragraphs = vec![
        format!(
            "Someone tried to create a new {product} account with this address, but you already have one."
        ),
        "If it was you, sign in instead, or reset your password if you forgot it.".to_owned(),
        "If it was not you, ignore this message: your account is unchanged.".to_owned(),
    ];
    Message {
        subject: format!("You already have a {product} account"),
        text: paragraphs.join("\n\n") + "\n",
        html: html_page(&paragraphs),
        sms: format!(
            "Someone tried to sign up for {product} with this number, which already has an account. If it was not you, ignore this."
        ),
        code: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_messages_say_what_and_how_long() {
        let m = code(&Settings::default(), Purpose::Signup, "123456");
        assert!(m.subject.contains("123456"));
        assert!(m.text.contains("expires in 1 minute"));
        assert!(m.text.contains("If you did not ask"));
        assert!(m.html.contains("123456"));
        assert!(m.sms.contains("123456"));
        assert_eq!(lifetime(90), "90 seconds");
        assert_eq!(lifetime(7200), "2 hours");
    }

    #[test]
    fn html_is_escaped() {
        let settings = Settings {
            product_name: "<b>Acme</b>".into(),
            ..Settings::default()
        };
        assert!(account_exists(&settings).html.contains("&lt;b&gt;Acme"));
    }
}

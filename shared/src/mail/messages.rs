//! What the API writes to people: each message one of the templates (`templates`) filled
//! with the product's name and what the message is about.

use crate::mail::Message;
use crate::mail::templates::Kind;
use crate::purpose::Purpose;
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

/// What a code of `purpose` lets its holder do.
fn action(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Signup => "confirm your new account",
        Purpose::Login => "sign in",
        Purpose::PasswordReset => "reset your password",
        Purpose::EmailChange => "move an account to this email address",
        Purpose::WalletEmail => "add this email address to a wallet account",
    }
}

/// What a code bound to the account known as `account` lets its holder do: the message
/// names the account that asked, so that the address's owner knows whose change it is.
fn account_action(purpose: Purpose, account: &str) -> String {
    match purpose {
        Purpose::WalletEmail => format!("add this email address to the wallet account {account}"),
        _ => format!("move the account {account} to this email address"),
    }
}

/// A message carrying a one-time code for `purpose`.
pub fn code(settings: &Settings, purpose: Purpose, code: &str) -> Message {
    code_to(settings, action(purpose), code).about(purpose)
}

/// A message carrying a code for `purpose` bound to the account known as `account` (its
/// email, phone or wallet address), which the message names.
pub fn code_for_account(
    settings: &Settings,
    purpose: Purpose,
    code: &str,
    account: &str,
) -> Message {
    code_to(settings, &account_action(purpose, account), code).about(purpose)
}

fn code_to(settings: &Settings, action: &str, code: &str) -> Message {
    let validity = lifetime(settings.codes.validity);
    settings.templates.render(
        Kind::Code,
        &[
            ("product", &settings.product_name),
            ("code", code),
            ("action", action),
            ("validity", &validity),
        ],
        Some(code),
    )
}

/// Sent instead of a code when an account asks for an address that belongs to another
/// account: the asker gets the same answer as for a free address, the owner this notice.
pub fn address_taken(settings: &Settings, purpose: Purpose) -> Message {
    settings
        .templates
        .render(
            Kind::AddressTaken,
            &[
                ("product", &settings.product_name),
                ("action", action(purpose)),
            ],
            None,
        )
        .about(purpose)
}

/// Sent instead of a code when someone signs up with an identifier that has an account:
/// the requester learns nothing, the owner learns what happened.
pub fn account_exists(settings: &Settings) -> Message {
    settings.templates.render(
        Kind::AccountExists,
        &[("product", &settings.product_name)],
        None,
    )
}

/// Sent instead of a code when the identifier has no account for `purpose`, so that every
/// code-sending route does the same work whoever asks.
pub fn no_account(settings: &Settings, purpose: Purpose) -> Message {
    settings
        .templates
        .render(
            Kind::NoAccount,
            &[
                ("product", &settings.product_name),
                ("action", action(purpose)),
            ],
            None,
        )
        .about(purpose)
}

pub fn password_changed(settings: &Settings) -> Message {
    settings.templates.render(
        Kind::PasswordChanged,
        &[("product", &settings.product_name)],
        None,
    )
}

/// To the old address, after the account moved to `new_email`.
pub fn email_changed(settings: &Settings, new_email: &str) -> Message {
    settings.templates.render(
        Kind::EmailChanged,
        &[("product", &settings.product_name), ("email", new_email)],
        None,
    )
}

/// A change of the account's second factor, as its notice names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaChange {
    Enabled,
    Disabled,
    NewBackupCodes,
}

/// To the account's email or phone, after its second factor changed.
pub fn mfa_changed(settings: &Settings, change: MfaChange) -> Message {
    let action = match change {
        MfaChange::Enabled => "turned on",
        MfaChange::Disabled => "turned off",
        MfaChange::NewBackupCodes => "new backup codes were made, the old ones no longer work",
    };
    settings.templates.render(
        Kind::MfaChanged,
        &[("product", &settings.product_name), ("action", action)],
        None,
    )
}

/// To the account's email or phone, after the account was deleted.
pub fn account_deleted(settings: &Settings) -> Message {
    settings.templates.render(
        Kind::AccountDeleted,
        &[("product", &settings.product_name)],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::templates::Templates;

    #[test]
    fn code_messages_say_what_and_how_long() {
        let m = code(&Settings::default(), Purpose::Signup, "123456");
        assert!(m.subject.contains("123456"));
        assert!(m.text.contains("expires in 1 minute"));
        assert!(m.text.contains("If you did not ask"));
        assert!(m.html.contains("123456"));
        assert!(m.sms.contains("123456"));
        assert_eq!(m.code.as_deref(), Some("123456"));
        assert_eq!(lifetime(90), "90 seconds");
        assert_eq!(lifetime(7200), "2 hours");
    }

    #[test]
    fn every_kind_names_the_product() {
        let settings = Settings::default();
        for m in [
            account_exists(&settings),
            no_account(&settings, Purpose::PasswordReset),
            address_taken(&settings, Purpose::EmailChange),
            password_changed(&settings),
            email_changed(&settings, "new@example.com"),
        ] {
            assert!(m.subject.contains("BlockAuth"), "{m:?}");
            assert!(!m.text.contains('{'), "{m:?}");
            assert!(m.code.is_none());
        }
    }

    #[test]
    fn html_values_are_escaped() {
        let settings = Settings {
            product_name: "<b>Acme</b>".into(),
            ..Settings::default()
        };
        let m = account_exists(&settings);
        assert!(m.html.contains("&lt;b&gt;Acme"));
        assert!(m.text.contains("<b>Acme</b>"));
    }

    #[test]
    fn templates_are_overridden_from_files() {
        let dir = std::env::temp_dir().join(format!("templates-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("code.subject.txt"), "Acme login: {code}\n").unwrap();
        std::fs::write(dir.join("code.sms.txt"), "{code} for {product}").unwrap();
        let settings = Settings {
            templates: Templates::load(&dir).unwrap(),
            ..Settings::default()
        };
        let m = code(&settings, Purpose::Login, "654321");
        assert_eq!(m.subject, "Acme login: 654321");
        assert_eq!(m.sms, "654321 for BlockAuth");
        assert!(
            m.text.contains("sign in"),
            "parts without a file stay built in"
        );

        std::fs::write(dir.join("code.txt"), "{secret}").unwrap();
        assert!(
            Templates::load(&dir)
                .unwrap_err()
                .contains("unknown placeholder {secret}")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! What the API writes to people. Each message is a template with a subject, a plain-text
//! body, an HTML body and an SMS text, filled with `{product}`, `{code}`, `{action}`,
//! `{validity}` and `{email}`. A deployer overrides any of them without recompiling: files
//! in `TEMPLATES_DIR` named `<kind>.subject.txt`, `<kind>.txt`, `<kind>.html`, `<kind>.sms.txt`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::mailer::Message;
use crate::one_time_code::Purpose;
use crate::settings::Settings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub sms: String,
}

/// Every message kind, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates(BTreeMap<&'static str, Template>);

const PLACEHOLDERS: [&str; 5] = ["product", "code", "action", "validity", "email"];

const FOOTER_TEXT: &str =
    "If you did not ask for this, ignore this message: your account is unchanged.";

fn built_in(kind: &str) -> Template {
    let (subject, paragraphs, sms): (&str, &[&str], &str) = match kind {
        "code" => (
            "Your {product} code: {code}",
            &[
                "Your {product} code is {code}.",
                "Enter it to {action}. It expires in {validity} and works once.",
                "If you did not ask for this code, ignore this message: nobody can use it without access to your inbox, and your account is unchanged.",
            ],
            "{code} is your {product} code to {action}. It expires in {validity}.",
        ),
        "account_exists" => (
            "You already have a {product} account",
            &[
                "Someone tried to create a new {product} account with this address, but you already have one.",
                "If it was you, sign in instead, or reset your password if you forgot it.",
                FOOTER_TEXT,
            ],
            "Someone tried to sign up for {product} with this number, which already has an account. If it was not you, ignore this.",
        ),
        "no_account" => (
            "Your {product} request",
            &[
                "Someone asked {product} to {action} with this address, but no account or signup uses it.",
                "If it was you, sign up first, or try the address you signed up with.",
                FOOTER_TEXT,
            ],
            "Someone asked {product} to {action} with this number, but no account uses it. If it was not you, ignore this.",
        ),
        "password_changed" => (
            "Your {product} password was changed",
            &[
                "The password of your {product} account was just changed, and every other session was signed out.",
                "If it was not you, reset your password now and check your account.",
            ],
            "Your {product} password was just changed. If it was not you, reset it now.",
        ),
        "address_taken" => (
            "Someone asked to use your address on {product}",
            &[
                "Someone signed in to another {product} account asked to {action}, but this address already belongs to your account. Nothing was changed, and no code was sent.",
                "If it was you, sign in to the account that uses this address instead.",
                FOOTER_TEXT,
            ],
            "Someone asked {product} to {action}, but it already belongs to your account. Nothing was changed.",
        ),
        _ => (
            "Your {product} email address was changed",
            &[
                "The email address of your {product} account was changed to {email}. This address no longer signs in.",
                "If it was not you, contact support and reset your password now.",
            ],
            "The email of your {product} account was changed to {email}. If it was not you, reset your password now.",
        ),
    };
    let html: String = paragraphs.iter().map(|p| format!("<p>{p}</p>")).collect();
    Template {
        subject: subject.to_owned(),
        text: paragraphs.join("\n\n") + "\n",
        html: format!(
            "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">{html}</body></html>"
        ),
        sms: sms.to_owned(),
    }
}

pub const KINDS: [&str; 6] = [
    "code",
    "account_exists",
    "no_account",
    "address_taken",
    "password_changed",
    "email_changed",
];

impl Default for Templates {
    fn default() -> Self {
        Templates(KINDS.iter().map(|kind| (*kind, built_in(kind))).collect())
    }
}

impl Templates {
    /// The built-in templates, each part overridden by its file in `dir` when present.
    pub fn load(dir: &Path) -> Result<Self, String> {
        let mut templates = Templates::default();
        for (kind, template) in templates.0.iter_mut() {
            let parts = [
                ("subject.txt", &mut template.subject),
                ("txt", &mut template.text),
                ("html", &mut template.html),
                ("sms.txt", &mut template.sms),
            ];
            for (suffix, slot) in parts {
                let path = dir.join(format!("{kind}.{suffix}"));
                match std::fs::read_to_string(&path) {
                    Ok(text) => {
                        check_placeholders(&text)
                            .map_err(|e| format!("{}: {e}", path.display()))?;
                        *slot = if suffix == "subject.txt" {
                            text.trim().to_owned()
                        } else {
                            text
                        };
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("{}: {e}", path.display())),
                }
            }
        }
        Ok(templates)
    }

    fn render(&self, kind: &str, values: &[(&str, &str)], code: Option<&str>) -> Message {
        let template = self.0.get(kind).cloned().unwrap_or_else(|| built_in(kind));
        let fill = |text: &str, escape_html: bool| {
            values.iter().fold(text.to_owned(), |out, (name, value)| {
                let value = if escape_html {
                    escape(value)
                } else {
                    (*value).to_owned()
                };
                out.replace(&format!("{{{name}}}"), &value)
            })
        };
        Message {
            subject: fill(&template.subject, false),
            text: fill(&template.text, false),
            html: fill(&template.html, true),
            sms: fill(&template.sms, false),
            code: code.map(str::to_owned),
        }
    }
}

fn check_placeholders(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        let looks_like_placeholder =
            !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if looks_like_placeholder && !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}} (known: {})",
                PLACEHOLDERS.join(", ")
            ));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
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
    code_to(settings, action(purpose), code)
}

/// A message carrying a code for `purpose` bound to the account known as `account` (its
/// email, phone or wallet address), which the message names.
pub fn code_for_account(
    settings: &Settings,
    purpose: Purpose,
    code: &str,
    account: &str,
) -> Message {
    code_to(settings, &account_action(purpose, account), code)
}

fn code_to(settings: &Settings, action: &str, code: &str) -> Message {
    let validity = lifetime(settings.otp_validity);
    settings.templates.render(
        "code",
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
    settings.templates.render(
        "address_taken",
        &[
            ("product", &settings.product_name),
            ("action", action(purpose)),
        ],
        None,
    )
}

/// Sent instead of a code when someone signs up with an identifier that has an account:
/// the requester learns nothing, the owner learns what happened.
pub fn account_exists(settings: &Settings) -> Message {
    settings.templates.render(
        "account_exists",
        &[("product", &settings.product_name)],
        None,
    )
}

/// Sent instead of a code when the identifier has no account for `purpose`, so that every
/// code-sending route does the same work whoever asks.
pub fn no_account(settings: &Settings, purpose: Purpose) -> Message {
    settings.templates.render(
        "no_account",
        &[
            ("product", &settings.product_name),
            ("action", action(purpose)),
        ],
        None,
    )
}

pub fn password_changed(settings: &Settings) -> Message {
    settings.templates.render(
        "password_changed",
        &[("product", &settings.product_name)],
        None,
    )
}

/// To the old address, after the account moved to `new_email`.
pub fn email_changed(settings: &Settings, new_email: &str) -> Message {
    settings.templates.render(
        "email_changed",
        &[("product", &settings.product_name), ("email", new_email)],
        None,
    )
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

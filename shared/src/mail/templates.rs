//! Message templates: each kind a subject, a plain-text body, an HTML body and an SMS text,
//! filled with `{product}`, `{code}`, `{action}`, `{validity}` and `{email}`. A deployer
//! overrides any of them without recompiling: files in `TEMPLATES_DIR` named
//! `<kind>.subject.txt`, `<kind>.txt`, `<kind>.html`, `<kind>.sms.txt`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::mail::Message;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub sms: String,
}

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Every one-time code.
    Code,
    /// A signup for an identifier that has an account.
    AccountExists,
    /// A code asked for an identifier without an account.
    NoAccount,
    /// An email change or wallet email asked for an address that has an account.
    AddressTaken,
    PasswordChanged,
    /// To the old address, after an email change.
    EmailChanged,
    /// To the account's email or phone, after the account was deleted.
    AccountDeleted,
    /// Two-step sign-in turned on or off, or new backup codes made (`{action}`).
    MfaChanged,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Code,
        Kind::AccountExists,
        Kind::NoAccount,
        Kind::AddressTaken,
        Kind::PasswordChanged,
        Kind::EmailChanged,
        Kind::AccountDeleted,
        Kind::MfaChanged,
    ];

    /// Its name in template file names (`<name>.subject.txt`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Code => "code",
            Kind::AccountExists => "account_exists",
            Kind::NoAccount => "no_account",
            Kind::AddressTaken => "address_taken",
            Kind::PasswordChanged => "password_changed",
            Kind::EmailChanged => "email_changed",
            Kind::AccountDeleted => "account_deleted",
            Kind::MfaChanged => "mfa_changed",
        }
    }
}

/// Every message kind's template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Templates(BTreeMap<Kind, Template>);

const PLACEHOLDERS: [&str; 5] = ["product", "code", "action", "validity", "email"];

const FOOTER_TEXT: &str =
    "If you did not ask for this, ignore this message: your account is unchanged.";

fn built_in(kind: Kind) -> Template {
    let (subject, paragraphs, sms): (&str, &[&str], &str) = match kind {
        Kind::Code => (
            "Your {product} code: {code}",
            &[
                "Your {product} code is {code}.",
                "Enter it to {action}. It expires in {validity} and works once.",
                "If you did not ask for this code, ignore this message: nobody can use it without access to your inbox, and your account is unchanged.",
            ],
            "{code} is your {product} code to {action}. It expires in {validity}.",
        ),
        Kind::AccountExists => (
            "You already have a {product} account",
            &[
                "Someone tried to create a new {product} account with this address, but you already have one.",
                "If it was you, sign in instead, or reset your password if you forgot it.",
                FOOTER_TEXT,
            ],
            "Someone tried to sign up for {product} with this number, which already has an account. If it was not you, ignore this.",
        ),
        Kind::NoAccount => (
            "Your {product} request",
            &[
                "Someone asked {product} to {action} with this address, but no account or signup uses it.",
                "If it was you, sign up first, or try the address you signed up with.",
                FOOTER_TEXT,
            ],
            "Someone asked {product} to {action} with this number, but no account uses it. If it was not you, ignore this.",
        ),
        Kind::PasswordChanged => (
            "Your {product} password was changed",
            &[
                "The password of your {product} account was just changed, and every other session was signed out.",
                "If it was not you, reset your password now and check your account.",
            ],
            "Your {product} password was just changed. If it was not you, reset it now.",
        ),
        Kind::AddressTaken => (
            "Someone asked to use your address on {product}",
            &[
                "Someone signed in to another {product} account asked to {action}, but this address already belongs to your account. Nothing was changed, and no code was sent.",
                "If it was you, sign in to the account that uses this address instead.",
                FOOTER_TEXT,
            ],
            "Someone asked {product} to {action}, but it already belongs to your account. Nothing was changed.",
        ),
        Kind::EmailChanged => (
            "Your {product} email address was changed",
            &[
                "The email address of your {product} account was changed to {email}. This address no longer signs in.",
                "If it was not you, contact support and reset your password now.",
            ],
            "The email of your {product} account was changed to {email}. If it was not you, reset your password now.",
        ),
        Kind::AccountDeleted => (
            "Your {product} account was deleted",
            &[
                "Your {product} account and everything stored with it were deleted at your request. Its sessions are signed out, and this address is free to sign up again as a new account.",
                "If it was not you, someone had signed in to your account: sign up again and secure your email.",
            ],
            "Your {product} account was deleted at your request. If it was not you, sign up again and secure your email.",
        ),
        Kind::MfaChanged => (
            "Two-step sign-in on your {product} account: {action}",
            &[
                "Two-step sign-in on your {product} account: {action}.",
                "If it was not you, reset your password now and check your account's sessions.",
            ],
            "Two-step sign-in on your {product} account: {action}. If it was not you, reset your password now.",
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

impl Default for Templates {
    fn default() -> Self {
        Templates(
            Kind::ALL
                .iter()
                .map(|kind| (*kind, built_in(*kind)))
                .collect(),
        )
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
                let path = dir.join(format!("{}.{suffix}", kind.name()));
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

    pub(crate) fn render(
        &self,
        kind: Kind,
        values: &[(&str, &str)],
        code: Option<&str>,
    ) -> Message {
        let template = self.0.get(&kind).cloned().unwrap_or_else(|| built_in(kind));
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
            kind,
            purpose: None,
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

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

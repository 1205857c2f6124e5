//! Lifecycle events: what happened to an account (signed up, signed in, changed its
//! password, ...), published after the change is stored, to EventBridge in AWS or to a
//! JSON Lines file locally. An event never carries a secret (no password, code, token or
//! key), and a failed publish never fails the request: it is logged (in Lambda, inside the
//! runtime's span, so with the request id).
//!
//! The schema, version 1 (`detail` in EventBridge, one line of the local file):
//! `{"version": 1, "id": <uuid>, "type": <Event::kind>, "time": <RFC 3339>, "user_id": ...}`
//! and the fields of its type (`Event`).

pub mod settings;

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::aws::{self, SdkConfig};

/// The version of the events' schema; a consumer can refuse versions it does not know.
pub const SCHEMA_VERSION: u32 = 1;

/// How long a publish may hold up the request that caused it.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Something that happened to the account `user_id`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event<'a> {
    /// An account was created (a confirmed signup, or a first sign-in that creates one).
    /// `method` as `SignInMethod::name` gives it.
    SignupConfirmed {
        user_id: &'a str,
        method: &'a str,
    },
    /// A sign-in: a new session `sid`.
    Login {
        user_id: &'a str,
        method: &'a str,
        sid: &'a str,
    },
    /// A used refresh token came back: its session `sid` is ended.
    TokenReuseDetected {
        user_id: &'a str,
        sid: &'a str,
    },
    /// A session ended by its owner.
    Logout {
        user_id: &'a str,
        sid: &'a str,
    },
    /// A new password by the signed-in owner (every other session ended).
    PasswordChanged {
        user_id: &'a str,
    },
    /// A new password by a reset code (every session ended).
    PasswordReset {
        user_id: &'a str,
    },
    /// The account's email moved to `email`.
    EmailChanged {
        user_id: &'a str,
        email: &'a str,
    },
    /// A wallet account gained the email `email`.
    WalletEmailAdded {
        user_id: &'a str,
        email: &'a str,
    },
    /// The wallet `address` (EIP-55) now signs in to the account.
    WalletLinked {
        user_id: &'a str,
        address: &'a str,
    },
    WalletUnlinked {
        user_id: &'a str,
        address: &'a str,
    },
    /// A person at a social `provider` now signs in to the account.
    SocialLinked {
        user_id: &'a str,
        provider: &'a str,
    },
    /// A passkey (`passkey_id`, as the credentials list names it) was added.
    PasskeyRegistered {
        user_id: &'a str,
        passkey_id: &'a str,
    },
    /// A passkey was deleted.
    PasskeyRemoved {
        user_id: &'a str,
        passkey_id: &'a str,
    },
    /// Every session but `sid` (the caller's) ended (`sessions/revoke-all/`).
    SessionsEnded {
        user_id: &'a str,
        sid: &'a str,
    },
    AccountDeleted {
        user_id: &'a str,
    },
    MfaEnabled {
        user_id: &'a str,
    },
    MfaDisabled {
        user_id: &'a str,
    },
}

impl Event<'_> {
    /// Every type an event can have, as `kind` names it.
    pub const KINDS: [&'static str; 17] = [
        "signup.confirmed",
        "login",
        "token.reuse_detected",
        "logout",
        "password.changed",
        "password.reset",
        "email.changed",
        "wallet.email_added",
        "wallet.linked",
        "wallet.unlinked",
        "social.linked",
        "passkey.registered",
        "passkey.removed",
        "sessions.ended",
        "account.deleted",
        "mfa.enabled",
        "mfa.disabled",
    ];

    /// Its type: `detail-type` in EventBridge, `type` in the detail.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::SignupConfirmed { .. } => "signup.confirmed",
            Event::Login { .. } => "login",
            Event::TokenReuseDetected { .. } => "token.reuse_detected",
            Event::Logout { .. } => "logout",
            Event::PasswordChanged { .. } => "password.changed",
            Event::PasswordReset { .. } => "password.reset",
            Event::EmailChanged { .. } => "email.changed",
            Event::WalletEmailAdded { .. } => "wallet.email_added",
            Event::WalletLinked { .. } => "wallet.linked",
            Event::WalletUnlinked { .. } => "wallet.unlinked",
            Event::SocialLinked { .. } => "social.linked",
            Event::PasskeyRegistered { .. } => "passkey.registered",
            Event::PasskeyRemoved { .. } => "passkey.removed",
            Event::SessionsEnded { .. } => "sessions.ended",
            Event::AccountDeleted { .. } => "account.deleted",
            Event::MfaEnabled { .. } => "mfa.enabled",
            Event::MfaDisabled { .. } => "mfa.disabled",
        }
    }

    /// The event as its schema says, stamped now.
    pub fn detail(&self) -> Value {
        let (user_id, fields): (&str, Vec<(&str, &str)>) = match *self {
            Event::SignupConfirmed { user_id, method } => (user_id, vec![("method", method)]),
            Event::Login {
                user_id,
                method,
                sid,
            } => (user_id, vec![("method", method), ("sid", sid)]),
            Event::TokenReuseDetected { user_id, sid }
            | Event::Logout { user_id, sid }
            | Event::SessionsEnded { user_id, sid } => (user_id, vec![("sid", sid)]),
            Event::PasswordChanged { user_id }
            | Event::PasswordReset { user_id }
            | Event::AccountDeleted { user_id }
            | Event::MfaEnabled { user_id }
            | Event::MfaDisabled { user_id } => (user_id, vec![]),
            Event::EmailChanged { user_id, email } | Event::WalletEmailAdded { user_id, email } => {
                (user_id, vec![("email", email)])
            }
            Event::WalletLinked { user_id, address }
            | Event::WalletUnlinked { user_id, address } => (user_id, vec![("address", address)]),
            Event::SocialLinked { user_id, provider } => (user_id, vec![("provider", provider)]),
            Event::PasskeyRegistered {
                user_id,
                passkey_id,
            }
            | Event::PasskeyRemoved {
                user_id,
                passkey_id,
            } => (user_id, vec![("passkey_id", passkey_id)]),
        };
        let mut detail = Map::new();
        detail.insert("version".into(), json!(SCHEMA_VERSION));
        detail.insert(
            "id".into(),
            json!(uuid::Uuid::new_v4().hyphenated().to_string()),
        );
        detail.insert("type".into(), json!(self.kind()));
        detail.insert(
            "time".into(),
            json!(crate::clock::rfc3339(crate::clock::now())),
        );
        detail.insert("user_id".into(), json!(user_id));
        for (name, value) in fields {
            detail.insert(name.into(), json!(value));
        }
        Value::Object(detail)
    }
}

/// Where events go.
pub enum Events {
    /// Nowhere (no `EVENT_BUS`).
    None,
    /// An EventBridge bus (`default`, a name or an ARN).
    EventBridge {
        aws: Box<SdkConfig>,
        bus: String,
        source: String,
    },
    /// Locally: appended to a JSON Lines file, one line on the console per event.
    #[cfg(feature = "local")]
    Log(EventLog),
}

impl Events {
    /// The bus `settings` name, reached with `aws`; None without a bus.
    pub fn from_settings(settings: &settings::EventSettings, aws: &SdkConfig) -> Events {
        match &settings.bus {
            Some(bus) => Events::EventBridge {
                aws: Box::new(aws.clone()),
                bus: bus.clone(),
                source: settings.source.clone(),
            },
            None => Events::None,
        }
    }

    /// Publishes `event`; a failure is logged, never returned.
    pub async fn publish(&self, event: Event<'_>) {
        let kind = event.kind();
        let outcome = match self {
            Events::None => Ok(()),
            Events::EventBridge { aws, bus, source } => {
                put_event(aws, bus, source, kind, &event.detail()).await
            }
            #[cfg(feature = "local")]
            Events::Log(log) => log.append(&event.detail()),
        };
        if let Err(why) = outcome {
            tracing::error!(event = kind, error = %why, "lifecycle event not published");
        }
    }
}

/// One PutEvents call with one entry; an entry EventBridge refused is a failure too.
async fn put_event(
    aws: &SdkConfig,
    bus: &str,
    source: &str,
    kind: &str,
    detail: &Value,
) -> Result<(), String> {
    let body = json!({"Entries": [{
        "Source": source,
        "DetailType": kind,
        "Detail": detail.to_string(),
        "EventBusName": bus,
    }]});
    let request = aws::Request {
        path: "/",
        target: Some("AWSEvents.PutEvents"),
        content_type: "application/x-amz-json-1.1",
        body: body.to_string().into_bytes(),
    };
    let response = aws::call(aws, aws::Service::EventBridge, request, PUBLISH_TIMEOUT).await?;
    let answer: Value = serde_json::from_slice(response.body())
        .map_err(|e| format!("EventBridge's answer: {e}"))?;
    match answer["FailedEntryCount"].as_u64() {
        Some(0) => Ok(()),
        _ => Err(format!(
            "EventBridge refused the event: {}",
            answer["Entries"]
        )),
    }
}

/// The local event log: `events.jsonl` beside the outbox.
#[cfg(feature = "local")]
pub struct EventLog {
    pub path: std::path::PathBuf,
    /// Print a console line per event.
    pub announce: bool,
}

#[cfg(feature = "local")]
impl EventLog {
    fn append(&self, detail: &Value) -> Result<(), String> {
        use std::io::Write;
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        // One write per line, so that lines of concurrent requests never interleave.
        file.write_all(format!("{detail}\n").as_bytes())
            .map_err(|e| format!("{}: {e}", self.path.display()))?;
        if self.announce {
            let text = |name: &str| detail[name].as_str().unwrap_or_default().to_owned();
            println!("event  | {} | user {}", text("type"), text("user_id"));
        }
        Ok(())
    }

    /// Every event in the log so far.
    pub fn read(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_follows_the_schema() {
        let events = [
            Event::SignupConfirmed {
                user_id: "u",
                method: "EMAIL",
            },
            Event::Login {
                user_id: "u",
                method: "WALLET",
                sid: "s",
            },
            Event::TokenReuseDetected {
                user_id: "u",
                sid: "s",
            },
            Event::Logout {
                user_id: "u",
                sid: "s",
            },
            Event::PasswordChanged { user_id: "u" },
            Event::PasswordReset { user_id: "u" },
            Event::EmailChanged {
                user_id: "u",
                email: "a@example.com",
            },
            Event::WalletEmailAdded {
                user_id: "u",
                email: "a@example.com",
            },
            Event::WalletLinked {
                user_id: "u",
                address: "0xAb",
            },
            Event::WalletUnlinked {
                user_id: "u",
                address: "0xAb",
            },
            Event::SocialLinked {
                user_id: "u",
                provider: "google",
            },
            Event::PasskeyRegistered {
                user_id: "u",
                passkey_id: "p",
            },
            Event::PasskeyRemoved {
                user_id: "u",
                passkey_id: "p",
            },
            Event::SessionsEnded {
                user_id: "u",
                sid: "s",
            },
            Event::AccountDeleted { user_id: "u" },
            Event::MfaEnabled { user_id: "u" },
            Event::MfaDisabled { user_id: "u" },
        ];
        let kinds: Vec<&str> = events.iter().map(Event::kind).collect();
        assert_eq!(kinds, Event::KINDS);
        for event in events {
            let detail = event.detail();
            assert_eq!(detail["version"], 1);
            assert_eq!(detail["type"], event.kind());
            assert_eq!(detail["user_id"], "u");
            assert_eq!(detail["id"].as_str().unwrap().len(), 36);
            assert!(detail["time"].as_str().unwrap().ends_with('Z'));
        }
    }
}

//! An account's passkeys: items in the user's partition (`PASSKEY#<id>`), each with
//! webauthn-rs's `Passkey` (public key, counter, backup flags) and what the account owner
//! sees (name, when made and last used). A credential id belongs to one account: it is
//! claimed like an identifier (`IDENT#passkey:<credential id>`) when it is registered.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use webauthn_rs::prelude::{AuthenticationResult, Passkey};

use crate::identity::user::{self, AccountKey};
use crate::store::{Expression, Item, Write};
use crate::{AuthError, Context, clock};

const PREFIX: &str = "PASSKEY#";

/// A credential id as an account key: one account per credential.
pub struct CredentialId<'a>(pub &'a [u8]);

impl AccountKey for CredentialId<'_> {
    fn account_key(&self) -> String {
        format!("passkey:{}", URL_SAFE_NO_PAD.encode(self.0))
    }
}

/// One of an account's passkeys.
#[derive(Debug, Clone)]
pub struct Credential {
    /// Ours (a UUID), as the routes name it.
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// How the browser said it reaches the authenticator (a hint, not verified).
    pub transports: Vec<String>,
    pub passkey: Passkey,
}

impl Credential {
    /// A newly registered `passkey` of `user_id`.
    pub fn new(user_id: &str, name: String, transports: Vec<String>, passkey: Passkey) -> Self {
        Credential {
            id: uuid::Uuid::new_v4().to_string(),
            user_id: user_id.to_owned(),
            name,
            created_at: clock::now(),
            last_used_at: None,
            transports,
            passkey,
        }
    }

    /// The counter and backup flags, as webauthn-rs keeps them.
    fn details(&self) -> Value {
        serde_json::to_value(&self.passkey)
            .ok()
            .map(|v| v["cred"].clone())
            .unwrap_or_default()
    }

    fn counter(&self) -> i64 {
        self.details()["counter"].as_i64().unwrap_or(0)
    }

    /// What the account owner sees: never the public key.
    pub fn view(&self) -> Value {
        let details = self.details();
        json!({
            "id": self.id,
            "name": self.name,
            "created_at": clock::rfc3339(self.created_at),
            "last_used_at": self.last_used_at.map(clock::rfc3339),
            "transports": self.transports,
            "backup_eligible": details["backup_eligible"].as_bool().unwrap_or(false),
            "backup_state": details["backup_state"].as_bool().unwrap_or(false),
        })
    }

    fn item(&self) -> Result<Item, AuthError> {
        let passkey = serde_json::to_string(&self.passkey)
            .map_err(|e| AuthError::unavailable("passkey", &e))?;
        let item = Item::new(&user::partition(&self.user_id), &sort_key(&self.id));
        let item = user::owning(item, &CredentialId(self.passkey.cred_id()))
            .with("id", &self.id)
            .with("name", &self.name)
            .with("created_at", self.created_at)
            .with("counter", self.counter())
            .with("transports", self.transports.clone())
            .with("passkey", passkey);
        Ok(match self.last_used_at {
            Some(at) => item.with("last_used_at", at),
            None => item,
        })
    }

    fn from_item(user_id: &str, item: &Item) -> Option<Self> {
        Some(Credential {
            id: item.text("id")?,
            user_id: user_id.to_owned(),
            name: item.text("name")?,
            created_at: item.number("created_at")?,
            last_used_at: item.number("last_used_at"),
            transports: item.texts("transports"),
            passkey: serde_json::from_str(&item.text("passkey")?).ok()?,
        })
    }

    /// The write that stores this new credential (its id must be new to the account).
    pub fn create(&self) -> Result<Write, AuthError> {
        Ok(Write::put_new(self.item()?))
    }

    /// The credential after it signed in with `result`, and the write that records it: its
    /// counter only moves forward, so of two sign-ins with one counter value (a cloned
    /// authenticator) one is refused.
    pub fn used(mut self, result: &AuthenticationResult) -> Result<(Self, Write), AuthError> {
        let before = self.counter();
        self.passkey.update_credential(result);
        self.last_used_at = Some(clock::now());
        let after = self.counter();
        let condition = if after > 0 {
            Expression::new("#counter < :counter")
                .name("#counter", "counter")
                .value(":counter", after)
        } else {
            Expression::new("attribute_exists(pk) AND #counter = :before")
                .name("#counter", "counter")
                .value(":before", before)
        };
        let write = Write::put_if(self.item()?, condition);
        Ok((self, write))
    }

    /// The write that removes this credential, if it is still there.
    pub fn remove(&self) -> Write {
        Write::delete_if(
            &user::partition(&self.user_id),
            &sort_key(&self.id),
            Expression::new("attribute_exists(pk)"),
        )
    }
}

fn sort_key(id: &str) -> String {
    format!("{PREFIX}{id}")
}

/// The account's passkeys, oldest first.
pub async fn of(ctx: &Context, user_id: &str) -> Result<Vec<Credential>, AuthError> {
    let items = ctx
        .store
        .query_prefix(&user::partition(user_id), PREFIX)
        .await?;
    let mut credentials: Vec<Credential> = items
        .iter()
        .filter_map(|item| Credential::from_item(user_id, item))
        .collect();
    credentials.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(credentials)
}

/// Renames the account's credential `id`: false when it has none by that id.
pub async fn rename(ctx: &Context, user_id: &str, id: &str, name: &str) -> Result<bool, AuthError> {
    ctx.store
        .write(Write::update_if(
            &user::partition(user_id),
            &sort_key(id),
            Expression::new("SET #name = :name")
                .name("#name", "name")
                .value(":name", name),
            Expression::new("attribute_exists(pk)"),
        ))
        .await
}

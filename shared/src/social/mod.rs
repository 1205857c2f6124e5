//! Social login: OpenID Connect providers (Google, LinkedIn, Apple, any issuer) and Facebook, as `flow`
//! describes it step by step. The settings are read in every function; the flow, its HTTP
//! client and the ID-token checks are built only into the `social` function.

pub mod settings;

use crate::identity::user::{self, AccountKey};
use crate::store::{Item, Write};

/// A person at a provider: (provider, subject), unique across accounts like an identifier;
/// `provider` is the name in its routes (`google`).
pub struct ProviderIdentity<'a> {
    pub provider: &'a str,
    pub subject: &'a str,
}

impl AccountKey for ProviderIdentity<'_> {
    fn account_key(&self) -> String {
        format!("social:{}:{}", self.provider, self.subject)
    }
}

/// The prefix of a social link's sort key in the account's partition.
pub const LINK_PREFIX: &str = "SOCIAL#";

/// The writes that make `identity` belong to `user_id` from `created_at`: its owner item,
/// and its record.
pub fn link(identity: &ProviderIdentity, user_id: &str, created_at: i64) -> [Write; 2] {
    [
        user::claim(identity, user_id),
        record(identity, user_id, created_at),
    ]
}

/// The link kept in the account's partition, which `me/export/` lists and account deletion
/// frees (it `owns` the owner item).
pub fn record(identity: &ProviderIdentity, user_id: &str, created_at: i64) -> Write {
    let key = format!("{LINK_PREFIX}{}:{}", identity.provider, identity.subject);
    let item = Item::new(&user::partition(user_id), &key)
        .with("provider", identity.provider)
        .with("subject", identity.subject)
        .with("created_at", created_at);
    Write::put(user::owning(item, identity))
}

#[cfg(feature = "social")]
pub mod apple;
#[cfg(feature = "social")]
pub mod flow;
#[cfg(feature = "social")]
pub mod id_token;
#[cfg(feature = "social")]
pub mod outbound;

//! Social login: OpenID Connect providers (Google, LinkedIn, Apple, any issuer) and Facebook, as `flow`
//! describes it step by step. The settings are read in every function; the flow, its HTTP
//! client and the ID-token checks are built only into the `social` function.

pub mod settings;

use crate::identity::user::AccountKey;

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

#[cfg(feature = "social")]
pub mod apple;
#[cfg(feature = "social")]
pub mod flow;
#[cfg(feature = "social")]
pub mod id_token;
#[cfg(feature = "social")]
pub mod outbound;

//! Sign-In with Ethereum's settings section: in every function, since every function reads
//! every setting; its grammar checks only where the `wallet` capability is built in.

use crate::settings::read::{Section, SettingsError, Values, error, list};

/// Sign-In with Ethereum's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletSettings {
    /// `WALLET_DOMAIN`: the RFC 3986 authority of the site that asks for the signature; a
    /// message for any other domain is refused.
    pub domain: String,
    /// `WALLET_URI`: the URI that messages must name (its scheme, when a message has one).
    pub uri: String,
    /// `WALLET_CHAIN_IDS`: the chains a message may name; challenges default to the first.
    pub chain_ids: Vec<u64>,
    /// `WALLET_NONCE_TTL`: seconds a challenge's nonce stays usable.
    pub nonce_ttl: u64,
    /// `WALLET_LOGIN_AUTO_CREATE`: a wallet login of an unknown address creates its account.
    pub login_auto_create: bool,
}

impl WalletSettings {
    /// The chain a challenge names: the one asked for if it is accepted here (a field error
    /// otherwise), else the first of `WALLET_CHAIN_IDS`.
    pub fn chain_id(&self, asked: Option<u64>) -> Result<u64, crate::AuthError> {
        let chain_id = asked.or(self.chain_ids.first().copied()).unwrap_or(1);
        if !self.chain_ids.contains(&chain_id) {
            return Err(crate::AuthError::field(
                "chain_id",
                &format!("Chain ID {chain_id} is not accepted here."),
            ));
        }
        Ok(chain_id)
    }
}

impl Default for WalletSettings {
    fn default() -> Self {
        WalletSettings {
            domain: "localhost:3000".into(),
            uri: "http://localhost:3000".into(),
            chain_ids: vec![1],
            nonce_ttl: 300,
            login_auto_create: true,
        }
    }
}

impl Section for WalletSettings {
    const NAMES: &'static [&'static str] = &[
        "WALLET_DOMAIN",
        "WALLET_URI",
        "WALLET_CHAIN_IDS",
        "WALLET_NONCE_TTL",
        "WALLET_LOGIN_AUTO_CREATE",
    ];

    fn read(&mut self, values: &Values) -> Result<(), SettingsError> {
        values.text("WALLET_DOMAIN", &mut self.domain)?;
        values.text("WALLET_URI", &mut self.uri)?;
        // Checked by EIP-4361's grammar where Sign-In with Ethereum is built in (the only
        // function that reads them).
        #[cfg(feature = "wallet")]
        {
            if !super::siwe::is_authority(&self.domain) {
                return Err(error(
                    "WALLET_DOMAIN",
                    "expected a host with an optional port, e.g. app.example.com",
                ));
            }
            if !super::siwe::is_uri(&self.uri) {
                return Err(error(
                    "WALLET_URI",
                    "expected an absolute URI, e.g. https://app.example.com",
                ));
            }
        }
        if let Some(v) = values.get("WALLET_CHAIN_IDS") {
            self.chain_ids = list(v)
                .map(|id| {
                    id.parse().map_err(|_| {
                        error("WALLET_CHAIN_IDS", &format!("{id:?} is not a chain ID"))
                    })
                })
                .collect::<Result<_, _>>()?;
            if self.chain_ids.is_empty() {
                return Err(error("WALLET_CHAIN_IDS", "name at least one chain ID"));
            }
        }
        values.number("WALLET_NONCE_TTL", &mut self.nonce_ttl, 1)?;
        values.boolean("WALLET_LOGIN_AUTO_CREATE", &mut self.login_auto_create)
    }
}

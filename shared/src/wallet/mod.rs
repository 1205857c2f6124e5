//! Sign-In with Ethereum: its settings, always (every function reads every setting); with the
//! `wallet` capability, Ethereum addresses and signers (`address`), EIP-4361 messages
//! (`siwe`), the challenges' nonces (`challenge`), and wallets linked to accounts (`link`).

#[cfg(feature = "wallet")]
pub mod address;
#[cfg(feature = "wallet")]
pub mod challenge;
#[cfg(feature = "wallet")]
pub mod link;
pub mod settings;
#[cfg(feature = "wallet")]
pub mod siwe;

#[cfg(feature = "wallet")]
pub use address::*;

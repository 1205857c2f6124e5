//! Sign-In with Ethereum: its settings, always (every function reads every setting); with the
//! `wallet` capability, Ethereum addresses and signers (`address`), EIP-4361 messages
//! (`siwe`) and the challenges' nonces (`challenge`).

#[cfg(feature = "wallet")]
pub mod address;
#[cfg(feature = "wallet")]
pub mod challenge;
pub mod settings;
#[cfg(feature = "wallet")]
pub mod siwe;

#[cfg(feature = "wallet")]
pub use address::*;

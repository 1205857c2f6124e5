//! The BlockAuth domain crate.
//!
//! Everything the feature functions share, by capability: identities (identifiers, users,
//! pending signups), one-time codes, sessions (tokens, refresh families), passwords, rate
//! limits, wallets, mail; and the adapters for DynamoDB (`store`), SES and SNS (`mail`) and
//! Secrets Manager (`signing_key`).
//! HTTP framework types stay in `http` (axum) and `lambda` (lambda_http).

// The capabilities, each a folder (ARCHITECTURE.md: which function enables which).
pub mod account;
pub mod codes;
pub mod events;
pub mod identity;
pub mod mail;
pub mod mfa;
pub mod passkey;
pub mod password;
pub mod rate_limit;
pub mod session;
pub mod social;
pub mod wallet;

// The adapters and the edges.
pub mod aws;
pub mod contract;
pub mod http;
pub mod https;
pub mod lambda;
pub mod signing_key;
pub mod store;

// What everything shares.
pub mod clock;
pub mod context;
pub mod encode;
pub mod error;
pub mod purpose;
pub mod sealed;
pub mod settings;

pub use context::Context;
pub use error::AuthError;
pub use settings::{Feature, Settings};

//! The BlockAuth domain crate.
//!
//! Everything the feature functions share: settings, the error type, identifiers, passwords,
//! one-time codes, rate limits, users, pending signups, tokens and refresh families, and the
//! adapters for DynamoDB (`store`), SES (`mailer`) and Secrets Manager (`signing_key`).
//! HTTP framework types stay in `http` (axum) and `lambda` (lambda_http).

pub mod clock;
pub mod context;
pub mod encode;
pub mod error;
pub mod http;
pub mod identifier;
pub mod lambda;
pub mod mailer;
pub mod messages;
pub mod one_time_code;
pub mod password;
#[cfg(feature = "password")]
pub mod pending_signup;
pub mod purpose;
pub mod rate_limit;
pub mod refresh_family;
pub mod settings;
pub mod signing_key;
#[cfg(feature = "wallet")]
pub mod siwe;
pub mod store;
pub mod templates;
pub mod token;
pub mod user;
#[cfg(feature = "wallet")]
pub mod wallet;
#[cfg(feature = "wallet")]
pub mod wallet_challenge;

pub use context::Context;
pub use error::AuthError;
pub use settings::{Feature, Settings};

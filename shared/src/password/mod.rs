//! Passwords: argon2id hashing (m=19456 KiB, t=2, p=1, PHC strings) and the validators;
//! hashes moved in from Django (`django`) verified and then replaced.
//!
//! Hashing is bounded per process: at most one computation per core at once, each in a
//! reusable 19 MiB buffer, so argon2 never holds more than cores × 19 MiB however many
//! requests arrive (`infra/measurements/memory.md`).
//!
//! The validators are Django's four defaults plus BlockAuth's, each selectable by its
//! Django class name in `PASSWORD_VALIDATORS`. `CommonPasswordValidator` uses Django's own
//! list (`shared/data/README.md`: its source, licence and how to refresh it), embedded
//! gzipped and inflated once, on the first password checked.

use std::str::FromStr;

use crate::error::AuthError;

/// A wrong password and an unknown identifier alike.
pub const INVALID_CREDENTIALS: AuthError = AuthError::Unauthorized {
    code: "authentication_failed",
    detail: "Invalid credentials.",
};

// The checks and the hashing link the common-password list and argon2: only functions that
// enable the `password` capability have them; every function reads the policy's settings.
#[cfg(feature = "password")]
mod checks;
#[cfg(feature = "password")]
pub mod django;
#[cfg(feature = "password")]
mod hashing;

#[cfg(feature = "password")]
pub use checks::CommonPasswords;
#[cfg(feature = "password")]
pub use hashing::{HASH_WAIT, hash, hash_like, verify};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    /// Django's `UserAttributeSimilarityValidator`: not too like the identifier.
    UserAttributeSimilarity,
    /// Django's `MinimumLengthValidator`.
    MinimumLength,
    /// Django's `CommonPasswordValidator`.
    CommonPassword,
    /// Django's `NumericPasswordValidator`.
    NumericPassword,
    /// BlockAuth's: 8-128 characters with upper, lower, digit and symbol.
    BlockAuth,
}

impl FromStr for Validator {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "UserAttributeSimilarityValidator" => Validator::UserAttributeSimilarity,
            "MinimumLengthValidator" => Validator::MinimumLength,
            "CommonPasswordValidator" => Validator::CommonPassword,
            "NumericPasswordValidator" => Validator::NumericPassword,
            "BlockAuthPasswordValidator" => Validator::BlockAuth,
            _ => return Err(()),
        })
    }
}

#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    pub validators: Vec<Validator>,
    pub min_length: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            validators: vec![
                Validator::UserAttributeSimilarity,
                Validator::MinimumLength,
                Validator::CommonPassword,
                Validator::NumericPassword,
                Validator::BlockAuth,
            ],
            min_length: 8,
        }
    }
}

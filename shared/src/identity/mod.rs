//! Who an account is: identifiers (email, phone), users and the items that make each
//! identifier unique, and signups waiting for their code.

pub mod identifier;
#[cfg(feature = "password")]
pub mod pending_signup;
pub mod user;

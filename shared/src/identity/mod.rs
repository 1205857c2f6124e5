//! Who an account is: identifiers (email, phone), users and the items that make each
//! identifier unique, signups waiting for their code, and accounts moved in from
//! BlockAuth/Django.

pub mod identifier;
#[cfg(all(feature = "wallet", feature = "local"))]
pub mod moving_in;
#[cfg(feature = "password")]
pub mod pending_signup;
pub mod user;

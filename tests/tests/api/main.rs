//! The API over HTTP, as clients use it, against a fresh local server per test.

mod account;
mod apple;
mod attacks;
mod aws;
mod bad_input;
mod claims;
mod delivery;
mod edge;
mod email_change;
mod events;
mod faults;
mod keys;
mod local_data;
mod login;
mod mfa;
mod moving_in;
mod passkey;
mod password;
mod passwordless;
mod races;
mod signup;
mod social;
mod token;
mod wallet;
mod wallet_email;

//! The API over HTTP, as clients use it, against a fresh local server per test.

mod aws;
mod bad_input;
mod faults;
mod login;
mod races;
mod signup;
mod token;

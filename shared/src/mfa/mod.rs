//! A second factor: TOTP (RFC 6238) with single-use backup codes, required at every sign-in
//! of an account that turned it on (but a passkey's, whose user verification is the second
//! factor), and step-up receipts. Its settings and the TOTP arithmetic are always compiled;
//! the flows (`factor`) only into the `mfa` function, with the QR code's crate.
//!
//! A sign-in by a first factor for such an account gets no session but a pending sign-in
//! (`session::refresh_family::second_factor`), which `totp/verify/` completes.

pub mod settings;
pub mod totp;

#[cfg(feature = "mfa")]
pub mod factor;

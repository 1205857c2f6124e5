//! Sessions: the tokens (JWTs) and the refresh families (login sessions) behind them.

pub mod claims;
pub mod hook;
pub mod keys;
pub mod refresh_family;
pub mod rotation;
pub mod settings;
pub mod token;

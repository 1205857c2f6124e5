//! Social login: OpenID Connect providers (Google, LinkedIn, Apple, any issuer) and Facebook, as `flow`
//! describes it step by step. The settings are read in every function; the flow, its HTTP
//! client and the ID-token checks are built only into the `social` function.

pub mod settings;

#[cfg(feature = "social")]
pub mod apple;
#[cfg(feature = "social")]
pub mod flow;
#[cfg(feature = "social")]
pub mod id_token;
#[cfg(feature = "social")]
pub mod outbound;

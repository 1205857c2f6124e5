//! What every request handler needs, built once per container (or per local server).

use std::sync::Arc;

use crate::mail::Mailer;
use crate::session::token::Tokens;
use crate::settings::Settings;
use crate::signing_key::SigningKey;
use crate::store::Store;

pub struct Context {
    pub settings: Settings,
    pub store: Store,
    pub mailer: Mailer,
    pub tokens: Tokens,
    /// Keys the hashes of one-time codes; derived from the signing key.
    pub code_key: Vec<u8>,
}

impl Context {
    pub fn new(settings: Settings, store: Store, mailer: Mailer, key: &SigningKey) -> Arc<Self> {
        Arc::new(Context {
            tokens: Tokens::new(key, &settings),
            code_key: key.derive("blockauth one-time codes"),
            settings,
            store,
            mailer,
        })
    }
}

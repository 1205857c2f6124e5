//! What every request handler needs, built once per container (or per local server).

use std::sync::Arc;

use crate::events::Events;
use crate::mail::Mailer;
use crate::session::hook::ClaimsHook;
use crate::session::token::Tokens;
use crate::settings::Settings;
use crate::signing_key::SigningKey;
use crate::store::Store;

pub struct Context {
    pub settings: Settings,
    pub store: Store,
    pub mailer: Mailer,
    pub tokens: Tokens,
    /// Keys the hashes of one-time codes; derived from the signing key, whatever signs
    /// the tokens (so a change of `ALGORITHM` never changes how stored codes are checked).
    pub code_key: Vec<u8>,
    /// Where custom claims come from at each sign-in.
    pub claims_hook: ClaimsHook,
    /// Where lifecycle events go.
    pub events: Events,
    /// Seals TOTP secrets at rest (`TOTP_KEY_SECRET`'s key, never the signing key); only
    /// the `mfa` function has it.
    pub factor_key: Option<Vec<u8>>,
}

impl Context {
    /// The keyed hash (HMAC-SHA256 with `code_key`, as hex) under which a secret or a
    /// private value is kept or found, so that the table never holds it: codes, nonces,
    /// social states and codes, networks.
    pub fn keyed_hash(&self, message: &str) -> String {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &self.code_key);
        crate::encode::hex(aws_lc_rs::hmac::sign(&key, message.as_bytes()).as_ref())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        settings: Settings,
        store: Store,
        mailer: Mailer,
        key: &SigningKey,
        tokens: Tokens,
        claims_hook: ClaimsHook,
        events: Events,
        factor_key: Option<&SigningKey>,
    ) -> Arc<Self> {
        Arc::new(Context {
            claims_hook,
            events,
            factor_key: factor_key.map(|key| key.derive("blockauth totp secrets")),
            tokens,
            code_key: key.derive("blockauth one-time codes"),
            settings,
            store,
            mailer,
        })
    }
}

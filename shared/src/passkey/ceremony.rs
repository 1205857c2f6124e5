//! The relying party and the ceremonies between options and verification: each ceremony's
//! state (webauthn-rs's, serialised) is a single-use TTL item found by its challenge, which
//! the browser signs into the credential's `clientDataJSON`. So the client sends the
//! credential and nothing else, and a challenge serves one verification.

use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, PasskeyAuthentication, PasskeyRegistration, Url, Webauthn,
    WebauthnBuilder,
};

use crate::encode::hex;
use crate::store::{Expression, Item, Write};
use crate::{AuthError, Context, clock};

/// A credential whose ceremony is unknown, used, expired, or someone else's.
pub const CEREMONY_INVALID: AuthError = AuthError::BadRequest {
    code: "passkey_ceremony_invalid",
    detail: "This passkey request is not valid or has expired. Start again.",
};

/// A credential that is not a browser's `PublicKeyCredential.toJSON()`.
pub const CREDENTIAL_MALFORMED: AuthError = AuthError::BadRequest {
    code: "passkey_credential_malformed",
    detail: "The credential is not a WebAuthn credential as the browser gives it.",
};

/// The relying party of these settings.
pub fn relying_party(ctx: &Context) -> Result<Webauthn, AuthError> {
    let settings = &ctx.settings.passkey;
    let misconfigured =
        |e: &dyn std::fmt::Display| AuthError::unavailable("passkey relying party", e);
    let mut origins = settings.allowed_origins.iter().map(|o| Url::parse(o));
    let first = origins
        .next()
        .ok_or(AuthError::Unavailable)?
        .map_err(|e| misconfigured(&e))?;
    let mut builder = WebauthnBuilder::new(&settings.rp_id, &first)
        .map_err(|e| misconfigured(&e))?
        .rp_name(&settings.rp_name);
    for origin in origins {
        builder = builder.append_allowed_origin(&origin.map_err(|e| misconfigured(&e))?);
    }
    builder.build().map_err(|e| misconfigured(&e))
}

/// A ceremony in progress, as it waits in the table.
#[derive(Serialize, Deserialize)]
pub enum State {
    /// Registering a passkey for the account `user_id`.
    Register {
        user_id: String,
        state: PasskeyRegistration,
    },
    /// Signing in with one of an email's passkeys: `user_id` is None where the email has
    /// none (the options looked the same, and nothing can finish this ceremony).
    Authenticate {
        user_id: Option<String>,
        state: PasskeyAuthentication,
    },
    /// Signing in with whichever passkey the browser offers (usernameless, autofill).
    Discoverable { state: DiscoverableAuthentication },
}

const SORT_KEY: &str = "PASSKEY_CEREMONY";

fn partition(ctx: &Context, challenge: &[u8]) -> String {
    format!(
        "{SORT_KEY}#{}",
        ctx.keyed_hash(&format!("{SORT_KEY}\n{}", hex(challenge)))
    )
}

/// Keeps `state` for the ceremony whose options carry `challenge`.
pub async fn keep(ctx: &Context, challenge: &[u8], state: &State) -> Result<(), AuthError> {
    let text =
        serde_json::to_string(state).map_err(|e| AuthError::unavailable("passkey state", &e))?;
    let ttl = i64::try_from(ctx.settings.passkey.challenge_ttl).unwrap_or(i64::MAX);
    let item = Item::new(&partition(ctx, challenge), SORT_KEY)
        .with("state", text)
        .expiring_at(clock::now().saturating_add(ttl));
    ctx.store.put(item).await
}

/// The state of the ceremony `client_data_json` answers, used up: of two verifications of
/// one challenge, one gets it.
pub async fn take(ctx: &Context, client_data_json: &[u8]) -> Result<State, AuthError> {
    let challenge = challenge_of(client_data_json).ok_or(CREDENTIAL_MALFORMED)?;
    let pk = partition(ctx, &challenge);
    let item = ctx
        .store
        .get(&pk, SORT_KEY)
        .await?
        .ok_or(CEREMONY_INVALID)?;
    let consumed = ctx
        .store
        .write(Write::delete_if(
            &pk,
            SORT_KEY,
            Expression::new("attribute_exists(pk)"),
        ))
        .await?;
    if !consumed {
        return Err(CEREMONY_INVALID);
    }
    item.text("state")
        .and_then(|text| serde_json::from_str(&text).ok())
        .ok_or_else(|| AuthError::unavailable("passkey state", &"unreadable"))
}

/// The challenge the browser signed: `clientDataJSON`'s `challenge`, base64url.
fn challenge_of(client_data_json: &[u8]) -> Option<Vec<u8>> {
    #[derive(Deserialize)]
    struct ClientData {
        challenge: String,
    }
    let data: ClientData = serde_json::from_slice(client_data_json).ok()?;
    URL_SAFE_NO_PAD
        .decode(&data.challenge)
        .or_else(|_| URL_SAFE.decode(&data.challenge))
        .ok()
        .filter(|challenge| !challenge.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_is_read_from_the_client_data() {
        let data =
            br#"{"type":"webauthn.get","challenge":"AQID","origin":"http://localhost:3000"}"#;
        assert_eq!(challenge_of(data), Some(vec![1, 2, 3]));
        for bad in [
            &b"{}"[..],
            b"not json",
            br#"{"challenge":""}"#,
            br#"{"challenge":"***"}"#,
        ] {
            assert_eq!(challenge_of(bad), None);
        }
    }
}

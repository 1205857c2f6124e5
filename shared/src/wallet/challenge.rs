//! Sign-In with Ethereum challenges: `login/wallet/challenge/` issues an EIP-4361 message
//! with a fresh nonce; `login/wallet/` checks a signed message against the settings and
//! redeems its nonce, once.
//!
//! The same challenge, bound to a signed-in account, links a wallet to it (`wallet/link/`):
//! a nonce issued for one purpose never serves the other.
//!
//! Item: `pk = WALLET_NONCE#<keyed hash of the nonce>`, `sk = WALLET_NONCE`, with the
//! `address` (lowercase) and `chain_id` it was issued for, and the `user_id` of the account
//! it links to (none for a sign-in), living `WALLET_NONCE_TTL` seconds. The nonce is consumed by a conditional delete inside the sign-in transaction,
//! so of parallel logins with one nonce exactly one succeeds.

use aws_lc_rs::rand;
use time::OffsetDateTime;

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::settings::Settings;
use crate::store::{Expression, Item, Write};
use crate::wallet::Address;
use crate::wallet::siwe::SiweMessage;

const SORT_KEY: &str = "WALLET_NONCE";

/// Clocks differ: a message issued this many seconds "in the future" is still accepted.
const CLOCK_SKEW: i64 = 60;

pub const NONCE_INVALID: AuthError = AuthError::Unauthorized {
    code: "nonce_invalid",
    detail: "The nonce is unknown, used or expired. Ask for a new challenge.",
};

pub const MESSAGE_EXPIRED: AuthError = AuthError::Unauthorized {
    code: "message_expired",
    detail: "The signed message has expired. Ask for a new challenge.",
};

pub const MESSAGE_NOT_YET_VALID: AuthError = AuthError::Unauthorized {
    code: "message_not_yet_valid",
    detail: "The signed message is not valid yet.",
};

pub const SIGNATURE_INVALID: AuthError = AuthError::Unauthorized {
    code: "signature_invalid",
    detail: "The signature was not made by the message's address.",
};

fn partition(ctx: &Context, nonce: &str) -> String {
    format!(
        "WALLET_NONCE#{}",
        ctx.keyed_hash(&format!("wallet_nonce\n{nonce}"))
    )
}

/// 16 letters and digits from a CSPRNG (about 95 bits).
fn generate_nonce() -> Result<String, AuthError> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut nonce = String::with_capacity(16);
    while nonce.len() < 16 {
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes).map_err(|_| AuthError::unavailable("random", &"rand::fill"))?;
        // Only bytes below 248 = 4 * 62, so that every character is equally likely.
        for b in bytes.into_iter().filter(|b| *b < 248) {
            if nonce.len() < 16 {
                nonce.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
    }
    Ok(nonce)
}

/// What a challenge is for: signing in, or linking the wallet to this account (its id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose<'a> {
    SignIn,
    Link(&'a str),
}

impl Purpose<'_> {
    fn user_id(self) -> Option<String> {
        match self {
            Purpose::SignIn => None,
            Purpose::Link(user_id) => Some(user_id.to_owned()),
        }
    }
}

/// Issues a challenge for `address` on `chain_id`, for `purpose`: stores its nonce and
/// returns the message to sign.
pub async fn issue(
    ctx: &Context,
    address: &Address,
    chain_id: u64,
    purpose: Purpose<'_>,
) -> Result<SiweMessage, AuthError> {
    let settings = &ctx.settings;
    let nonce = generate_nonce()?;
    let now = clock::now();
    let expires_at = now + settings.wallet.nonce_ttl as i64;
    let at = |seconds| {
        OffsetDateTime::from_unix_timestamp(seconds)
            .map_err(|e| AuthError::unavailable("clock", &e))
    };
    let message = SiweMessage {
        scheme: None,
        domain: settings.wallet.domain.clone(),
        address: *address,
        statement: Some(statement(&settings.product_name, purpose)),
        uri: settings.wallet.uri.clone(),
        chain_id,
        nonce: nonce.clone(),
        issued_at: at(now)?,
        expiration_time: Some(at(expires_at)?),
        not_before: None,
        request_id: None,
        resources: Vec::new(),
    };
    let mut item = Item::new(&partition(ctx, &nonce), SORT_KEY)
        .with("address", address.lowercase())
        .with("chain_id", chain_id)
        .expiring_at(expires_at);
    if let Some(user_id) = purpose.user_id() {
        item = item.with("user_id", user_id);
    }
    ctx.store.put(item).await?;
    Ok(message)
}

/// What a challenge answers: the message to sign, its nonce and times.
pub fn answer(message: &SiweMessage) -> serde_json::Value {
    serde_json::json!({
        "message": message.to_string(),
        "nonce": message.nonce,
        "issued_at": crate::wallet::siwe::rfc3339(message.issued_at),
        "expires_at": message.expiration_time.map(crate::wallet::siwe::rfc3339),
    })
}

/// "Sign in to <product>." (or "Link this wallet to your <product> account."), keeping
/// only the characters EIP-4361 allows in a statement.
fn statement(product: &str, purpose: Purpose) -> String {
    let product: String = product
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .filter(|c| !"\"%<>\\^`{|}".contains(*c))
        .collect();
    let product = product.trim();
    match purpose {
        Purpose::SignIn => format!("Sign in to {product}."),
        Purpose::Link(_) => format!("Link this wallet to your {product} account."),
    }
}

/// A signed message as sent: its grammar checked and its EIP-191 signer recovered (field
/// errors for either).
pub fn read(text: &str, signature: &str) -> Result<(SiweMessage, Address), AuthError> {
    let message =
        SiweMessage::parse(text).map_err(|e| AuthError::field("message", &e.to_string()))?;
    let signer = crate::wallet::recover_signer(text.as_bytes(), signature.trim())
        .map_err(|e| AuthError::field("signature", e.message()))?;
    Ok((message, signer))
}

/// The checks of a message read by `read`, for `purpose`: what it says against the settings
/// and the time, its signer, and its nonce, whose single use is the returned write (put it
/// in the transaction that acts on the message).
pub async fn accept(
    ctx: &Context,
    message: &SiweMessage,
    signer: Address,
    purpose: Purpose<'_>,
) -> Result<Write, AuthError> {
    check(&ctx.settings, message, clock::now())?;
    if signer != message.address {
        return Err(SIGNATURE_INVALID);
    }
    redeem(ctx, message, purpose).await
}

/// Checks what a signed message says against this API's settings and the time `now`.
pub fn check(settings: &Settings, message: &SiweMessage, now: i64) -> Result<(), AuthError> {
    if message.domain != settings.wallet.domain {
        return Err(AuthError::field(
            "message",
            &format!(
                "The message is for the domain {:?}; this API signs in for {:?}.",
                message.domain, settings.wallet.domain
            ),
        ));
    }
    let expected_scheme = settings.wallet.uri.split(':').next();
    if message.scheme.is_some() && message.scheme.as_deref() != expected_scheme {
        return Err(AuthError::field(
            "message",
            "The message's scheme does not match this API's.",
        ));
    }
    if message.uri != settings.wallet.uri {
        return Err(AuthError::field(
            "message",
            &format!("The message's URI must be {:?}.", settings.wallet.uri),
        ));
    }
    if !settings.wallet.chain_ids.contains(&message.chain_id) {
        return Err(AuthError::field(
            "message",
            &format!("Chain ID {} is not accepted here.", message.chain_id),
        ));
    }
    if message
        .expiration_time
        .is_some_and(|at| at.unix_timestamp() <= now)
    {
        return Err(MESSAGE_EXPIRED);
    }
    let not_yet = message
        .not_before
        .is_some_and(|at| at.unix_timestamp() > now)
        || message.issued_at.unix_timestamp() > now + CLOCK_SKEW;
    if not_yet {
        return Err(MESSAGE_NOT_YET_VALID);
    }
    Ok(())
}

/// The write that uses up the message's nonce, if this API issued it for the message's
/// address and chain and for `purpose`, and it is unexpired and unused.
async fn redeem(
    ctx: &Context,
    message: &SiweMessage,
    purpose: Purpose<'_>,
) -> Result<Write, AuthError> {
    let pk = partition(ctx, &message.nonce);
    let item = ctx.store.get(&pk, SORT_KEY).await?.ok_or(NONCE_INVALID)?;
    let issued_for = item.text("address") == Some(message.address.lowercase())
        && item.number("chain_id") == Some(message.chain_id as i64)
        && item.text("user_id") == purpose.user_id();
    if !issued_for {
        return Err(NONCE_INVALID);
    }
    let unused =
        Expression::new("attribute_exists(pk) AND expires_at > :now").value(":now", clock::now());
    Ok(Write::delete_if(&pk, SORT_KEY, unused))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_fit_the_grammar_and_vary() {
        let nonces: std::collections::HashSet<String> =
            (0..100).map(|_| generate_nonce().unwrap()).collect();
        assert_eq!(nonces.len(), 100);
        assert!(
            nonces
                .iter()
                .all(|n| n.len() == 16 && n.bytes().all(|b| b.is_ascii_alphanumeric()))
        );
    }

    #[test]
    fn statements_keep_to_the_grammar() {
        assert_eq!(
            statement("BlockAuth", Purpose::SignIn),
            "Sign in to BlockAuth."
        );
        assert_eq!(
            statement("Café \"Ünïcode\" <App>", Purpose::SignIn),
            "Sign in to Caf ncode App."
        );
        assert_eq!(
            statement("BlockAuth", Purpose::Link("u")),
            "Link this wallet to your BlockAuth account."
        );
    }

    fn message(settings: &Settings, now: i64) -> SiweMessage {
        let at = |s| OffsetDateTime::from_unix_timestamp(s).unwrap();
        SiweMessage {
            scheme: None,
            domain: settings.wallet.domain.clone(),
            address: Address::parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed").unwrap(),
            statement: None,
            uri: settings.wallet.uri.clone(),
            chain_id: 1,
            nonce: "abcdefgh".into(),
            issued_at: at(now),
            expiration_time: Some(at(now + 300)),
            not_before: None,
            request_id: None,
            resources: Vec::new(),
        }
    }

    #[test]
    fn messages_for_elsewhere_or_elsewhen_are_refused() {
        let settings = Settings::default();
        let now = 1_800_000_000;
        let good = message(&settings, now);
        assert_eq!(check(&settings, &good, now), Ok(()));
        let with = |change: &dyn Fn(&mut SiweMessage)| {
            let mut m = good.clone();
            change(&mut m);
            check(&settings, &m, now)
        };
        let field = |r: Result<(), AuthError>| matches!(r, Err(AuthError::Invalid(_)));
        assert!(field(with(&|m| m.domain = "evil.example".into())));
        assert!(field(with(&|m| m.uri = "https://evil.example".into())));
        assert!(field(with(&|m| m.scheme = Some("https".into()))));
        assert_eq!(with(&|m| m.scheme = Some("http".into())), Ok(()));
        assert!(field(with(&|m| m.chain_id = 137)));
        assert_eq!(check(&settings, &good, now + 300), Err(MESSAGE_EXPIRED));
        assert_eq!(
            with(&|m| m.not_before = Some(OffsetDateTime::from_unix_timestamp(now + 10).unwrap())),
            Err(MESSAGE_NOT_YET_VALID)
        );
        assert_eq!(
            with(&|m| m.issued_at = OffsetDateTime::from_unix_timestamp(now + 120).unwrap()),
            Err(MESSAGE_NOT_YET_VALID)
        );
    }
}

//! One-time codes: digits from a CSPRNG, stored only as a keyed hash, single use, dead after
//! `OTP_MAX_ATTEMPTS` wrong tries, valid `OTP_VALIDITY` seconds. A new code for the same
//! (identifier, purpose) replaces the old one.
//!
//! Item: `pk = CODE#<purpose>#<identifier key>`, `sk = CODE`, with `hash`, `attempts` and
//! `expires_at`. A correct code is consumed inside the caller's transaction, by a delete
//! conditioned on the same hash, so that of many parallel confirms exactly one succeeds.

use std::collections::HashMap;

use aws_lc_rs::{constant_time, hmac, rand};
use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::identifier::Identifier;
use crate::store::{self, Item, n, s};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Signup,
    Login,
    PasswordReset,
    EmailChange,
    WalletEmail,
}

impl Purpose {
    pub fn name(self) -> &'static str {
        match self {
            Purpose::Signup => "signup",
            Purpose::Login => "login",
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailChange => "email_change",
            Purpose::WalletEmail => "wallet_email",
        }
    }
}

const SORT_KEY: &str = "CODE";

fn partition(purpose: Purpose, identifier: &Identifier) -> String {
    format!("CODE#{}#{}", purpose.name(), identifier.key())
}

/// A new code of `length` digits, uniform over its range.
pub fn generate(length: u32) -> Result<String, AuthError> {
    let range = 10u64.pow(length);
    // Reject the top slice of u64 that would bias the remainder.
    let limit = u64::MAX - u64::MAX % range;
    loop {
        let mut bytes = [0u8; 8];
        rand::fill(&mut bytes).map_err(|_| AuthError::unavailable("random", &"rand::fill"))?;
        let value = u64::from_le_bytes(bytes);
        if value < limit {
            return Ok(format!(
                "{:0width$}",
                value % range,
                width = length as usize
            ));
        }
    }
}

fn digest(ctx: &Context, purpose: Purpose, identifier: &Identifier, code: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, &ctx.code_key);
    let message = format!("{}\n{}\n{}", purpose.name(), identifier.key(), code);
    hex(hmac::sign(&key, message.as_bytes()).as_ref())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Issues a new code for (`purpose`, `identifier`), replacing any earlier one, and returns it
/// so that it can be sent.
pub async fn issue(
    ctx: &Context,
    purpose: Purpose,
    identifier: &Identifier,
) -> Result<String, AuthError> {
    let code = generate(ctx.settings.otp_length)?;
    ctx.store
        .put(code_item(ctx, purpose, identifier, &code))
        .await?;
    Ok(code)
}

/// Like [`issue`], for a code that acts on the account `user_id` (e.g. moving it to a new
/// email): whoever redeems the code learns which account from the code itself.
pub async fn issue_for_user(
    ctx: &Context,
    purpose: Purpose,
    identifier: &Identifier,
    user_id: &str,
) -> Result<String, AuthError> {
    let code = generate(ctx.settings.otp_length)?;
    let mut item = code_item(ctx, purpose, identifier, &code);
    item.insert("user_id".into(), s(user_id));
    ctx.store.put(item).await?;
    Ok(code)
}

/// A correct code, not yet used.
pub struct CodeMatch {
    /// The write that uses the code up: put it in the transaction that acts on the code.
    pub consume: TransactWriteItem,
    /// The account the code was issued for, if it was bound to one.
    pub user_id: Option<String>,
}

/// The item of a fresh code (for callers that write it in a transaction of their own).
pub fn code_item(ctx: &Context, purpose: Purpose, identifier: &Identifier, code: &str) -> Item {
    let mut item = store::key(&partition(purpose, identifier), SORT_KEY);
    item.insert("hash".into(), s(digest(ctx, purpose, identifier, code)));
    item.insert("attempts".into(), n(0));
    item.insert(
        store::table::TTL_ATTRIBUTE.into(),
        n(clock::now() + ctx.settings.otp_validity as i64),
    );
    item
}

/// Checks `code`; a wrong one counts as an attempt. When it is right, returns the write that
/// consumes it, for the caller to put in the transaction that acts on it: the code is then
/// used exactly when that transaction succeeds, and of parallel confirms only one can.
pub async fn check(
    ctx: &Context,
    purpose: Purpose,
    identifier: &Identifier,
    code: &str,
) -> Result<CodeMatch, AuthError> {
    let length = ctx.settings.otp_length as usize;
    if code.len() != length || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::INVALID_CODE);
    }
    let pk = partition(purpose, identifier);
    let item = ctx
        .store
        .get(&pk, SORT_KEY)
        .await?
        .ok_or(AuthError::INVALID_CODE)?;
    let stored = store::text(&item, "hash").unwrap_or_default();
    let attempts = store::number(&item, "attempts").unwrap_or(i64::MAX);
    if attempts >= i64::from(ctx.settings.otp_max_attempts) {
        return Err(AuthError::INVALID_CODE);
    }
    let presented = digest(ctx, purpose, identifier, code);
    let values = HashMap::from([
        (":hash".to_owned(), s(stored.clone())),
        (":max".to_owned(), n(ctx.settings.otp_max_attempts)),
        (":now".to_owned(), n(clock::now())),
    ]);
    let condition = "#hash = :hash AND attempts < :max AND expires_at > :now";
    if constant_time::verify_slices_are_equal(stored.as_bytes(), presented.as_bytes()).is_err() {
        // Count the wrong try against this very code (not a newer one that replaced it).
        let counted = ctx
            .store
            .client()
            .update_item()
            .table_name(ctx.store.table())
            .set_key(Some(store::key(&pk, SORT_KEY)))
            .update_expression("ADD attempts :one")
            .condition_expression(condition)
            .expression_attribute_names("#hash", "hash")
            .set_expression_attribute_values(Some(values))
            .expression_attribute_values(":one", n(1))
            .send()
            .await;
        return match counted {
            Ok(_) => Err(AuthError::INVALID_CODE),
            Err(e) if store::is_condition_failed(&e) => Err(AuthError::INVALID_CODE),
            Err(e) => Err(store::unavailable(&e)),
        };
    }
    let delete = aws_sdk_dynamodb::types::Delete::builder()
        .table_name(ctx.store.table())
        .set_key(Some(store::key(&pk, SORT_KEY)))
        .condition_expression(condition)
        .expression_attribute_names("#hash", "hash")
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(|e| AuthError::unavailable("dynamodb request", &e))?;
    Ok(CodeMatch {
        consume: TransactWriteItem::builder().delete(delete).build(),
        user_id: store::text(&item, "user_id"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_asked_length_and_vary() {
        let codes: Vec<String> = (0..50).map(|_| generate(6).unwrap()).collect();
        assert!(
            codes
                .iter()
                .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        );
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert!(distinct.len() > 40);
        assert_eq!(generate(10).unwrap().len(), 10);
    }
}

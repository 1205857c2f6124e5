//! One-time codes: digits from a CSPRNG, stored only as a keyed hash, single use, dead after
//! `OTP_MAX_ATTEMPTS` wrong tries, valid `OTP_VALIDITY` seconds. A new code for the same
//! (identifier, purpose) replaces the old one.
//!
//! Item: `pk = CODE#<purpose>#<identifier key>`, `sk = CODE` (or `CODE#<user id>` for a
//! code bound to one account, see [`CodeFor`]), with `hash`, `attempts` and `expires_at`.
//! A correct code is consumed inside the caller's transaction, by a delete conditioned on
//! the same hash, so that of many parallel confirms exactly one succeeds.

use aws_lc_rs::{constant_time, rand};

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::identity::identifier::Identifier;
use crate::store::{Expression, Item, Write};

/// A wrong, used, dead or expired code: one answer for all, so that it tells nothing.
pub const INVALID_CODE: AuthError = AuthError::BadRequest {
    code: "otp_invalid",
    detail: "The code is invalid or has expired.",
};

pub mod settings;

pub use crate::purpose::Purpose;

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

/// Whom a code is for. Most codes belong to an identifier alone; a code that acts on one
/// account (moving it to a new email) belongs to that account too, so that a request by
/// another account never replaces it, and it can be checked only as that account's.
#[derive(Debug, Clone, Copy)]
pub struct CodeFor<'a> {
    pub purpose: Purpose,
    pub identifier: &'a Identifier,
    /// The account the code acts on, if it is bound to one.
    pub account: Option<&'a str>,
}

impl<'a> CodeFor<'a> {
    pub fn new(purpose: Purpose, identifier: &'a Identifier) -> Self {
        CodeFor {
            purpose,
            identifier,
            account: None,
        }
    }

    pub fn account(purpose: Purpose, identifier: &'a Identifier, user_id: &'a str) -> Self {
        CodeFor {
            purpose,
            identifier,
            account: Some(user_id),
        }
    }

    fn partition(&self) -> String {
        partition(self.purpose, self.identifier)
    }

    fn sort_key(&self) -> String {
        match self.account {
            Some(user_id) => format!("{SORT_KEY}#{user_id}"),
            None => SORT_KEY.to_owned(),
        }
    }

    fn digest(&self, ctx: &Context, code: &str) -> String {
        let mut message = format!(
            "{}\n{}\n{}",
            self.purpose.name(),
            self.identifier.key(),
            code
        );
        if let Some(user_id) = self.account {
            message = format!("{message}\n{user_id}");
        }
        ctx.keyed_hash(&message)
    }

    /// The item of a fresh `code` (for callers that write it in a transaction of their own).
    pub fn item(&self, ctx: &Context, code: &str) -> Item {
        let item = Item::new(&self.partition(), &self.sort_key())
            .with("hash", self.digest(ctx, code))
            .with("attempts", 0_i64)
            .expiring_at(clock::now() + ctx.settings.codes.validity as i64);
        match self.account {
            Some(user_id) => item.with("user_id", user_id),
            None => item,
        }
    }

    /// Issues a new code, replacing this one's earlier code, and returns it so that it can
    /// be sent. Routes that answer everyone alike issue one even when nobody will get it,
    /// so that known and unknown identifiers cost the same write.
    pub async fn issue(&self, ctx: &Context) -> Result<String, AuthError> {
        let code = generate(ctx.settings.codes.length)?;
        ctx.store.put(self.item(ctx, &code)).await?;
        Ok(code)
    }

    /// Checks `code`; a wrong one counts as an attempt. When it is right, returns the write
    /// that consumes it, for the caller to put in the transaction that acts on it: the code
    /// is then used exactly when that transaction succeeds, and of parallel confirms only
    /// one can.
    pub async fn check(&self, ctx: &Context, code: &str) -> Result<CodeMatch, AuthError> {
        if !well_formed(ctx, code) {
            return Err(INVALID_CODE);
        }
        let item = ctx
            .store
            .get(&self.partition(), &self.sort_key())
            .await?
            .ok_or(INVALID_CODE)?;
        match self.matches(ctx, &item, code) {
            Some(stored) => Ok(self.consume(ctx, &stored)),
            None => {
                self.count_attempt(ctx, &item).await?;
                Err(INVALID_CODE)
            }
        }
    }

    /// The stored hash when `code` is this item's live code.
    fn matches(&self, ctx: &Context, item: &Item, code: &str) -> Option<String> {
        let stored = item.text("hash")?;
        let attempts = item.number("attempts").unwrap_or(i64::MAX);
        if attempts >= i64::from(ctx.settings.codes.max_attempts) {
            return None;
        }
        let presented = self.digest(ctx, code);
        constant_time::verify_slices_are_equal(stored.as_bytes(), presented.as_bytes())
            .is_ok()
            .then_some(stored)
    }

    /// The code item read with `stored` is still that live code.
    fn live(ctx: &Context, stored: &str) -> Expression {
        Expression::new("#hash = :hash AND attempts < :max AND expires_at > :now")
            .name("#hash", "hash")
            .value(":hash", stored)
            .value(":max", ctx.settings.codes.max_attempts)
            .value(":now", clock::now())
    }

    /// Counts a wrong try against the code that was read (not a newer one that replaced it).
    async fn count_attempt(&self, ctx: &Context, item: &Item) -> Result<(), AuthError> {
        let Some(stored) = item.text("hash") else {
            return Ok(());
        };
        let add = Expression::new("ADD attempts :one").value(":one", 1_i64);
        let write = Write::update_if(
            &self.partition(),
            &self.sort_key(),
            add,
            Self::live(ctx, &stored),
        );
        // Not counted: the code changed or died meanwhile, and this try is wrong anyway.
        ctx.store.write(write).await.map(drop)
    }

    fn consume(&self, ctx: &Context, stored: &str) -> CodeMatch {
        CodeMatch {
            consume: Write::delete_if(&self.partition(), &self.sort_key(), Self::live(ctx, stored)),
            user_id: self.account.map(str::to_owned),
        }
    }
}

fn well_formed(ctx: &Context, code: &str) -> bool {
    code.len() == ctx.settings.codes.length as usize && code.bytes().all(|b| b.is_ascii_digit())
}

/// Checks `code` against every account's code of (`purpose`, `identifier`), for a confirm
/// that comes without a token: the code itself says which account it moves. A wrong code
/// counts as an attempt against each of them.
pub async fn check_any_account(
    ctx: &Context,
    purpose: Purpose,
    identifier: &Identifier,
    code: &str,
) -> Result<CodeMatch, AuthError> {
    if !well_formed(ctx, code) {
        return Err(INVALID_CODE);
    }
    let items = ctx
        .store
        .query_prefix(&partition(purpose, identifier), &format!("{SORT_KEY}#"))
        .await?;
    let candidates: Vec<(String, &Item)> = items
        .iter()
        .filter_map(|item| Some((item.text("user_id")?, item)))
        .collect();
    for (user_id, item) in &candidates {
        let code_for = CodeFor::account(purpose, identifier, user_id);
        if let Some(stored) = code_for.matches(ctx, item, code) {
            return Ok(code_for.consume(ctx, &stored));
        }
    }
    for (user_id, item) in &candidates {
        CodeFor::account(purpose, identifier, user_id)
            .count_attempt(ctx, item)
            .await?;
    }
    Err(INVALID_CODE)
}

/// A correct code, not yet used.
pub struct CodeMatch {
    /// The write that uses the code up: the `Step::Code` of the transaction that acts on
    /// the code.
    pub consume: Write,
    /// The account the code was issued for, if it was bound to one.
    pub user_id: Option<String>,
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

//! A signup waiting for its code: the identifier and the argon2id hash of the chosen password.
//! No user exists until the code is confirmed.
//!
//! Item: `pk = SIGNUP#<identifier key>`, `sk = SIGNUP`, with `password_hash` and `expires_at`.

use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::identifier::Identifier;
use crate::store::{self, n, s};

/// A pending signup lives a day; its codes live `OTP_VALIDITY` and can be resent meanwhile.
const LIFETIME: i64 = 24 * 3600;
const SORT_KEY: &str = "SIGNUP";

fn partition(identifier: &Identifier) -> String {
    format!("SIGNUP#{}", identifier.key())
}

/// The write that records (or replaces) the pending signup.
pub fn save(ctx: &Context, identifier: &Identifier, password_hash: &str) -> TransactWriteItem {
    let mut item = store::key(&partition(identifier), SORT_KEY);
    item.insert("password_hash".into(), s(password_hash));
    item.insert(
        store::table::TTL_ATTRIBUTE.into(),
        n(clock::now() + LIFETIME),
    );
    ctx.store.put_any(item)
}

/// The password hash of the pending signup for `identifier`, if there is one.
pub async fn find(ctx: &Context, identifier: &Identifier) -> Result<Option<String>, AuthError> {
    Ok(ctx
        .store
        .get(&partition(identifier), SORT_KEY)
        .await?
        .and_then(|item| store::text(&item, "password_hash")))
}

/// The write that removes the pending signup once the account exists.
pub fn remove(ctx: &Context, identifier: &Identifier) -> TransactWriteItem {
    ctx.store
        .delete_if(&partition(identifier), SORT_KEY, None, Default::default())
}

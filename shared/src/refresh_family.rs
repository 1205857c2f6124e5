//! Refresh families: every token of one login shares a family (`sid`). Rotation records each
//! used refresh token; a used token presented again is theft, and the whole family is revoked.
//!
//! Items: the family `pk = USER#<user id>`, `sk = FAMILY#<sid>`, living until its newest
//! refresh token expires (revoking is deleting it); a used token `pk = USED#<jti>`,
//! `sk = USED`, living until that token's `exp`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::store::{self, TransactError, n};
use crate::token::{Claims, TokenPair};
use crate::user::{self, User};

const FAMILY_PREFIX: &str = "FAMILY#";

/// What a successful sign-in answers: `{"access", "refresh", "user"}`.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub tokens: TokenPair,
    pub user: User,
}

impl SignIn {
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "access": self.tokens.access,
            "refresh": self.tokens.refresh,
            "user": self.user.view(),
        })
    }
}

fn family_item(user_id: &str, sid: &str, expires_at: i64) -> store::Item {
    let mut item = store::key(&user::partition(user_id), &format!("{FAMILY_PREFIX}{sid}"));
    item.insert(store::table::TTL_ATTRIBUTE.into(), n(expires_at));
    item
}

/// Starts a new login session for `user`: issues tokens and writes the family together with
/// `writes` (the caller's, first) in one transaction. For an existing user, `last_login` is
/// updated in the same transaction (and the user must still exist); a new user's item must
/// already carry it. On a failed condition the caller learns which of its writes failed.
pub async fn sign_in(
    ctx: &Context,
    mut user: User,
    mut writes: Vec<TransactWriteItem>,
    user_is_new: bool,
) -> Result<SignIn, TransactError> {
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let tokens = ctx
        .tokens
        .issue(&user.id, &sid)
        .map_err(|_| TransactError::Unavailable)?;
    let now = clock::now();
    writes.push(
        ctx.store
            .put_any(family_item(&user.id, &sid, tokens.refresh_claims.exp)),
    );
    if !user_is_new {
        writes.push(ctx.store.update_if(
            &user::partition(&user.id),
            user::SORT_KEY,
            "SET last_login = :now",
            Some("attribute_exists(pk)"),
            HashMap::from([(":now".to_owned(), n(now))]),
        ));
        user.last_login = Some(now);
    }
    ctx.store.transact(writes).await?;
    Ok(SignIn { tokens, user })
}

/// Checks that the family of a verified refresh token is still alive.
pub async fn verify_alive(ctx: &Context, claims: &Claims) -> Result<(), AuthError> {
    let family = ctx
        .store
        .get(
            &user::partition(&claims.user_id),
            &format!("{FAMILY_PREFIX}{}", claims.sid),
        )
        .await?;
    match family {
        Some(_) => Ok(()),
        None => Err(AuthError::INVALID_TOKEN),
    }
}

/// Exchanges a verified refresh token for a new pair in the same family, retiring the old
/// token. A token already used revokes its family and answers 401.
pub async fn rotate(ctx: &Context, claims: &Claims) -> Result<SignIn, AuthError> {
    let user = user::get(ctx, &claims.user_id)
        .await?
        .ok_or(AuthError::INVALID_TOKEN)?;
    let tokens = ctx.tokens.issue(&claims.user_id, &claims.sid)?;
    let mut used = store::key(&format!("USED#{}", claims.jti), "USED");
    used.insert(store::table::TTL_ATTRIBUTE.into(), n(claims.exp));
    let family_sk = format!("{FAMILY_PREFIX}{}", claims.sid);
    let writes = vec![
        ctx.store.put_new(used),
        ctx.store.update_if(
            &user::partition(&claims.user_id),
            &family_sk,
            "SET expires_at = :exp",
            Some("attribute_exists(pk) AND expires_at > :now"),
            HashMap::from([
                (":exp".to_owned(), n(tokens.refresh_claims.exp)),
                (":now".to_owned(), n(clock::now())),
            ]),
        ),
    ];
    match ctx.store.transact(writes).await {
        Ok(()) => Ok(SignIn { tokens, user }),
        Err(TransactError::Condition(failed)) => {
            if failed.first() == Some(&true) {
                tracing::warn!(user_id = %claims.user_id, "refresh token reused: family revoked");
                revoke(ctx, &claims.user_id, &claims.sid).await?;
            }
            Err(AuthError::INVALID_TOKEN)
        }
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

/// Revokes one family (logout).
pub async fn revoke(ctx: &Context, user_id: &str, sid: &str) -> Result<(), AuthError> {
    ctx.store
        .delete(&user::partition(user_id), &format!("{FAMILY_PREFIX}{sid}"))
        .await
}

/// Revokes every family of the user, except `keep` (the caller's own, when it has one).
pub async fn revoke_all(ctx: &Context, user_id: &str, keep: Option<&str>) -> Result<(), AuthError> {
    let pk = user::partition(user_id);
    for item in ctx.store.query_prefix(&pk, FAMILY_PREFIX).await? {
        let Some(sk) = store::text(&item, store::table::SORT_KEY) else {
            continue;
        };
        if keep.is_some_and(|sid| sk == format!("{FAMILY_PREFIX}{sid}")) {
            continue;
        }
        ctx.store.delete(&pk, &sk).await?;
    }
    Ok(())
}

//! Refresh families: every token of one login shares a family (`sid`). Rotation records each
//! used refresh token; a used token presented again is theft, and the whole family is revoked.
//!
//! Items: the family `pk = USER#<user id>`, `sk = FAMILY#<sid>`, with the user's session
//! `epoch` at login, living until its newest refresh token expires (revoking one is deleting
//! it; raising the user's `session_epoch` ends them all at once); a used token
//! `pk = USED#<jti>`, `sk = USED`, living until that token's `exp`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::TransactWriteItem;

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::store::{self, TransactError, n};
use crate::token::{Claims, TokenPair};
use crate::user::{self, User, UserChange};

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

/// How a sign-in treats the user's item.
pub enum Account {
    /// The caller's writes create the user; its item already carries `last_login`.
    New,
    /// An existing user: `last_login` is set along with these changes, in the same
    /// transaction, and only if the user still exists with the sessions it was read with.
    Existing(UserChange),
}

fn family_sort_key(sid: &str) -> String {
    format!("{FAMILY_PREFIX}{sid}")
}

/// Starts a new login session for `user`, signing in from the client `network`: issues
/// tokens and writes the family (and the network, now familiar to the account) together
/// with `writes` (the caller's, first, so their indexes in a failed condition are the
/// caller's) in one transaction.
pub async fn sign_in(
    ctx: &Context,
    mut user: User,
    mut writes: Vec<TransactWriteItem>,
    account: Account,
    network: &str,
) -> Result<SignIn, TransactError> {
    if let Account::Existing(mut change) = account {
        change.set.push(("last_login", n(clock::now())));
        writes.push(change.apply(ctx, &mut user));
    }
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let tokens = ctx
        .tokens
        .issue(&user.id, &sid)
        .map_err(|_| TransactError::Unavailable)?;
    let mut family = store::key(&user::partition(&user.id), &family_sort_key(&sid));
    family.insert("epoch".into(), n(user.session_epoch));
    family.insert(
        store::table::TTL_ATTRIBUTE.into(),
        n(tokens.refresh_claims.exp),
    );
    writes.push(ctx.store.put_any(family));
    writes.push(user::remember_network(ctx, &user.id, network));
    ctx.store.transact(writes).await?;
    Ok(SignIn { tokens, user })
}

/// The user of the session of verified `claims`, if that session is alive: not logged out,
/// not ended by a password change or reset. The user and its family are read in one call.
pub async fn session_user(ctx: &Context, claims: &Claims) -> Result<User, AuthError> {
    let pk = user::partition(&claims.user_id);
    let family_key = family_sort_key(&claims.sid);
    let items = ctx
        .store
        .get_many(&[(&pk, user::SORT_KEY), (&pk, &family_key)])
        .await?;
    let (Some(Some(user)), Some(Some(family))) = (items.first(), items.get(1)) else {
        return Err(AuthError::INVALID_TOKEN);
    };
    let user = User::from_item(user).ok_or(AuthError::INVALID_TOKEN)?;
    if store::number(family, "epoch") != Some(user.session_epoch) {
        return Err(AuthError::INVALID_TOKEN);
    }
    Ok(user)
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
    let epoch = || HashMap::from([(":epoch".to_owned(), n(user.session_epoch))]);
    let mut family_values = epoch();
    family_values.insert(":exp".to_owned(), n(tokens.refresh_claims.exp));
    family_values.insert(":now".to_owned(), n(clock::now()));
    let writes = vec![
        // [0] the token is used once.
        ctx.store.put_new(used),
        // [1] its family is alive and of the current epoch.
        ctx.store.update_if(
            &user::partition(&user.id),
            &family_sort_key(&claims.sid),
            "SET expires_at = :exp",
            Some("attribute_exists(pk) AND expires_at > :now AND epoch = :epoch"),
            HashMap::new(),
            family_values,
        ),
        // [2] and the user's sessions have not ended since we read it.
        ctx.store.check_if(
            &user::partition(&user.id),
            user::SORT_KEY,
            "session_epoch = :epoch",
            epoch(),
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
        .delete(&user::partition(user_id), &family_sort_key(sid))
        .await
}

//! Account self-service beyond sessions (`session::refresh_family::{list, end_others}`):
//! an export of what is stored about the caller, and deleting the account.
//!
//! Deleting is one transaction that removes the user and frees everything it owned (its
//! identifiers, wallet, passkeys' credential ids, social identities: `user::owning` marks
//! each in the account's partition), on the condition that the account did not change
//! since it was read; then what is left in the partition (sessions, familiar networks,
//! both expiring on their own) is swept. After the transaction no token of the account
//! works (its user item is gone) and its identifiers can sign up again as a new account.

use serde_json::{Value, json};

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::events::Event;
use crate::identity::identifier::Identifier;
use crate::identity::user::{self, User};
use crate::mail::messages;
use crate::session::refresh_family;
use crate::session::token::Claims;
use crate::store::{Expression, Item, Step, TransactError, Transaction, Write, table};

/// How recent the caller's sign-in must be to delete the account.
pub const FRESH_FOR: i64 = 300;

pub const SIGN_IN_AGAIN: AuthError = AuthError::Forbidden {
    code: "reauthentication_required",
    detail: "Deleting the account needs a fresh sign-in: sign in again, then delete within 5 minutes.",
};

/// DynamoDB's limit on the items of one transaction.
const TRANSACTION_LIMIT: usize = 100;

/// Everything stored about `user` (no secret, no hash): the user, its sessions, passkeys
/// and social links, and how many networks it is known to sign in from (kept only as keyed
/// hashes, which say nothing readable).
pub async fn export(ctx: &Context, user: &User, current_sid: &str) -> Result<Value, AuthError> {
    let items = ctx
        .store
        .query_partition(&user::partition(&user.id))
        .await?;
    let sessions = refresh_family::sessions_among(&items, user, current_sid);
    let kind = |item: &Item, prefix: &str| {
        item.text(table::SORT_KEY)
            .is_some_and(|sk| sk.starts_with(prefix))
    };
    let time = |item: &Item, name: &str| item.number(name).map(clock::rfc3339);
    let passkeys: Vec<Value> = items
        .iter()
        .filter(|item| kind(item, "PASSKEY#"))
        .map(|item| {
            json!({
                "id": item.text("id"),
                "name": item.text("name"),
                "created_at": time(item, "created_at"),
                "last_used_at": time(item, "last_used_at"),
                "transports": item.texts("transports"),
            })
        })
        .collect();
    let social_links: Vec<Value> = items
        .iter()
        .filter(|item| kind(item, crate::social::LINK_PREFIX))
        .map(|item| {
            json!({
                "provider": item.text("provider"),
                "subject": item.text("subject"),
                "created_at": time(item, "created_at"),
            })
        })
        .collect();
    let networks = items
        .iter()
        .filter(|item| kind(item, user::NETWORK_PREFIX))
        .count();
    Ok(json!({
        "user": user.view(),
        "sessions": sessions,
        "passkeys": passkeys,
        "social_links": social_links,
        "familiar_networks": networks,
        "exported_at": clock::rfc3339(clock::now()),
    }))
}

/// Deletes `user`'s account, asked with the access token of `claims` (issued in the last
/// `FRESH_FOR` seconds), mails a notice to its email or phone, and publishes the event.
pub async fn delete(ctx: &Context, user: User, claims: &Claims) -> Result<(), AuthError> {
    if claims.iat < clock::now() - FRESH_FOR {
        return Err(SIGN_IN_AGAIN);
    }
    let pk = user::partition(&user.id);
    let items = ctx.store.query_partition(&pk).await?;
    let unchanged = match user.version {
        0 => Expression::new("attribute_not_exists(#version)"),
        version => Expression::new("#version = :version").value(":version", version),
    };
    let unchanged = unchanged
        .appended(" AND session_epoch = :epoch")
        .name("#version", "version")
        .value(":epoch", user.session_epoch);
    let mut commit = Transaction::new().step(
        Step::UserChange,
        Write::delete_if(&pk, user::SORT_KEY, unchanged),
    );
    let identifiers = [
        user.email.as_deref().map(Identifier::email),
        user.phone.as_deref().map(Identifier::phone),
    ];
    for identifier in identifiers.into_iter().flatten() {
        let identifier =
            identifier.map_err(|_| AuthError::unavailable("account", &"identifier"))?;
        commit.push(Step::Release, user::release(&identifier, &user.id));
    }
    if let Some(address) = &user.wallet_address {
        commit.push(Step::Release, user::release_wallet(address, &user.id));
    }
    let mut sweep = Vec::new();
    for item in &items {
        let (Some(item_pk), Some(sk)) =
            (item.text(table::PARTITION_KEY), item.text(table::SORT_KEY))
        else {
            continue;
        };
        if sk == user::SORT_KEY {
            continue;
        }
        match user::release_owned(item, &user.id) {
            // What makes the account own something goes with it, in the transaction.
            Some(release) => {
                commit.push(Step::Release, release);
                commit.push(Step::Owned, Write::delete(&item_pk, &sk));
            }
            None => sweep.push((item_pk, sk)),
        }
    }
    if commit.len() > TRANSACTION_LIMIT {
        return Err(AuthError::unavailable(
            "account deletion",
            &"more owned items than one transaction takes",
        ));
    }
    match ctx.store.transact(commit).await {
        Ok(()) => {}
        Err(TransactError::Refused(_)) => return Err(user::CHANGED_MEANWHILE),
        Err(TransactError::Unavailable) => return Err(AuthError::Unavailable),
    }
    // The account is gone; what is left are sessions and networks nobody can use, which
    // expire anyway: a failure here is logged, not answered.
    if let Err(error) = ctx.store.delete_all(&sweep).await {
        tracing::warn!(user_id = %user.id, ?error, "deleted account: sweep left items to expire");
    }
    let user_id = user.id.as_str();
    ctx.events.publish(Event::AccountDeleted { user_id }).await;
    if let Some(to) = user.contact() {
        // The deletion stands whatever the mail does.
        if let Err(error) = ctx
            .mailer
            .send(&to, &messages::account_deleted(&ctx.settings))
            .await
        {
            tracing::warn!(user_id, ?error, "deleted account: notice not sent");
        }
    }
    Ok(())
}

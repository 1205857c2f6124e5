//! A signup waiting for its code: the identifier and the argon2id hashes of the passwords it
//! was started with. No user exists until the code is confirmed.
//!
//! A pending signup is never taken over. Its first `signup/` fixes its salt and its life
//! (`LIFETIME`, which later signups and resends never extend). A later `signup/` with the
//! same password is a resend; one with another password is added beside the first, hashed
//! with the same salt, so that equal hashes mean equal passwords and one argon2 run compares
//! a password with all of them. A signup that saw one password confirms with the code
//! alone; one that saw several confirms only with the code and one of them, and the account
//! gets exactly that one. Only the code's holder confirms, so an account never ends up with
//! a password somebody else chose: a stranger who signs up with your address first or in
//! between makes you send your password at confirm, and cannot own the account.
//!
//! Item: `pk = SIGNUP#<identifier key>`, `sk = SIGNUP`, with `passwords` (PHC strings that
//! share one salt), `salt` (their salt, for the write's condition) and `expires_at`.

use aws_lc_rs::constant_time;

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::identity::identifier::Identifier;
use crate::password;
use crate::store::{Expression, Item, Write};

/// How long a pending signup can be confirmed, from its first `signup/`.
pub const LIFETIME: i64 = 3600;
/// Distinct passwords one pending signup keeps; a signup beyond them is sent a code but its
/// password is not added (it can confirm once the pending signup's life is over).
pub const MAX_PASSWORDS: usize = 10;
const SORT_KEY: &str = "SIGNUP";

fn partition(identifier: &Identifier) -> String {
    format!("SIGNUP#{}", identifier.key())
}

/// The pending signup of an identifier, as read (empty when there is none).
#[derive(Debug, Clone, Default)]
pub struct PendingSignup {
    passwords: Vec<String>,
    salt: Option<String>,
}

impl PendingSignup {
    /// The pending signup for `identifier`, if it lives.
    pub async fn find(ctx: &Context, identifier: &Identifier) -> Result<Option<Self>, AuthError> {
        let item = ctx.store.get(&partition(identifier), SORT_KEY).await?;
        Ok(item.map(|item| PendingSignup {
            passwords: item.texts("passwords"),
            salt: item.text("salt"),
        }))
    }

    /// Hashes `password` as this signup's next password (with its salt, or a fresh one for
    /// a new signup): one argon2 run whatever the state.
    pub async fn hash(&self, password: String) -> Result<String, AuthError> {
        password::hash_like(password, self.passwords.first().cloned()).await
    }

    /// The write that records `hash` (made by [`Self::hash`]): a new pending signup, the
    /// password added to this one, or, when it is already there or there is no room, a check
    /// that this one still lives. It fails if the pending signup changed meanwhile in a way
    /// that matters (created, or expired and replaced, by a parallel signup).
    pub fn record(&self, identifier: &Identifier, hash: &str) -> Write {
        let pk = partition(identifier);
        let now = clock::now();
        let Some(salt) = &self.salt else {
            let item = Item::new(&pk, SORT_KEY)
                .with("passwords", vec![hash.to_owned()])
                .with("salt", salt_of(hash))
                .expiring_at(now + LIFETIME);
            let free = Expression::new("attribute_not_exists(pk) OR expires_at <= :now")
                .value(":now", now);
            return Write::put_if(item, free);
        };
        let lives = Expression::new("expires_at > :now AND salt = :salt")
            .value(":now", now)
            .value(":salt", salt);
        if self.passwords.iter().any(|p| p == hash) || self.passwords.len() >= MAX_PASSWORDS {
            return Write::check(&pk, SORT_KEY, lives);
        }
        let add = Expression::new("SET passwords = list_append(passwords, :new)")
            .value(":new", vec![hash.to_owned()]);
        Write::update_if(&pk, SORT_KEY, add, lives)
    }

    /// The password hash the account gets at confirm: the one matching `password` when the
    /// client sends it, else the only one there is. A field error on `password` otherwise.
    pub async fn chosen(&self, password: Option<String>) -> Result<String, AuthError> {
        let Some(password) = password else {
            return match self.passwords.as_slice() {
                [only] => Ok(only.clone()),
                _ => Err(AuthError::field(
                    "password",
                    "This signup was started more than once: confirm it with the password you chose.",
                )),
            };
        };
        let presented = self.hash(password).await?;
        self.passwords
            .iter()
            .find(|p| {
                constant_time::verify_slices_are_equal(p.as_bytes(), presented.as_bytes()).is_ok()
            })
            .cloned()
            .ok_or_else(|| {
                AuthError::field(
                    "password",
                    "This is not the password this signup was started with.",
                )
            })
    }
}

/// The salt part of a PHC string (`$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>`).
fn salt_of(phc: &str) -> &str {
    phc.rsplit('$').nth(1).unwrap_or_default()
}

/// The write that removes the pending signup once the account exists.
pub fn remove(identifier: &Identifier) -> Write {
    Write::delete(&partition(identifier), SORT_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_salt_is_the_phc_string_s_fourth_field() {
        assert_eq!(
            salt_of("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"),
            "c2FsdHNhbHQ"
        );
    }
}

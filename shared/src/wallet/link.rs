//! A wallet on any account (`wallet/link/`, `wallet/unlink/`): a signed-in user attaches
//! the address of a wallet it proved it holds (a challenge bound to the account), and
//! detaches it while the account keeps another way in. An address belongs to one account
//! only (its owner item), and an account has one wallet.

use crate::context::Context;
use crate::error::AuthError;
use crate::events::Event;
use crate::identity::user::{
    self, CHANGED_MEANWHILE, SignInMethod, User, UserChange, UserField, WalletChange,
};
use crate::store::{Step, TransactError, Transaction, Write};
use crate::wallet::Address;
use crate::wallet::challenge::NONCE_INVALID;

pub const WALLET_EXISTS: AuthError = AuthError::Conflict {
    code: "wallet_exists",
    detail: "This account has a wallet already. Unlink it first.",
};

pub const WALLET_TAKEN: AuthError = AuthError::Conflict {
    code: "wallet_taken",
    detail: "This wallet belongs to another account.",
};

pub const LAST_WAY_IN: AuthError = AuthError::Conflict {
    code: "last_way_in",
    detail: "This wallet is the account's only way to sign in: add a password, an email or a \
             passkey first.",
};

pub const NOT_LINKED: AuthError = AuthError::NotFound;

/// Attaches `address` to `user`, the nonce's single use (`consume`) in the same
/// transaction; returns the user as it is now.
pub async fn link(
    ctx: &Context,
    mut user: User,
    address: Address,
    consume: Write,
) -> Result<User, AuthError> {
    if user.wallet_address.is_some() {
        return Err(WALLET_EXISTS);
    }
    let change = UserChange {
        set: vec![UserField::Method(SignInMethod::Wallet)],
        wallet: WalletChange::Linked(address.checksummed()),
        ..UserChange::default()
    };
    let steps = Transaction::new()
        .step(Step::Nonce, consume)
        .step(Step::Claim, user::claim(&address, &user.id))
        .step(Step::UserChange, change.apply(&mut user));
    match ctx.store.transact(steps).await {
        Ok(()) => {}
        Err(TransactError::Refused(refused)) if refused.by(Step::Nonce) => {
            return Err(NONCE_INVALID);
        }
        Err(TransactError::Refused(refused)) if refused.by(Step::Claim) => {
            return Err(WALLET_TAKEN);
        }
        Err(TransactError::Refused(_)) => return Err(CHANGED_MEANWHILE),
        Err(TransactError::Unavailable) => return Err(AuthError::Unavailable),
    }
    let address = address.checksummed();
    ctx.events
        .publish(Event::WalletLinked {
            user_id: &user.id,
            address: &address,
        })
        .await;
    Ok(user)
}

/// Detaches `address` from `user`: 404 when it is not the account's wallet, 409
/// `last_way_in` when the account would have no way in left (held by the write's condition,
/// so a passkey removed meanwhile cannot leave the account locked).
pub async fn unlink(ctx: &Context, mut user: User, address: Address) -> Result<User, AuthError> {
    let linked = user
        .wallet_address
        .as_deref()
        .and_then(|linked| Address::parse(linked).ok());
    if linked != Some(address) {
        return Err(NOT_LINKED);
    }
    let way_in = user.has_way_in_besides_passkeys_and_wallet();
    let address = address.checksummed();
    let change = UserChange {
        set: vec![UserField::WithoutMethod(SignInMethod::Wallet)],
        wallet: WalletChange::Unlinked(address.clone()),
        ..UserChange::default()
    };
    let steps = Transaction::new()
        .step(Step::UserChange, change.apply(&mut user))
        .step(Step::Release, user::release_wallet(&address, &user.id));
    match ctx.store.transact(steps).await {
        Ok(()) => {}
        // Only passkeys could have been its other way in, and the condition counted them.
        Err(TransactError::Refused(_)) if !way_in => return Err(LAST_WAY_IN),
        Err(TransactError::Refused(_)) => return Err(CHANGED_MEANWHILE),
        Err(TransactError::Unavailable) => return Err(AuthError::Unavailable),
    }
    ctx.events
        .publish(Event::WalletUnlinked {
            user_id: &user.id,
            address: &address,
        })
        .await;
    Ok(user)
}

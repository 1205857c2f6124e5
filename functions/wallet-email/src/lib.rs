//! Adding an email to a wallet account (`WALLET_EMAIL_ADD`, protected):
//! `wallet/email/add/` sends a `wallet_email` code to the address, bound to the caller's
//! account, which stays unchanged; `wallet/email/add/confirm/` attaches the verified
//! address in the transaction that signs the caller in afresh. The address is claimed by a
//! conditional write, and the account must still have no email, so neither two accounts
//! nor two parallel confirms can share or overwrite one.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::http::{self, Caller, ClientIp, Form, Routes};
use blockauth::one_time_code::{self, Purpose};
use blockauth::refresh_family::Account;
use blockauth::store::{TransactError, s};
use blockauth::user::{self, UserChange};
use blockauth::{AuthError, Context, messages, rate_limit, refresh_family};

pub fn routes() -> Routes {
    Routes::default()
        .post("wallet/email/add", request)
        .post("wallet/email/add/confirm", confirm)
}

const HAS_EMAIL: AuthError = AuthError::Conflict {
    code: "email_exists",
    detail: "This account already has an email address. Change it with email/change/.",
};

const NOT_A_WALLET_ACCOUNT: AuthError = AuthError::Forbidden {
    code: "not_a_wallet_account",
    detail: "Only an account that signs in with a wallet can add an email here.",
};

async fn request(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Some(email) = form.email("email") else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, "wallet_email", &user.id, &ip).await?;
    if user.wallet_address.is_none() {
        return Err(NOT_A_WALLET_ACCOUNT);
    }
    if user.email.is_some() {
        return Err(HAS_EMAIL);
    }
    if user::exists(&ctx, &email).await? {
        return Err(AuthError::EMAIL_TAKEN);
    }
    rate_limit::spend_send_budget(&ctx, &email).await?;
    let code = one_time_code::issue_for_user(&ctx, Purpose::WalletEmail, &email, &user.id).await?;
    let message = messages::code(&ctx.settings, Purpose::WalletEmail, &code);
    ctx.mailer.send(&email, &message).await?;
    Ok(http::message(
        "A confirmation code has been sent to the email address.",
    ))
}

async fn confirm(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let email = form.email("email");
    let code = form.text(&["otp", "code"]);
    let (Some(email), Some(code)) = (email, code) else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, "wallet_email_confirm", &user.id, &ip).await?;
    let matched = one_time_code::check(&ctx, Purpose::WalletEmail, &email, &code).await?;
    // A code sent for another account does not work here.
    if matched.user_id.as_deref() != Some(user.id.as_str()) {
        return Err(AuthError::INVALID_CODE);
    }
    // [0] the code, [1] the address claimed, then the user (which must still have no email).
    let writes = vec![matched.consume, user::claim(&ctx, &email, &user.id)];
    let change = UserChange {
        set: vec![("email", s(email.value()))],
        require_absent: Some("email"),
        ..UserChange::default()
    };
    match refresh_family::sign_in(&ctx, user, writes, Account::Existing(change)).await {
        Ok(signed_in) => Ok(http::ok(signed_in.body())),
        Err(TransactError::Condition(failed)) if failed.first() == Some(&true) => {
            Err(AuthError::INVALID_CODE)
        }
        Err(TransactError::Condition(failed)) if failed.get(1) == Some(&true) => {
            Err(AuthError::EMAIL_TAKEN)
        }
        Err(TransactError::Condition(_)) => Err(HAS_EMAIL),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

//! Adding an email to a wallet account (`WALLET_EMAIL_ADD`, protected):
//! `wallet/email/add/` sends a `wallet_email` code to the address, bound to the caller's
//! account and naming it (an address that has an account gets the same answer, and its
//! owner a notice instead); the account stays unchanged until `wallet/email/add/confirm/`
//! attaches the verified address in the transaction that signs the caller in afresh. The address is claimed by a
//! conditional write, and the account must still have no email, so neither two accounts
//! nor two parallel confirms can share or overwrite one.

use blockauth::codes::INVALID_CODE;
use blockauth::events::Event;
use blockauth::identity::user::EMAIL_TAKEN;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::Feature;
use blockauth::codes::{CodeFor, Purpose};
use blockauth::contract::{Access, Answer, Body, Operation, Refusal, fields};
use blockauth::http::{self, Caller, ClientIp, Form, Routes};
use blockauth::identity::user::{self, UserChange, UserField};
use blockauth::rate_limit::Subject;
use blockauth::session::refresh_family::{Account, Claimed, Device};
use blockauth::store::{Step, TransactError, Transaction};
use blockauth::{AuthError, Context, mail::messages, rate_limit, session::refresh_family};

pub fn routes() -> Routes {
    Routes::new(Feature::WalletEmailAdd)
        .post(&REQUEST, request)
        .post(&CONFIRM, confirm)
}

const REQUEST: Operation = Operation {
    path: "wallet/email/add",
    summary: "Send a code to an address, to add it to the caller's wallet account",
    description: "An address that has an account gets the same answer, and its owner a notice \
                  instead of a code. 409 `email_exists` for an account that has an email; 403 for \
                  an account that does not sign in with a wallet.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&fields::EMAIL],
        optional: &[],
    }),
    query: None,
    answer: Answer::Sent,
    refusals: &[Refusal::Forbidden, Refusal::Conflict],
};

const CONFIRM: Operation = Operation {
    path: "wallet/email/add/confirm",
    summary: "Attach the verified address to the caller's account",
    description: "Signs the caller in afresh.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&fields::EMAIL, &fields::OTP],
        optional: &[],
    }),
    query: None,
    answer: Answer::Session,
    refusals: &[Refusal::Rejected, Refusal::Forbidden, Refusal::Conflict],
};

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
    let Some(email) = form.email(&fields::EMAIL) else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, Subject::WalletEmail, &user.id, &ip).await?;
    if user.wallet_address.is_none() {
        return Err(NOT_A_WALLET_ACCOUNT);
    }
    if user.email.is_some() {
        return Err(HAS_EMAIL);
    }
    rate_limit::spend_send_budget(&ctx, &email, &ip).await?;
    // Bound to the caller's account, and issued (never sent) for a taken address too, so
    // that both answers cost the same and tell nothing.
    let code = CodeFor::account(Purpose::WalletEmail, &email, &user.id)
        .issue(&ctx)
        .await?;
    let message = if user::exists(&ctx, &email).await? {
        messages::address_taken(&ctx.settings, Purpose::WalletEmail)
    } else {
        messages::code_for_account(&ctx.settings, Purpose::WalletEmail, &code, user.known_as())
    };
    ctx.mailer.send(&email, &message).await?;
    Ok(http::message(
        "If the address can be used, a confirmation code has been sent to it.",
    ))
}

async fn confirm(
    State(ctx): State<Arc<Context>>,
    device: Device,
    Caller { user, claims }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let ip = device.network.as_str();
    let email = form.email(&fields::EMAIL);
    let code = form.text(&fields::OTP);
    let (Some(email), Some(code)) = (email, code) else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, Subject::WalletEmailConfirm, &user.id, ip).await?;
    // Only a code sent for the caller's own account works here.
    let matched = CodeFor::account(Purpose::WalletEmail, &email, &user.id)
        .check(&ctx, &code)
        .await?;
    let steps = Transaction::new()
        .step(Step::Code, matched.consume)
        .step(Step::Claim, user::claim(&email, &user.id));
    // The user must still have no email.
    let change = UserChange {
        set: vec![UserField::Email(email.value().to_owned())],
        require_no_email: true,
        ..UserChange::default()
    };
    // The caller's session goes on in a new one, with its email and its claims.
    let claimed = Claimed::Continuing(claims.custom);
    match refresh_family::sign_in(
        &ctx,
        user,
        steps,
        Account::Existing(change),
        claimed,
        &device,
    )
    .await
    {
        Ok(signed_in) => {
            let (user_id, email) = (signed_in.user().id.as_str(), email.value());
            ctx.events
                .publish(Event::WalletEmailAdded { user_id, email })
                .await;
            Ok(http::ok(signed_in.body()))
        }
        Err(TransactError::Refused(refused)) if refused.by(Step::Code) => Err(INVALID_CODE),
        Err(TransactError::Refused(refused)) if refused.by(Step::Claim) => Err(EMAIL_TAKEN),
        Err(TransactError::Refused(_)) => Err(HAS_EMAIL),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

//! Email change (`EMAIL_CHANGE`): `email/change/` (protected) sends an `email_change` code
//! to the new address, bound to the caller's account and naming it (an address that has an
//! account gets the same answer, and its owner a notice instead); `email/change/confirm/`
//! moves the account whose code it is (with a token, only the caller's) to the new address
//! in one transaction (the new address claimed, the old one released, the user updated), so
//! two accounts can never share an email, and tells the old address.

use blockauth::codes::INVALID_CODE;
use blockauth::events::Event;
use blockauth::identity::user::CHANGED_MEANWHILE;
use blockauth::identity::user::EMAIL_TAKEN;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::Feature;
use blockauth::codes::{self, CodeFor, Purpose};
use blockauth::contract::{Access, Answer, Body, Field, Kind, Operation, Refusal, fields};
use blockauth::http::{self, Caller, ClientIp, Form, Routes};
use blockauth::identity::identifier::Identifier;
use blockauth::identity::user::{self, UserChange, UserField};
use blockauth::rate_limit::Subject;
use blockauth::store::{Step, TransactError, Transaction};
use blockauth::{AuthError, Context, mail::messages, rate_limit};

pub fn routes() -> Routes {
    Routes::new(Feature::EmailChange)
        .post(&REQUEST, request)
        .post(&CONFIRM, confirm)
}

const NEW_EMAIL: Field = Field {
    name: "new_email",
    aliases: &[],
    kind: Kind::Email,
    description: "The address to move the account to.",
};

const REQUEST: Operation = Operation {
    path: "email/change",
    summary: "Send a code to a new address, bound to the caller's account",
    description: "An address that has an account gets the same answer, and its owner a notice \
                  instead of a code.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&NEW_EMAIL],
        optional: &[],
    }),
    query: None,
    answer: Answer::Sent,
    refusals: &[Refusal::Rejected],
};

const CONFIRM: Operation = Operation {
    path: "email/change/confirm",
    summary: "Move the account whose code it is to the new address",
    description: "With an access token, only the caller's own change. The old address gets a \
                  notice.",
    access: Access::OptionalBearer,
    body: Some(Body {
        identifier: false,
        required: &[&fields::EMAIL, &fields::OTP],
        optional: &[],
    }),
    query: None,
    answer: Answer::MessageAndUser,
    refusals: &[Refusal::Rejected, Refusal::Unauthorized, Refusal::Conflict],
};

/// The one answer of `email/change/`, whether or not the address is free.
const CODE_SENT: &str = "If the address can be used, a confirmation code has been sent to it.";

async fn request(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Some(new_email) = form.email(&NEW_EMAIL) else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, Subject::EmailChange, &user.id, &ip).await?;
    if user.email.as_deref() == Some(new_email.value()) {
        return Err(AuthError::field(
            "new_email",
            "This is already the email address of your account.",
        ));
    }
    rate_limit::spend_send_budget(&ctx, &new_email, &ip).await?;
    // The code is bound to the caller's account, so no other account's request replaces it.
    // It is issued even for a taken address (and never sent), so both answers cost the same.
    let code_for = CodeFor::account(Purpose::EmailChange, &new_email, &user.id);
    let code = code_for.issue(&ctx).await?;
    let message = if user::exists(&ctx, &new_email).await? {
        messages::address_taken(&ctx.settings, Purpose::EmailChange)
    } else {
        messages::code_for_account(&ctx.settings, Purpose::EmailChange, &code, user.known_as())
    };
    ctx.mailer.send(&new_email, &message).await?;
    Ok(http::message(CODE_SENT))
}

async fn confirm(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    caller: Option<Caller>,
    mut form: Form,
) -> Result<Response, AuthError> {
    let new_email = form.email(&fields::EMAIL);
    let code = form.text(&fields::OTP);
    let (Some(new_email), Some(code)) = (new_email, code) else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, Subject::EmailChangeConfirm, &new_email.key(), &ip).await?;
    // With a token, only the caller's own change; without one, the code says whose it is.
    let matched = match &caller {
        Some(caller) => {
            CodeFor::account(Purpose::EmailChange, &new_email, &caller.user.id)
                .check(&ctx, &code)
                .await?
        }
        None => codes::check_any_account(&ctx, Purpose::EmailChange, &new_email, &code).await?,
    };
    let user_id = matched.user_id.ok_or(INVALID_CODE)?;
    let mut user = user::get(&ctx, &user_id).await?.ok_or(INVALID_CODE)?;
    let old_email = user
        .email
        .as_deref()
        .map(Identifier::email)
        .and_then(Result::ok);
    // [0] the code, [1] the new address claimed, then the old one released and the user.
    let mut steps = Transaction::new()
        .step(Step::Code, matched.consume)
        .step(Step::Claim, user::claim(&new_email, &user.id));
    if let Some(old) = &old_email {
        steps.push(Step::Release, user::release(old, &user.id));
    }
    let change = UserChange {
        set: vec![UserField::Email(new_email.value().to_owned())],
        ..UserChange::default()
    };
    steps.push(Step::UserChange, change.apply(&mut user));
    match ctx.store.transact(steps).await {
        Ok(()) => {}
        Err(TransactError::Refused(refused)) if refused.by(Step::Code) => {
            return Err(INVALID_CODE);
        }
        Err(TransactError::Refused(refused)) if refused.by(Step::Claim) => {
            return Err(EMAIL_TAKEN);
        }
        Err(TransactError::Refused(_)) => {
            return Err(CHANGED_MEANWHILE);
        }
        Err(TransactError::Unavailable) => return Err(AuthError::Unavailable),
    }
    let (user_id, email) = (user.id.as_str(), new_email.value());
    ctx.events
        .publish(Event::EmailChanged { user_id, email })
        .await;
    if let Some(old) = &old_email {
        let notice = messages::email_changed(&ctx.settings, new_email.value());
        ctx.mailer.send(old, &notice).await?;
    }
    Ok(http::ok(serde_json::json!({
        "message": "Your email address has been changed.",
        "user": user.view(),
    })))
}

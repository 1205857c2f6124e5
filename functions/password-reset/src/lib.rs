//! Password reset (`PASSWORD_RESET`): `password/reset/` sends a `password_reset` code
//! (the same answer, and one message, whether or not the account exists);
//! `password/reset/confirm/` sets the new password and ends every session of the account
//! in the same transaction that uses the code.

use blockauth::codes::INVALID_CODE;
use blockauth::events::Event;
use blockauth::identity::user::CHANGED_MEANWHILE;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::Feature;
use blockauth::codes::{CodeFor, Purpose};
use blockauth::contract::{Access, Answer, Body, Operation, Refusal, fields};
use blockauth::http::{self, ClientIp, Form, Routes};
use blockauth::identity::user::{self, UserChange, UserField};
use blockauth::rate_limit::Subject;
use blockauth::store::{Step, TransactError, Transaction};
use blockauth::{AuthError, Context, mail::messages, password, rate_limit};

pub fn routes() -> Routes {
    Routes::new(Feature::PasswordReset)
        .post(&REQUEST, request)
        .post(&CONFIRM, confirm)
}

const REQUEST: Operation = Operation {
    path: "password/reset",
    summary: "Send a password reset code",
    description: "The same answer whether or not the identifier has an account.",
    access: Access::Public,
    body: Some(Body::IDENTIFIER),
    query: None,
    answer: Answer::Sent,
    refusals: &[],
};

const CONFIRM: Operation = Operation {
    path: "password/reset/confirm",
    summary: "Set a new password with a reset code: every session ends",
    description: "The new password must pass the password policy.",
    access: Access::Public,
    body: Some(Body {
        identifier: true,
        required: &[&fields::OTP, &fields::NEW_PASSWORD],
        optional: &[],
    }),
    query: None,
    answer: Answer::Sent,
    refusals: &[Refusal::Rejected, Refusal::Conflict],
};

const CODE_SENT: &str =
    "If an account uses this identifier, a password reset code has been sent to it.";

async fn request(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Some(identifier) = form.identifier() else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, Subject::PasswordReset, &identifier.key(), &ip).await?;
    rate_limit::spend_send_budget(&ctx, &identifier, &ip).await?;
    // A code is written whether or not there is an account (and sent only if there is), so
    // that both take the same read and write.
    let exists = user::exists(&ctx, &identifier).await?;
    let code = CodeFor::new(Purpose::PasswordReset, &identifier)
        .issue(&ctx)
        .await?;
    let message = if exists {
        messages::code(&ctx.settings, Purpose::PasswordReset, &code)
    } else {
        messages::no_account(&ctx.settings, Purpose::PasswordReset)
    };
    ctx.mailer.send(&identifier, &message).await?;
    Ok(http::message(CODE_SENT))
}

async fn confirm(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let identifier = form.identifier();
    let code = form.text(&fields::OTP);
    let new_password = form.text(&fields::NEW_PASSWORD);
    let (Some(identifier), Some(code), Some(new_password)) = (identifier, code, new_password)
    else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, Subject::PasswordResetConfirm, &identifier.key(), &ip).await?;
    // A weak password is refused before the code is tried, so it costs no attempt.
    ctx.settings.password_policy.validate(
        "new_password",
        &new_password,
        &[(identifier.field(), identifier.value())],
    )?;
    let consume = CodeFor::new(Purpose::PasswordReset, &identifier)
        .check(&ctx, &code)
        .await?
        .consume;
    let mut user = user::find(&ctx, &identifier).await?.ok_or(INVALID_CODE)?;
    let password_hash = password::hash(new_password).await?;
    let change = UserChange {
        set: vec![UserField::PasswordHash(password_hash)],
        end_sessions: true,
        ..UserChange::default()
    };
    let steps = Transaction::new()
        .step(Step::Code, consume)
        .step(Step::UserChange, change.apply(&mut user));
    match ctx.store.transact(steps).await {
        Ok(()) => {}
        Err(TransactError::Refused(refused)) if refused.by(Step::Code) => {
            return Err(INVALID_CODE);
        }
        Err(TransactError::Refused(_)) => {
            return Err(CHANGED_MEANWHILE);
        }
        Err(TransactError::Unavailable) => return Err(AuthError::Unavailable),
    }
    let user_id = user.id.as_str();
    ctx.events.publish(Event::PasswordReset { user_id }).await;
    ctx.mailer
        .send(&identifier, &messages::password_changed(&ctx.settings))
        .await?;
    Ok(http::message(
        "Your password has been reset and every session signed out. Sign in with the new password.",
    ))
}

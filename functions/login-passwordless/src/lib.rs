//! Passwordless login (`PASSWORDLESS_LOGIN`): `login/passwordless/` sends a `login` code;
//! `login/passwordless/confirm/` exchanges it for tokens, creating a verified passwordless
//! account on first use when `PASSWORDLESS_AUTO_CREATE` is on.
//!
//! Known and unknown identifiers get the same answer, and each gets exactly one message.

use blockauth::codes::INVALID_CODE;
use blockauth::identity::user::CHANGED_MEANWHILE;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::Feature;
use blockauth::codes::{CodeFor, Purpose};
use blockauth::contract::{Access, Answer, Body, Operation, Refusal, fields};
use blockauth::http::{self, ClientIp, Form, Routes};
use blockauth::identity::user::{self, SignInMethod, User, UserChange, UserField};
use blockauth::rate_limit::Subject;
use blockauth::session::refresh_family::{self, Account, Device};
use blockauth::store::{Step, TransactError, Transaction};
use blockauth::{AuthError, Context, mail::messages, rate_limit};

pub fn routes() -> Routes {
    Routes::new(Feature::PasswordlessLogin)
        .post(&REQUEST, request)
        .post(&CONFIRM, confirm)
}

const REQUEST: Operation = Operation {
    path: "login/passwordless",
    summary: "Send a login code",
    description: "The same answer whether or not the identifier has an account.",
    access: Access::Public,
    body: Some(Body::IDENTIFIER),
    query: None,
    answer: Answer::Sent,
    refusals: &[],
};

const CONFIRM: Operation = Operation {
    path: "login/passwordless/confirm",
    summary: "Sign in with a login code",
    description: "Creates a verified passwordless account on first use when \
                  `PASSWORDLESS_AUTO_CREATE` is on.",
    access: Access::Public,
    body: Some(Body {
        identifier: true,
        required: &[&fields::OTP],
        optional: &[],
    }),
    query: None,
    answer: Answer::SignedIn,
    refusals: &[Refusal::Rejected, Refusal::Conflict],
};

const CODE_SENT: &str = "If this identifier can sign in, a login code has been sent to it.";

async fn request(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Some(identifier) = form.identifier() else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, Subject::LoginPasswordless, &identifier.key(), &ip).await?;
    rate_limit::spend_send_budget(&ctx, &identifier, &ip).await?;
    let can_sign_in =
        ctx.settings.passwordless_auto_create || user::exists(&ctx, &identifier).await?;
    // Written even when it is not sent, so that both answers take the same work.
    let code = CodeFor::new(Purpose::Login, &identifier)
        .issue(&ctx)
        .await?;
    let message = if can_sign_in {
        messages::code(&ctx.settings, Purpose::Login, &code)
    } else {
        messages::no_account(&ctx.settings, Purpose::Login)
    };
    ctx.mailer.send(&identifier, &message).await?;
    Ok(http::message(CODE_SENT))
}

async fn confirm(
    State(ctx): State<Arc<Context>>,
    device: Device,
    mut form: Form,
) -> Result<Response, AuthError> {
    let ip = device.network.as_str();
    let identifier = form.identifier();
    let code = form.text(&fields::OTP);
    let (Some(identifier), Some(code)) = (identifier, code) else {
        return Err(form.invalid());
    };
    rate_limit::check(
        &ctx,
        Subject::LoginPasswordlessConfirm,
        &identifier.key(),
        ip,
    )
    .await?;
    let consume = CodeFor::new(Purpose::Login, &identifier)
        .check(&ctx, &code)
        .await?
        .consume;
    let signed_in = match user::find(&ctx, &identifier).await? {
        Some(user) => {
            let change = UserChange {
                set: vec![UserField::Method(SignInMethod::Passwordless)],
                ..UserChange::default()
            };
            let steps = Transaction::new().step(Step::Code, consume);
            let method = SignInMethod::Passwordless;
            refresh_family::sign_in(
                &ctx,
                user,
                steps,
                Account::Existing(change),
                method,
                &device,
            )
            .await
        }
        None if ctx.settings.passwordless_auto_create => {
            let user = User::new(&identifier, None, SignInMethod::Passwordless);
            let steps = Transaction::new()
                .step(Step::Code, consume)
                .and(user.create(&identifier));
            let method = SignInMethod::Passwordless;
            refresh_family::sign_in(&ctx, user, steps, Account::New, method, &device).await
        }
        None => return Err(INVALID_CODE),
    };
    match signed_in {
        Ok(signed_in) => Ok(http::ok(signed_in.body())),
        Err(TransactError::Refused(refused)) if refused.by(Step::Code) => Err(INVALID_CODE),
        Err(TransactError::Refused(_)) => Err(CHANGED_MEANWHILE),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

//! Signup (`SIGNUP`): `signup/`, `signup/otp/resend/`, `signup/confirm/`.
//!
//! `signup/` records the password's hash in the identifier's pending signup and sends a
//! code; an identifier that already has an account gets the same answer (after the same
//! work), and its owner a notice. `signup/confirm/` consumes the code and creates the
//! verified user in one transaction, with the password the pending signup was started with
//! (see `blockauth::identity::pending_signup` for why a second signup never takes it over).

use blockauth::codes::INVALID_CODE;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::codes::{self, CodeFor, Purpose};
use blockauth::contract::{Access, Answer, Body, Operation, Refusal, fields};
use blockauth::http::{self, ClientIp, Form, Routes};
use blockauth::identity::pending_signup::PendingSignup;
use blockauth::identity::user::{self, SignInMethod, User};
use blockauth::rate_limit::Subject;
use blockauth::session::refresh_family::{Account, Device};
use blockauth::store::{Step, TransactError, Transaction, Write};
use blockauth::{
    AuthError, Context, Feature, identity::pending_signup, mail::messages, rate_limit,
    session::refresh_family,
};

pub fn routes() -> Routes {
    Routes::new(Feature::Signup)
        .post(&SIGNUP, signup)
        .post(&RESEND, resend)
        .post(&CONFIRM, confirm)
}

const SIGNUP: Operation = Operation {
    path: "signup",
    summary: "Start a signup: a code goes to the identifier",
    description: "Checks the password against the policy, keeps its hash in the identifier's \
                  pending signup (one hour from the first signup) and sends a code. An \
                  identifier that has an account gets the same answer, and its owner a \
                  notice instead of a code.",
    access: Access::Public,
    body: Some(Body {
        identifier: true,
        required: &[&fields::PASSWORD],
        optional: &[],
    }),
    query: None,
    answer: Answer::Sent,
    refusals: &[Refusal::Rejected],
};

const RESEND: Operation = Operation {
    path: "signup/otp/resend",
    summary: "Send a pending signup's code again",
    description: "A new code replaces the old one. The same answer whatever the identifier.",
    access: Access::Public,
    body: Some(Body::IDENTIFIER),
    query: None,
    answer: Answer::Sent,
    refusals: &[],
};

const CONFIRM: Operation = Operation {
    path: "signup/confirm",
    summary: "Confirm a signup with its code: the account is created, signed in",
    description: "`password` is needed when the pending signup saw more than one password, \
                  and the account gets exactly that one. 409 when the identifier has an \
                  account already.",
    access: Access::Public,
    body: Some(Body {
        identifier: true,
        required: &[&fields::OTP],
        optional: &[&fields::PASSWORD],
    }),
    query: None,
    answer: Answer::Session,
    refusals: &[Refusal::Rejected, Refusal::Conflict],
};

/// The one answer of `signup/` and `signup/otp/resend/`, whoever asks.
const CODE_SENT: &str = "If this identifier can be used, a confirmation code has been sent to it.";

/// A parallel signup for the same identifier can create the pending signup between our read
/// and our write; the next try sees it. Every try has at least one winner, so few are needed.
const TRIES: usize = 3;

async fn signup(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let identifier = form.identifier();
    let password = form.text(&fields::PASSWORD);
    let (Some(identifier), Some(password)) = (identifier, password) else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, Subject::Signup, &identifier.key(), &ip).await?;
    ctx.settings.password_policy.validate(
        "password",
        &password,
        &[(identifier.field(), identifier.value())],
    )?;
    rate_limit::spend_send_budget(&ctx, &identifier, &ip).await?;
    let code = codes::generate(ctx.settings.codes.length)?;
    let code_for = CodeFor::new(Purpose::Signup, &identifier);
    // The same reads, one argon2 run and one transaction whether or not the identifier has
    // an account: the transaction's first step checks that it has none.
    for _ in 0..TRIES {
        let pending = PendingSignup::find(&ctx, &identifier)
            .await?
            .unwrap_or_default();
        let hash = pending.hash(password.clone()).await?;
        let steps = Transaction::new()
            .step(Step::IdentifierFree, user::check_free(&identifier))
            .step(Step::PendingSignup, pending.record(&identifier, &hash))
            .step(Step::Code, Write::put(code_for.item(&ctx, &code)));
        let message = match ctx.store.transact(steps).await {
            Ok(()) => messages::code(&ctx.settings, Purpose::Signup, &code),
            Err(TransactError::Refused(refused)) if refused.by(Step::IdentifierFree) => {
                messages::account_exists(&ctx.settings)
            }
            // A parallel signup created or replaced the pending signup: read it again.
            Err(TransactError::Refused(_)) => continue,
            Err(TransactError::Unavailable) => return Err(AuthError::Unavailable),
        };
        ctx.mailer.send(&identifier, &message).await?;
        return Ok(http::message(CODE_SENT));
    }
    Err(AuthError::unavailable(
        "signup",
        &"the pending signup kept changing",
    ))
}

async fn resend(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Some(identifier) = form.identifier() else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, Subject::SignupResend, &identifier.key(), &ip).await?;
    rate_limit::spend_send_budget(&ctx, &identifier, &ip).await?;
    // Every answer reads the same items, writes a code (sent only for a pending signup) and
    // sends one message, so that known and unknown identifiers look and time alike.
    let pending = PendingSignup::find(&ctx, &identifier).await?;
    let exists = user::exists(&ctx, &identifier).await?;
    let code = CodeFor::new(Purpose::Signup, &identifier)
        .issue(&ctx)
        .await?;
    let message = if pending.is_some() {
        messages::code(&ctx.settings, Purpose::Signup, &code)
    } else if exists {
        messages::account_exists(&ctx.settings)
    } else {
        messages::no_account(&ctx.settings, Purpose::Signup)
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
    let password = form.optional_text(&fields::PASSWORD);
    let (Some(identifier), Some(code)) = (identifier, code) else {
        return Err(form.invalid());
    };
    form.finish()?;
    rate_limit::check(&ctx, Subject::SignupConfirm, &identifier.key(), ip).await?;
    // The pending signup is read while the code is checked: one round trip for both.
    let code_for = CodeFor::new(Purpose::Signup, &identifier);
    let (checked, pending) = tokio::join!(
        code_for.check(&ctx, &code),
        PendingSignup::find(&ctx, &identifier),
    );
    let consume = checked?.consume;
    let pending = pending?.ok_or(INVALID_CODE)?;
    let password_hash = pending.chosen(password).await?;
    let method = SignInMethod::password(&identifier);
    let user = User::new(&identifier, Some(password_hash), method);
    let steps = Transaction::new()
        .step(Step::Code, consume)
        .and(user.create(&identifier))
        .step(Step::PendingSignup, pending_signup::remove(&identifier));
    match refresh_family::sign_in(&ctx, user, steps, Account::New, method, &device).await {
        Ok(signed_in) => Ok(http::ok(signed_in.body())),
        Err(TransactError::Refused(refused))
            if refused.by(Step::Claim) && !refused.by(Step::Code) =>
        {
            Err(AuthError::Conflict {
                code: "account_exists",
                detail: "An account with this identifier already exists. Sign in instead.",
            })
        }
        Err(TransactError::Refused(_)) => Err(INVALID_CODE),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

//! Signup (`SIGNUP`): `signup/`, `signup/otp/resend/`, `signup/confirm/`.
//!
//! `signup/` stores a pending signup with the password's hash and sends a code; an
//! identifier that already has an account gets the same answer, and its owner a notice.
//! `signup/confirm/` consumes the code and creates the verified user in one transaction.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::http::{self, ClientIp, Form, Routes};
use blockauth::one_time_code::{self, Purpose};
use blockauth::refresh_family::Account;
use blockauth::store::TransactError;
use blockauth::user::{self, User};
use blockauth::{
    AuthError, Context, messages, password, pending_signup, rate_limit, refresh_family,
};

pub fn routes() -> Routes {
    Routes::default()
        .post("signup", signup)
        .post("signup/otp/resend", resend)
        .post("signup/confirm", confirm)
}

/// The one answer of `signup/` and `signup/otp/resend/`, whoever asks.
const CODE_SENT: &str = "If this identifier can be used, a confirmation code has been sent to it.";

async fn signup(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let identifier = form.identifier();
    let password = form.text(&["password"]);
    let (Some(identifier), Some(password)) = (identifier, password) else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, "signup", &identifier.key(), &ip).await?;
    ctx.settings.password_policy.validate(
        "password",
        &password,
        &[(identifier.field(), identifier.value())],
    )?;
    rate_limit::spend_send_budget(&ctx, &identifier).await?;
    // Hash even for an existing account, so both answers take the same time.
    let password_hash = password::hash(password).await?;
    if user::exists(&ctx, &identifier).await? {
        let notice = messages::account_exists(&ctx.settings);
        ctx.mailer.send(&identifier, &notice).await?;
        return Ok(http::message(CODE_SENT));
    }
    let code = one_time_code::generate(ctx.settings.otp_length)?;
    let code_item = one_time_code::code_item(&ctx, Purpose::Signup, &identifier, &code);
    ctx.store
        .transact(vec![
            pending_signup::save(&ctx, &identifier, &password_hash),
            ctx.store.put_any(code_item),
        ])
        .await?;
    let message = messages::code(&ctx.settings, Purpose::Signup, &code);
    ctx.mailer.send(&identifier, &message).await?;
    Ok(http::message(CODE_SENT))
}

async fn resend(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Some(identifier) = form.identifier() else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, "signup_resend", &identifier.key(), &ip).await?;
    rate_limit::spend_send_budget(&ctx, &identifier).await?;
    // Every answer sends one message, so that known and unknown identifiers look alike.
    let message = if pending_signup::find(&ctx, &identifier).await?.is_some() {
        let code = one_time_code::issue(&ctx, Purpose::Signup, &identifier).await?;
        messages::code(&ctx.settings, Purpose::Signup, &code)
    } else if user::exists(&ctx, &identifier).await? {
        messages::account_exists(&ctx.settings)
    } else {
        messages::no_account(&ctx.settings, Purpose::Signup)
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
    let code = form.text(&["otp", "code"]);
    let (Some(identifier), Some(code)) = (identifier, code) else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, "signup_confirm", &identifier.key(), &ip).await?;
    let consume = one_time_code::check(&ctx, Purpose::Signup, &identifier, &code)
        .await?
        .consume;
    let password_hash = pending_signup::find(&ctx, &identifier)
        .await?
        .ok_or(AuthError::INVALID_CODE)?;
    let kind = match identifier {
        blockauth::identifier::Identifier::Email(_) => "EMAIL",
        blockauth::identifier::Identifier::Phone(_) => "PHONE",
    };
    let user = User::new(&identifier, Some(password_hash), kind);
    // [0] the code, [1] the user, [2] the identifier's owner item, [3] the pending signup.
    let mut writes = vec![consume];
    writes.extend(user.create(&ctx, &identifier));
    writes.push(pending_signup::remove(&ctx, &identifier));
    match refresh_family::sign_in(&ctx, user, writes, Account::New).await {
        Ok(signed_in) => Ok(http::ok(signed_in.body())),
        Err(TransactError::Condition(failed))
            if failed.get(2) == Some(&true) && failed.first() != Some(&true) =>
        {
            Err(AuthError::Conflict {
                code: "account_exists",
                detail: "An account with this identifier already exists. Sign in instead.",
            })
        }
        Err(TransactError::Condition(_)) => Err(AuthError::INVALID_CODE),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

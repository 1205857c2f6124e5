//! Email change (`EMAIL_CHANGE`): `email/change/` (protected) sends an `email_change` code
//! to the new address, bound to the caller's account; `email/change/confirm/` moves the
//! account to the new address in one transaction (the new address claimed, the old one
//! released, the user updated), so two accounts can never share an email, and tells the
//! old address.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::http::{self, Caller, ClientIp, Form, Routes};
use blockauth::identifier::Identifier;
use blockauth::one_time_code::{self, Purpose};
use blockauth::store::{TransactError, s};
use blockauth::user::{self, UserChange};
use blockauth::{AuthError, Context, messages, rate_limit};

pub fn routes() -> Routes {
    Routes::default()
        .post("email/change", request)
        .post("email/change/confirm", confirm)
}

async fn request(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Some(new_email) = form.email("new_email") else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, "email_change", &user.id, &ip).await?;
    if user.email.as_deref() == Some(new_email.value()) {
        return Err(AuthError::field(
            "new_email",
            "This is already the email address of your account.",
        ));
    }
    if user::exists(&ctx, &new_email).await? {
        return Err(AuthError::EMAIL_TAKEN);
    }
    rate_limit::spend_send_budget(&ctx, &new_email).await?;
    let code =
        one_time_code::issue_for_user(&ctx, Purpose::EmailChange, &new_email, &user.id).await?;
    let message = messages::code(&ctx.settings, Purpose::EmailChange, &code);
    ctx.mailer.send(&new_email, &message).await?;
    Ok(http::message(
        "A confirmation code has been sent to the new address.",
    ))
}

async fn confirm(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let new_email = form.email("email");
    let code = form.text(&["otp", "code"]);
    let (Some(new_email), Some(code)) = (new_email, code) else {
        return Err(form.invalid());
    };
    rate_limit::check(&ctx, "email_change_confirm", &new_email.key(), &ip).await?;
    let matched = one_time_code::check(&ctx, Purpose::EmailChange, &new_email, &code).await?;
    let user_id = matched.user_id.ok_or(AuthError::INVALID_CODE)?;
    let mut user = user::get(&ctx, &user_id)
        .await?
        .ok_or(AuthError::INVALID_CODE)?;
    let old_email = user
        .email
        .as_deref()
        .map(Identifier::email)
        .and_then(Result::ok);
    // [0] the code, [1] the new address claimed, then the old one released and the user.
    let mut writes = vec![matched.consume, user::claim(&ctx, &new_email, &user.id)];
    if let Some(old) = &old_email {
        writes.push(user::release(&ctx, old, &user.id));
    }
    let change = UserChange {
        set: vec![("email", s(new_email.value()))],
        end_sessions: false,
        ..UserChange::default()
    };
    writes.push(change.apply(&ctx, &mut user));
    match ctx.store.transact(writes).await {
        Ok(()) => {}
        Err(TransactError::Condition(failed)) if failed.first() == Some(&true) => {
            return Err(AuthError::INVALID_CODE);
        }
        Err(TransactError::Condition(failed)) if failed.get(1) == Some(&true) => {
            return Err(AuthError::EMAIL_TAKEN);
        }
        Err(TransactError::Condition(_)) => {
            return Err(AuthError::CHANGED_MEANWHILE);
        }
        Err(TransactError::Unavailable) => return Err(AuthError::Unavailable),
    }
    if let Some(old) = &old_email {
        let notice = messages::email_changed(&ctx.settings, new_email.value());
        ctx.mailer.send(old, &notice).await?;
    }
    Ok(http::ok(serde_json::json!({
        "message": "Your email address has been changed.",
        "user": user.view(),
    })))
}

//! Password change (`PASSWORD_CHANGE`, protected): `password/change/` with `old_password`
//! (which an account without a password may omit) and `new_password`. Every session of the
//! account ends, and a fresh pair is returned, in one transaction.

use blockauth::events::Event;
use blockauth::identity::user::CHANGED_MEANWHILE;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::Feature;
use blockauth::contract::{Access, Answer, Body, Field, Kind, Operation, Refusal, fields};
use blockauth::http::{self, Caller, Form, Routes};
use blockauth::identity::user::{self, SignInMethod, UserChange, UserField};
use blockauth::rate_limit::{LoginAttempt, Subject};
use blockauth::session::refresh_family::{self, Account, Claimed, Device};
use blockauth::store::{TransactError, Transaction};
use blockauth::{AuthError, Context, mail::messages, password, rate_limit};

pub fn routes() -> Routes {
    Routes::new(Feature::PasswordChange).post(&CHANGE, change)
}

const OLD_PASSWORD: Field = Field {
    name: "old_password",
    aliases: &[],
    kind: Kind::Secret,
    description: "The current password; an account without one omits it.",
};

const CHANGE: Operation = Operation {
    path: "password/change",
    summary: "Change the password: every session ends, a fresh pair is returned",
    description: "A wrong `old_password` is a field error and counts against the account's \
                  failed-login cap.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&fields::NEW_PASSWORD],
        optional: &[&OLD_PASSWORD],
    }),
    query: None,
    answer: Answer::Session,
    refusals: &[Refusal::Rejected, Refusal::Conflict],
};

async fn change(
    State(ctx): State<Arc<Context>>,
    device: Device,
    Caller { user, claims }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let ip = device.network.as_str();
    let old_password = form.optional_text(&OLD_PASSWORD);
    let new_password = form.text(&fields::NEW_PASSWORD);
    let Some(new_password) = new_password else {
        return Err(form.invalid());
    };
    form.finish()?;
    rate_limit::check(&ctx, Subject::PasswordChange, &user.id, ip).await?;
    // A wrong old password counts against the account's failed-login cap, as at login, so a
    // stolen access token gives no more guesses than the sign-in form.
    let mut refund = Transaction::new();
    if let Some(current) = &user.password_hash {
        let Some(old_password) = old_password else {
            return Err(AuthError::field("old_password", "This field is required."));
        };
        let familiar = user::knows_network(&ctx, &user.id, ip).await?;
        let attempt = LoginAttempt::reserve(&ctx, &user.password_key(), ip, familiar).await?;
        let matches = match password::verify(old_password, Some(current.clone())).await {
            Ok(matches) => matches,
            Err(_) => return Err(attempt.unchecked(&ctx).await),
        };
        if !matches {
            return Err(AuthError::field(
                "old_password",
                "Your old password was entered incorrectly. Please enter it again.",
            ));
        }
        refund = attempt.succeeded(&ctx);
    }
    let identifiers: Vec<(&str, &str)> = [("email", &user.email), ("phone", &user.phone)]
        .into_iter()
        .filter_map(|(name, value)| value.as_deref().map(|v| (name, v)))
        .collect();
    ctx.settings
        .password_policy
        .validate("new_password", &new_password, &identifiers)?;
    let password_hash = password::hash(new_password).await?;
    let mut set = vec![UserField::PasswordHash(password_hash)];
    if user.password_hash.is_none() {
        // A first password makes basic login possible.
        let method = if user.email.is_some() {
            SignInMethod::Email
        } else {
            SignInMethod::Phone
        };
        set.push(UserField::Method(method));
    }
    let notify = user.contact();
    let change = UserChange {
        set,
        end_sessions: true,
        ..UserChange::default()
    };
    // The caller's session goes on in a new one, with its claims.
    let claimed = Claimed::Continuing(claims.custom);
    let signed_in = match refresh_family::sign_in(
        &ctx,
        user,
        refund,
        Account::Existing(change),
        claimed,
        &device,
    )
    .await
    {
        Ok(signed_in) => signed_in,
        Err(TransactError::Refused(_)) => {
            return Err(CHANGED_MEANWHILE);
        }
        Err(TransactError::Unavailable) => return Err(AuthError::Unavailable),
    };
    let user_id = signed_in.user().id.as_str();
    ctx.events.publish(Event::PasswordChanged { user_id }).await;
    if let Some(to) = notify {
        ctx.mailer
            .send(&to, &messages::password_changed(&ctx.settings))
            .await?;
    }
    Ok(http::ok(signed_in.body()))
}

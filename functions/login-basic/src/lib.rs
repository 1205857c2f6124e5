//! Basic login (`BASIC_LOGIN`): `login/basic/` with an identifier and a password.
//!
//! A wrong password and an unknown identifier get the same 401 after the same work: the same
//! reads (`user::find_for_sign_in`), and the password checked against a dummy hash when
//! there is no account (except for an account whose hash moved in from Django: its own
//! format's work, README "Moving in from BlockAuth"). Such a hash is replaced by this
//! project's argon2id in the same sign-in. Failed attempts on one identifier are capped per client network and
//! in total from unfamiliar networks (`rate_limit::LoginAttempt`).

use blockauth::password::INVALID_CREDENTIALS;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::Feature;
use blockauth::contract::{Access, Answer, Body, Operation, Refusal, fields};
use blockauth::http::{self, Form, Routes};
use blockauth::identity::user::{SignInMethod, UserChange, UserField};
use blockauth::rate_limit::{LoginAttempt, Subject};
use blockauth::session::refresh_family::{Account, Device};
use blockauth::store::TransactError;
use blockauth::{
    AuthError, Context, identity::user, password, rate_limit, session::refresh_family,
};

pub fn routes() -> Routes {
    Routes::new(Feature::BasicLogin).post(&LOGIN, login)
}

const LOGIN: Operation = Operation {
    path: "login/basic",
    summary: "Sign in with an identifier and a password",
    description: "A wrong password and an unknown identifier get the same 401 \
                  (`authentication_failed`). 403 for an account that is not verified.",
    access: Access::Public,
    body: Some(Body {
        identifier: true,
        required: &[&fields::PASSWORD],
        optional: &[],
    }),
    query: None,
    answer: Answer::SignedIn,
    refusals: &[Refusal::Unauthorized, Refusal::Forbidden],
};

async fn login(
    State(ctx): State<Arc<Context>>,
    device: Device,
    mut form: Form,
) -> Result<Response, AuthError> {
    let ip = device.network.as_str();
    let identifier = form.identifier();
    let password = form.text(&fields::PASSWORD);
    let (Some(identifier), Some(password)) = (identifier, password) else {
        return Err(form.invalid());
    };
    // The count beside the account's reads: one round trip fewer (BENCHMARKS.md).
    let account = identifier.key();
    let (counted, found) = tokio::join!(
        rate_limit::check(&ctx, Subject::LoginBasic, &account, ip),
        user::find_for_sign_in(&ctx, &identifier, ip),
    );
    counted?;
    let (user, familiar) = found?;
    let attempt = LoginAttempt::reserve(&ctx, &account, ip, familiar).await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let moved_in = stored.as_deref().is_some_and(password::django::is_django);
    let matches = match password::verify(password.clone(), stored).await {
        Ok(matches) => matches,
        Err(_) => return Err(attempt.unchecked(&ctx).await),
    };
    let Some(user) = user.filter(|_| matches) else {
        return Err(INVALID_CREDENTIALS);
    };
    if !user.is_verified {
        return Err(AuthError::Forbidden {
            code: "account_not_verified",
            detail: "This account is not verified yet.",
        });
    }
    let mut change = UserChange::default();
    if moved_in {
        // A hash moved in from Django: replaced by ours in the sign-in's own transaction,
        // which is conditional on the session epoch, so a concurrent password change is
        // never undone. Should hashing be busy (the pool logs it), the next login upgrades.
        if let Ok(ours) = password::hash(password).await {
            change.set.push(UserField::PasswordHash(ours));
        }
    }
    match refresh_family::sign_in(
        &ctx,
        user,
        attempt.succeeded(&ctx),
        Account::Existing(change),
        SignInMethod::password(&identifier),
        &device,
    )
    .await
    {
        Ok(signed_in) => Ok(http::ok(signed_in.body())),
        // The account was deleted between the read and the write.
        Err(TransactError::Refused(_)) => Err(INVALID_CREDENTIALS),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

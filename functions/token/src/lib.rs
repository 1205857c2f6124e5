//! Tokens (`TOKEN_REFRESH`): `token/refresh/` exchanges a refresh token for a new pair
//! (rotation: the old one is retired, and presenting it again revokes its whole family);
//! `token/revoke/` revokes the token's family (logout) and answers 204.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use blockauth::Feature;
use blockauth::contract::{Access, Answer, Body, Operation, Refusal, fields};
use blockauth::events::Event;
use blockauth::http::{self, ClientIp, Form, Routes};
use blockauth::rate_limit::Subject;
use blockauth::session::refresh_family::SignIn;
use blockauth::session::token::TokenType;
use blockauth::{AuthError, Context, rate_limit, session::refresh_family};

pub fn routes() -> Routes {
    Routes::new(Feature::TokenRefresh)
        .post(&REFRESH, refresh)
        .post(&REVOKE, revoke)
}

/// What both routes read: a refresh token.
const REFRESH_TOKEN: Body = Body {
    identifier: false,
    required: &[&fields::REFRESH],
    optional: &[],
};

const REFRESH: Operation = Operation {
    path: "token/refresh",
    summary: "Exchange a refresh token for a new pair",
    description: "With `ROTATE_REFRESH_TOKENS`, the old refresh token is retired; presenting \
                  it again after `REFRESH_REUSE_GRACE` seconds revokes every token of its \
                  sign-in.",
    access: Access::Public,
    body: Some(REFRESH_TOKEN),
    query: None,
    answer: Answer::Session,
    refusals: &[Refusal::Unauthorized],
};

const REVOKE: Operation = Operation {
    path: "token/revoke",
    summary: "Sign out: revoke every token of the refresh token's sign-in",
    description: "Answers 204.",
    access: Access::Public,
    body: Some(REFRESH_TOKEN),
    query: None,
    answer: Answer::NoContent,
    refusals: &[Refusal::Unauthorized],
};

async fn refresh(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Some(token) = form.text(&fields::REFRESH) else {
        return Err(form.invalid());
    };
    let claims = ctx.tokens.verify(&token, TokenType::Refresh).await?;
    let counted = rate_limit::check(&ctx, Subject::TokenRefresh, &claims.user_id, &ip);
    if ctx.settings.session.rotate_refresh_tokens {
        let signed_in = refresh_family::rotate(&ctx, &claims, &token, counted).await?;
        return Ok(http::ok(signed_in.body()));
    }
    let (counted, user) = tokio::join!(counted, refresh_family::session_user(&ctx, &claims));
    counted?;
    let user = user?;
    // Without rotation the refresh token stays the same; only the access token is new.
    let custom = refresh_family::refreshed_claims(&ctx, &user, &claims).await?;
    let mut tokens = ctx
        .tokens
        .issue(&claims.user_id, &claims.sid, &custom)
        .await?;
    tokens.refresh = token;
    Ok(http::ok(SignIn { tokens, user }.body()))
}

async fn revoke(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Some(token) = form.text(&fields::REFRESH) else {
        return Err(form.invalid());
    };
    let claims = ctx.tokens.verify(&token, TokenType::Refresh).await?;
    rate_limit::check(&ctx, Subject::TokenRevoke, &claims.user_id, &ip).await?;
    if refresh_family::revoke(&ctx, &claims.user_id, &claims.sid).await? {
        let (user_id, sid) = (claims.user_id.as_str(), claims.sid.as_str());
        ctx.events.publish(Event::Logout { user_id, sid }).await;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

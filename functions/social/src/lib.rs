//! Social login (`SOCIAL_AUTH`): `{provider}/` sends the browser to the provider;
//! `{provider}/callback/` (Apple's a POST, its `form_post`; `blockauth::social::apple` says
//! how its state holds) checks the state against this browser's cookie, exchanges the
//! code, verifies the ID token, finds or makes the account, and sends the browser to the
//! frontend with a one-time code; `social/token/` trades that code for tokens. Tokens never
//! travel in a URL. A provider without configuration has no routes (404).
//! `blockauth::social::flow` holds each step and why.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use blockauth::Feature;
use blockauth::contract::{Access, Answer, Body, Field, Kind, Operation, Refusal};
use blockauth::http::{self, ClientIp, Form, ProviderName, Query, Routes};
use blockauth::rate_limit::Subject;
use blockauth::session::refresh_family::Device;
use blockauth::social::apple;
use blockauth::social::flow::{self, STATE_COOKIE};
use blockauth::social::id_token::ID_TOKEN_INVALID;
use blockauth::social::settings::Provider;
use blockauth::{AuthError, Context, rate_limit};

pub fn routes() -> Routes {
    Routes::new(Feature::SocialAuth)
        .get(&START, start)
        .get(&CALLBACK, callback)
        .post(&FORM_POST_CALLBACK, form_post_callback)
        .post(&NATIVE, native)
        .post(&TOKEN, token)
}

const NEXT: Field = Field {
    name: "next",
    aliases: &[],
    kind: Kind::Text,
    description: "Where the frontend wants to land afterwards: a URL on \
                  `SOCIAL_REDIRECT_ALLOWLIST`.",
};

const CODE: Field = Field {
    name: "code",
    aliases: &[],
    kind: Kind::Text,
    description: "The provider's authorization code.",
};

const STATE: Field = Field {
    name: "state",
    aliases: &[],
    kind: Kind::Text,
    description: "The state this sign-in began with.",
};

const ERROR: Field = Field {
    name: "error",
    aliases: &[],
    kind: Kind::Text,
    description: "The provider's refusal (e.g. `access_denied`), instead of a code.",
};

const ONE_TIME_CODE: Field = Field {
    name: "code",
    aliases: &[],
    kind: Kind::Text,
    description: "The one-time code the callback sent the browser back with.",
};

const START: Operation = Operation {
    path: "{provider}",
    summary: "Sign in with a provider: go there",
    description: "302 to the provider with `state`, PKCE (S256) and a `nonce`; the state is \
                  single use and bound to this browser by an HttpOnly cookie.",
    access: Access::Public,
    body: None,
    query: Some(Body {
        identifier: false,
        required: &[],
        optional: &[&NEXT],
    }),
    answer: Answer::Redirect { sets_cookie: true },
    refusals: &[Refusal::Rejected, Refusal::BadGateway],
};

const CALLBACK: Operation = Operation {
    path: "{provider}/callback",
    summary: "Where the provider sends the browser back",
    description: "The state must be this browser's and unused; the code is exchanged and \
                  the ID token verified (signature, `iss`, `aud`, `exp`, `nonce`). The \
                  identity (provider, subject) finds or makes the account; a provider's \
                  email joins an existing account only where the provider may link by email \
                  (`LINK_BY_EMAIL`) and says it is verified, else 403 `email_not_linkable` \
                  whether or not an account has that email.",
    access: Access::Public,
    body: None,
    query: Some(Body {
        identifier: false,
        required: &[&STATE],
        optional: &[&CODE, &ERROR],
    }),
    answer: Answer::RedirectOrSignedIn,
    refusals: &[Refusal::Rejected, Refusal::Forbidden, Refusal::BadGateway],
};

const FIRST_AUTHORIZATION: Field = Field {
    name: "user",
    aliases: &[],
    kind: Kind::Text,
    description: "Apple's JSON of the person's name, sent at their first authorization only \
                  (`{\"name\": {\"firstName\": ..., \"lastName\": ...}}`); a new account \
                  takes the name.",
};

const FORM_POST_CALLBACK: Operation = Operation {
    path: "{provider}/callback",
    summary: "Where Apple's page posts the sign-in back (form_post)",
    description: "Apple's callback, a cross-site POST of `code`, `state` and, at a first \
                  authorization, `user`. Its state cookie is `SameSite=None` (a cross-site \
                  POST carries no other) and must equal the posted state, which no other \
                  site can read; then as the GET callback.",
    access: Access::Public,
    body: Some(Body {
        identifier: false,
        required: &[&STATE],
        optional: &[&CODE, &ERROR, &FIRST_AUTHORIZATION],
    }),
    query: None,
    answer: Answer::RedirectOrSignedIn,
    refusals: &[Refusal::Rejected, Refusal::Forbidden, Refusal::BadGateway],
};

const ID_TOKEN: Field = Field {
    name: "id_token",
    aliases: &[],
    kind: Kind::Token,
    description: "The ID token the provider's mobile SDK gave the app.",
};

const NONCE: Field = Field {
    name: "nonce",
    aliases: &[],
    kind: Kind::Text,
    description: "The nonce the app gave the SDK for this sign-in; used once.",
};

const NATIVE: Operation = Operation {
    path: "{provider}/native/verify",
    summary: "Sign in a mobile app that signed in with the provider's SDK",
    description: "The ID token is checked against the provider's keys, with the apps' client \
                  ids (`NATIVE_CLIENT_IDS`) as audiences and the app's nonce, which is used \
                  up (Apple's token carries the nonce's SHA-256 in hex, as Apple's SDKs are \
                  given it); then the same linking as the web sign-in.",
    access: Access::Public,
    body: Some(Body {
        identifier: false,
        required: &[&ID_TOKEN, &NONCE],
        optional: &[],
    }),
    query: None,
    answer: Answer::SignedIn,
    refusals: &[
        Refusal::Rejected,
        Refusal::Unauthorized,
        Refusal::Forbidden,
        Refusal::BadGateway,
    ],
};

const TOKEN: Operation = Operation {
    path: "social/token",
    summary: "Trade a social sign-in's one-time code for tokens",
    description: "The code lives 60 seconds and signs in once.",
    access: Access::Public,
    body: Some(Body {
        identifier: false,
        required: &[&ONE_TIME_CODE],
        optional: &[],
    }),
    query: None,
    answer: Answer::SignedIn,
    refusals: &[Refusal::Rejected],
};

/// The refusal the provider itself gave (the person declined, or the provider failed).
const PROVIDER_REFUSED: AuthError = AuthError::BadRequest {
    code: "provider_refused",
    detail: "The provider did not sign you in.",
};

/// The configured provider named `name`, or 404 as for any route that does not exist.
fn provider<'a>(ctx: &'a Context, name: &str) -> Result<&'a Provider, AuthError> {
    ctx.settings
        .social
        .providers
        .get(name)
        .ok_or(AuthError::NotFound)
}

async fn start(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    ProviderName(name): ProviderName,
    Query(mut query): Query,
) -> Result<Response, AuthError> {
    let provider = provider(&ctx, &name)?;
    let next = query.optional_text(&NEXT);
    query.finish()?;
    rate_limit::check_network(&ctx, Subject::SocialStart, &ip).await?;
    let started = flow::start(&ctx, provider, next.as_deref()).await?;
    Ok(http::redirect(&started.location, Some(&started.cookie)))
}

async fn callback(
    State(ctx): State<Arc<Context>>,
    device: Device,
    ProviderName(name): ProviderName,
    headers: HeaderMap,
    Query(mut query): Query,
) -> Result<Response, AuthError> {
    let ip = device.network.as_str();
    let provider = provider(&ctx, &name)?;
    rate_limit::check_network(&ctx, Subject::SocialCallback, ip).await?;
    let state = query.text(&STATE);
    let code = query.optional_text(&CODE);
    let refused = query.optional_text(&ERROR);
    let Some(state) = state else {
        return Err(query.invalid());
    };
    query.finish()?;
    let returned = Returned {
        state,
        code,
        refused,
        name: None,
    };
    sign_in(&ctx, provider, &device, &headers, returned).await
}

/// Apple's `form_post`: the same answer as a POST body, with the name at a first
/// authorization.
async fn form_post_callback(
    State(ctx): State<Arc<Context>>,
    device: Device,
    ProviderName(name): ProviderName,
    headers: HeaderMap,
    mut form: Form,
) -> Result<Response, AuthError> {
    let ip = device.network.as_str();
    let provider = provider(&ctx, &name)?;
    rate_limit::check_network(&ctx, Subject::SocialCallback, ip).await?;
    let state = form.text(&STATE);
    let code = form.optional_text(&CODE);
    let refused = form.optional_text(&ERROR);
    let user = form.optional_text(&FIRST_AUTHORIZATION);
    let Some(state) = state else {
        return Err(form.invalid());
    };
    form.finish()?;
    let returned = Returned {
        state,
        code,
        refused,
        name: user.as_deref().and_then(apple::first_authorization_name),
    };
    sign_in(&ctx, provider, &device, &headers, returned).await
}

/// What the provider sent the browser back with.
struct Returned {
    state: String,
    code: Option<String>,
    refused: Option<String>,
    name: Option<String>,
}

/// The callback's work, however the provider sent the answer: the browser goes to the
/// frontend with a one-time code (or an error code); without a frontend, the tokens.
async fn sign_in(
    ctx: &Context,
    provider: &Provider,
    device: &Device,
    headers: &HeaderMap,
    returned: Returned,
) -> Result<Response, AuthError> {
    let outcome = async {
        let code = match (returned.code, returned.refused) {
            (Some(code), None) => code,
            _ => return Err(PROVIDER_REFUSED),
        };
        let cookie = http::cookie(headers, STATE_COOKIE);
        let finished =
            flow::finish(ctx, provider, &code, &returned.state, cookie.as_deref()).await?;
        let user = flow::account(ctx, provider, &finished.claims, returned.name).await?;
        Ok((user, finished.next))
    }
    .await;
    let frontend = ctx.settings.social.success_redirect.clone();
    match (outcome, frontend) {
        (Ok((user, next)), Some(frontend)) => {
            let code = flow::issue_code(ctx, &user, provider).await?;
            let target = next.unwrap_or(frontend);
            Ok(http::redirect(&with_query(&target, "code", &code), None))
        }
        // No frontend to go to: the callback answers with the tokens itself.
        (Ok((user, _)), None) => Ok(http::ok(
            flow::sign_in(ctx, user, provider, device).await?.body(),
        )),
        // The provider failed us and the dependency failures: answered as they are.
        (Err(error @ (AuthError::Unavailable | AuthError::Throttled { .. })), _) => Err(error),
        (Err(error), Some(frontend)) => {
            let code = error.body()["code"].as_str().unwrap_or("error").to_owned();
            Ok(http::redirect(&with_query(&frontend, "error", &code), None))
        }
        (Err(error), None) => Err(error),
    }
}

/// `url` with `name=value` added to its query.
fn with_query(url: &str, name: &str, value: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{name}={value}")
}

/// An ID token from the app is the app's to get right: 401, not the provider's 502.
const NATIVE_TOKEN_INVALID: AuthError = AuthError::Unauthorized {
    code: "id_token_invalid",
    detail: "The ID token could not be verified.",
};

async fn native(
    State(ctx): State<Arc<Context>>,
    device: Device,
    ProviderName(name): ProviderName,
    mut form: Form,
) -> Result<Response, AuthError> {
    let ip = device.network.as_str();
    let provider = provider(&ctx, &name)?;
    let id_token = form.text(&ID_TOKEN);
    let nonce = form.text(&NONCE);
    let (Some(id_token), Some(nonce)) = (id_token, nonce) else {
        return Err(form.invalid());
    };
    rate_limit::check_network(&ctx, Subject::SocialNative, ip).await?;
    let claims = flow::verify_native(&ctx, provider, id_token.trim(), &nonce)
        .await
        .map_err(|e| {
            if e == ID_TOKEN_INVALID {
                NATIVE_TOKEN_INVALID
            } else {
                e
            }
        })?;
    let user = flow::account(&ctx, provider, &claims, None).await?;
    Ok(http::ok(
        flow::sign_in(&ctx, user, provider, &device).await?.body(),
    ))
}

async fn token(
    State(ctx): State<Arc<Context>>,
    device: Device,
    mut form: Form,
) -> Result<Response, AuthError> {
    let ip = device.network.as_str();
    let Some(code) = form.text(&ONE_TIME_CODE) else {
        return Err(form.invalid());
    };
    rate_limit::check_network(&ctx, Subject::SocialToken, ip).await?;
    Ok(http::ok(
        flow::redeem(&ctx, code.trim(), &device).await?.body(),
    ))
}

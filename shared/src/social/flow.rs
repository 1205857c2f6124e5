//! The redirect dance of an OpenID Connect sign-in, step by step:
//!
//! 1. `start`: a single-use state (a TTL item, also set in an HttpOnly cookie that binds it
//!    to this browser), a PKCE verifier and a nonce; the browser goes to the provider.
//! 2. `finish`: the callback's state must be the cookie's and still unused (consumed by a
//!    conditional delete); the code is exchanged with the verifier; the ID token is verified
//!    (`id_token`).
//! 3. `account`: the provider's identity (provider, subject) finds or makes the account; an
//!    email joins an existing account only where the provider may link by email and says it
//!    is verified.
//! 4. `issue_code` / `redeem`: the browser comes back with a one-time code (60 s, single
//!    use), never tokens, and the frontend trades it for tokens at `social/token/`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_lc_rs::{constant_time, rand};
use oauth2::basic::{
    BasicErrorResponse, BasicErrorResponseType, BasicRevocationErrorResponse,
    BasicTokenIntrospectionResponse, BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::ProviderIdentity;
use super::apple;
use super::id_token::{self, IdClaims};
use super::outbound::{self, PROVIDER_FAILED};
use super::settings::{Provider, ProviderKind};
use crate::encode::hex;
use crate::events::Event;
use crate::identity::identifier::Identifier;
use crate::identity::user::{self, SignInMethod, User, UserChange, UserField};
use crate::session::refresh_family::{self, Account, Device, SignedIn};
use crate::social::{link, record};
use crate::store::{Expression, Item, Step, TransactError, Transaction, Write};
use crate::{AuthError, Context, clock};

/// The cookie that binds a sign-in's state to the browser that began it.
pub const STATE_COOKIE: &str = "blockauth_social_state";

/// Seconds a sign-in may take at the provider.
const STATE_TTL: i64 = 600;

/// Seconds the frontend has to trade its one-time code for tokens.
const CODE_TTL: i64 = 60;

/// A `next` that is not on `SOCIAL_REDIRECT_ALLOWLIST`.
pub const NEXT_NOT_ALLOWED: AuthError = AuthError::BadRequest {
    code: "next_not_allowed",
    detail: "This redirect is not allowed.",
};

/// A callback whose state is missing, unknown, used, expired, or not this browser's.
pub const STATE_INVALID: AuthError = AuthError::BadRequest {
    code: "state_invalid",
    detail: "This sign-in is not valid or has expired. Start again.",
};

/// The provider's email may not join or make an account here (the same answer whether or
/// not an account has that email).
pub const EMAIL_NOT_LINKABLE: AuthError = AuthError::Forbidden {
    code: "email_not_linkable",
    detail: "This provider's email cannot be used to sign in here. Sign in another way.",
};

/// A provider's code it would not exchange: used before, too late, or another sign-in's
/// (PKCE: a code taken from someone else's sign-in does not match this one's verifier).
pub const CODE_REJECTED: AuthError = AuthError::BadRequest {
    code: "code_rejected",
    detail: "The provider refused this sign-in's code. Start again.",
};

/// A one-time code that is unknown, used or expired.
pub const CODE_INVALID: AuthError = AuthError::BadRequest {
    code: "code_invalid",
    detail: "The code is invalid or has expired.",
};

/// 32 random bytes as hex: states, nonces, one-time codes.
fn random() -> Result<String, AuthError> {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes).map_err(|_| AuthError::unavailable("random", &"rand::fill"))?;
    Ok(hex(&bytes))
}

/// Items are found by a keyed hash of their secret, so the table never holds the secret.
fn partition(ctx: &Context, kind: &str, secret: &str) -> String {
    format!("{kind}#{}", ctx.keyed_hash(&format!("{kind}\n{secret}")))
}

/// A provider's endpoints, from its settings or its discovery document.
#[derive(Debug, Clone, Deserialize)]
struct Endpoints {
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// Each issuer's discovered endpoints, once per container.
fn discovered() -> &'static Mutex<HashMap<String, Arc<Endpoints>>> {
    static ENDPOINTS: OnceLock<Mutex<HashMap<String, Arc<Endpoints>>>> = OnceLock::new();
    ENDPOINTS.get_or_init(Default::default)
}

async fn endpoints(provider: &Provider) -> Result<Arc<Endpoints>, AuthError> {
    if provider.kind == ProviderKind::Facebook {
        let or = |url: &Option<String>, default: &str| url.clone().unwrap_or(default.to_owned());
        return Ok(Arc::new(Endpoints {
            authorization_endpoint: or(
                &provider.authorize_url,
                "https://www.facebook.com/v19.0/dialog/oauth",
            ),
            token_endpoint: or(
                &provider.token_url,
                "https://graph.facebook.com/v19.0/oauth/access_token",
            ),
            jwks_uri: String::new(),
        }));
    }
    if let (Some(authorize), Some(token), Some(jwks)) = (
        &provider.authorize_url,
        &provider.token_url,
        &provider.jwks_url,
    ) {
        return Ok(Arc::new(Endpoints {
            authorization_endpoint: authorize.clone(),
            token_endpoint: token.clone(),
            jwks_uri: jwks.clone(),
        }));
    }
    let issuer = provider.issuer.trim_end_matches('/');
    if let Some(found) = discovered()
        .lock()
        .ok()
        .and_then(|d| d.get(issuer).cloned())
    {
        return Ok(found);
    }
    let url = format!("{issuer}/.well-known/openid-configuration");
    let mut found: Endpoints = outbound::get_json(&url).await?;
    // Settings name an endpoint to override what discovery says.
    if let Some(url) = &provider.authorize_url {
        found.authorization_endpoint = url.clone();
    }
    if let Some(url) = &provider.token_url {
        found.token_endpoint = url.clone();
    }
    if let Some(url) = &provider.jwks_url {
        found.jwks_uri = url.clone();
    }
    let found = Arc::new(found);
    if let Ok(mut cache) = discovered().lock() {
        cache.insert(issuer.to_owned(), found.clone());
    }
    Ok(found)
}

/// The ID token beside the access token in the token endpoint's answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdTokenField {
    #[serde(default)]
    id_token: Option<String>,
}

impl oauth2::ExtraTokenFields for IdTokenField {}

type OidcClient = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

fn oauth_client(provider: &Provider, endpoints: &Endpoints) -> Result<OidcClient, AuthError> {
    let misconfigured = |what: &str| {
        tracing::error!(provider = %provider.name, what, "provider URL is not a URL");
        PROVIDER_FAILED
    };
    Ok(
        oauth2::Client::new(ClientId::new(provider.client_id.clone()))
            .set_client_secret(ClientSecret::new(apple::client_secret(provider)?))
            // Apple takes the client secret only in the body; the others take both.
            .set_auth_type(match provider.kind {
                ProviderKind::Apple => AuthType::RequestBody,
                _ => AuthType::BasicAuth,
            })
            .set_auth_uri(
                AuthUrl::new(endpoints.authorization_endpoint.clone())
                    .map_err(|_| misconfigured("authorize"))?,
            )
            .set_token_uri(
                TokenUrl::new(endpoints.token_endpoint.clone())
                    .map_err(|_| misconfigured("token"))?,
            )
            .set_redirect_uri(
                RedirectUrl::new(provider.redirect_uri.clone())
                    .map_err(|_| misconfigured("redirect"))?,
            ),
    )
}

/// Where the browser goes to sign in at the provider, and the cookie it carries back.
pub struct Started {
    pub location: String,
    pub cookie: String,
}

/// Begins a sign-in with `provider`; `next` (where the frontend wants to land) must be on
/// the allow-list.
pub async fn start(
    ctx: &Context,
    provider: &Provider,
    next: Option<&str>,
) -> Result<Started, AuthError> {
    let settings = &ctx.settings.social;
    if let Some(next) = next
        && !settings
            .redirect_allowlist
            .iter()
            .any(|allowed| allowed == next)
    {
        return Err(NEXT_NOT_ALLOWED);
    }
    let endpoints = endpoints(provider).await?;
    let state = random()?;
    let nonce = random()?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let client = oauth_client(provider, &endpoints)?;
    let mut request = client
        .authorize_url(|| CsrfToken::new(state.clone()))
        .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
        .set_pkce_challenge(challenge);
    // Only OpenID Connect has ID tokens to carry a nonce back.
    if provider.kind != ProviderKind::Facebook {
        request = request.add_extra_param("nonce", &nonce);
    }
    if provider.kind == ProviderKind::Apple {
        request = request.add_extra_param("response_mode", "form_post");
    }
    let (location, _) = request.url();
    let mut item = Item::new(&partition(ctx, "SOCIAL_STATE", &state), "SOCIAL_STATE")
        .with("provider", provider.name.as_str())
        .with("verifier", verifier.secret().as_str())
        .with("nonce", nonce.as_str())
        .expiring_at(clock::now() + STATE_TTL);
    if let Some(next) = next {
        item = item.with("next", next);
    }
    ctx.store.put(item).await?;
    // Apple's callback is a cross-site POST, which carries only a SameSite=None cookie
    // (why the state still holds: `apple`).
    let same_site = match provider.kind {
        ProviderKind::Apple => "None",
        _ => "Lax",
    };
    let cookie = format!(
        "{STATE_COOKIE}={state}; Path={}/{}/callback; Max-Age={STATE_TTL}; HttpOnly; Secure; \
         SameSite={same_site}",
        ctx.settings.base_path, provider.name
    );
    Ok(Started {
        location: location.to_string(),
        cookie,
    })
}

/// A finished sign-in at the provider: who it says signed in, and where to go next.
pub struct Finished {
    pub claims: IdClaims,
    pub next: Option<String>,
}

/// The callback: `state` must be the one in this browser's cookie and unused; the code is
/// exchanged with the PKCE verifier, and the ID token verified.
pub async fn finish(
    ctx: &Context,
    provider: &Provider,
    code: &str,
    state: &str,
    cookie: Option<&str>,
) -> Result<Finished, AuthError> {
    let bound = cookie.is_some_and(|cookie| {
        constant_time::verify_slices_are_equal(cookie.as_bytes(), state.as_bytes()).is_ok()
    });
    if !bound {
        return Err(STATE_INVALID);
    }
    let pk = partition(ctx, "SOCIAL_STATE", state);
    let item = ctx
        .store
        .get(&pk, "SOCIAL_STATE")
        .await?
        .filter(|item| item.text("provider").as_deref() == Some(provider.name.as_str()))
        .ok_or(STATE_INVALID)?;
    // Single use: of two callbacks with one state, one deletes it and the other is refused.
    let consumed = ctx
        .store
        .write(Write::delete_if(
            &pk,
            "SOCIAL_STATE",
            Expression::new("attribute_exists(pk)"),
        ))
        .await?;
    let (Some(verifier), Some(nonce), true) = (item.text("verifier"), item.text("nonce"), consumed)
    else {
        return Err(STATE_INVALID);
    };
    let endpoints = endpoints(provider).await?;
    let answer = oauth_client(provider, &endpoints)?
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier))
        .request_async(&outbound::for_oauth2)
        .await
        .map_err(|e| match &e {
            RequestTokenError::ServerResponse(refused)
                if *refused.error() == BasicErrorResponseType::InvalidGrant =>
            {
                CODE_REJECTED
            }
            _ => {
                tracing::warn!(provider = %provider.name, error = %e, "code exchange failed");
                PROVIDER_FAILED
            }
        })?;
    let claims = if provider.kind == ProviderKind::Facebook {
        graph_profile(provider, answer.access_token().secret()).await?
    } else {
        let id_token = answer
            .extra_fields()
            .id_token
            .as_deref()
            .ok_or(PROVIDER_FAILED)?;
        id_token::verify(
            id_token,
            &endpoints.jwks_uri,
            &provider.issuer,
            &[&provider.client_id],
            &nonce,
        )
        .await?
    };
    Ok(Finished {
        claims,
        next: item.text("next"),
    })
}

/// Facebook's person, read from the Graph API with the access token: its `id` is the
/// subject; an email there is one Facebook confirmed.
async fn graph_profile(provider: &Provider, access_token: &str) -> Result<IdClaims, AuthError> {
    #[derive(Deserialize)]
    struct Profile {
        id: String,
        #[serde(default)]
        email: Option<String>,
        #[serde(default)]
        name: Option<String>,
    }
    let url = provider.userinfo_url.as_deref().ok_or(PROVIDER_FAILED)?;
    let request = oauth2::http::Request::get(url)
        .header(oauth2::http::header::ACCEPT, "application/json")
        .header(
            oauth2::http::header::AUTHORIZATION,
            format!("Bearer {access_token}"),
        )
        .body(Vec::new())
        .map_err(|_| PROVIDER_FAILED)?;
    let response = outbound::send(request).await?;
    if !response.status().is_success() {
        return Err(PROVIDER_FAILED);
    }
    let profile: Profile = serde_json::from_slice(response.body()).map_err(|_| PROVIDER_FAILED)?;
    if profile.id.is_empty() {
        return Err(PROVIDER_FAILED);
    }
    Ok(IdClaims {
        email_verified: profile.email.is_some(),
        sub: profile.id,
        email: profile.email,
        name: profile.name,
        exp: 0,
        nonce: None,
    })
}

/// An ID token a mobile app got from the provider's SDK (`{provider}/native/verify/`): checked
/// against the provider's keys with the apps' client ids as audiences and the app's `nonce`,
/// which is then used up (an ID token signs in once).
pub async fn verify_native(
    ctx: &Context,
    provider: &Provider,
    token: &str,
    nonce: &str,
) -> Result<IdClaims, AuthError> {
    if provider.native_client_ids.is_empty() || provider.kind == ProviderKind::Facebook {
        return Err(AuthError::NotFound);
    }
    let endpoints = endpoints(provider).await?;
    let audiences: Vec<&str> = provider
        .native_client_ids
        .iter()
        .map(String::as_str)
        .collect();
    let expected = match provider.kind {
        ProviderKind::Apple => apple::native_nonce(nonce),
        _ => nonce.to_owned(),
    };
    let claims = id_token::verify(
        token,
        &endpoints.jwks_uri,
        &provider.issuer,
        &audiences,
        &expected,
    )
    .await?;
    let key = format!("{}\n{nonce}", provider.name);
    let first_use = ctx
        .store
        .write(Write::put_new(
            Item::new(&partition(ctx, "SOCIAL_NONCE", &key), "SOCIAL_NONCE")
                .expiring_at(claims.exp.max(clock::now() + STATE_TTL)),
        ))
        .await?;
    if !first_use {
        return Err(NONCE_USED);
    }
    Ok(claims)
}

/// An ID token (its nonce) presented a second time.
pub const NONCE_USED: AuthError = AuthError::BadRequest {
    code: "nonce_used",
    detail: "This sign-in was used already. Sign in again in the app.",
};

/// A parallel first sign-in of the same person can claim the identity between our read and
/// our write; the next try finds it. Few tries are needed.
const TRIES: usize = 3;

/// The account of the person the provider vouched for: the one their (provider, subject)
/// belongs to; else, on a first sign-in, the account of their email where the provider may
/// link by email and says the email is verified, or a new account. Identities are keyed by
/// subject, never by email. A new account takes `name` (Apple's first authorization gives
/// it) or the ID token's.
pub async fn account(
    ctx: &Context,
    provider: &Provider,
    claims: &IdClaims,
    name: Option<String>,
) -> Result<User, AuthError> {
    let name = name.or_else(|| claims.name.clone());
    let identity = ProviderIdentity {
        provider: &provider.name,
        subject: &claims.sub,
    };
    let method = SignInMethod::Social(provider.kind.sign_in_name());
    for _ in 0..TRIES {
        if let Some(user) = user::find(ctx, &identity).await? {
            return Ok(user);
        }
        let (user, steps, created) = match &claims.email {
            None => {
                let mut user = User::known_by_sign_in(method);
                user.name = name.clone();
                let steps = user
                    .create(&identity)
                    .step(Step::Claim, record(&identity, &user.id, clock::now()));
                (user, steps, true)
            }
            Some(email) => {
                // Looked up only where it may be used: the answer for an email that may
                // not link is the same whether or not an account has it.
                let linkable = provider.link_by_email && claims.email_verified;
                let email = Identifier::email(email).map_err(|_| EMAIL_NOT_LINKABLE)?;
                if !linkable {
                    return Err(EMAIL_NOT_LINKABLE);
                }
                match user::find(ctx, &email).await? {
                    Some(mut user) => {
                        let change = UserChange {
                            set: vec![UserField::Method(method)],
                            ..Default::default()
                        };
                        let steps = Transaction::new()
                            .steps(Step::Claim, link(&identity, &user.id, clock::now()))
                            .step(Step::UserChange, change.apply(&mut user));
                        (user, steps, false)
                    }
                    None => {
                        let mut user = User::new(&email, None, method);
                        user.name = name.clone();
                        let steps = user
                            .create(&email)
                            .steps(Step::Claim, link(&identity, &user.id, clock::now()));
                        (user, steps, true)
                    }
                }
            }
        };
        match ctx.store.transact(steps).await {
            Ok(()) => {
                let user_id = user.id.as_str();
                if created {
                    let method = method.name();
                    let event = Event::SignupConfirmed { user_id, method };
                    ctx.events.publish(event).await;
                }
                let provider = provider.name.as_str();
                ctx.events
                    .publish(Event::SocialLinked { user_id, provider })
                    .await;
                return Ok(user);
            }
            // Someone claimed the identity or the email meanwhile: read again.
            Err(TransactError::Refused(_)) => continue,
            Err(TransactError::Unavailable) => return Err(AuthError::Unavailable),
        }
    }
    Err(AuthError::unavailable(
        "social sign-in",
        &"the account kept changing",
    ))
}

/// A one-time code (60 s) that `redeem` trades for tokens of `user`'s new session, signed
/// in by `provider`.
pub async fn issue_code(
    ctx: &Context,
    user: &User,
    provider: &Provider,
) -> Result<String, AuthError> {
    let code = random()?;
    let item = Item::new(&partition(ctx, "SOCIAL_CODE", &code), "SOCIAL_CODE")
        .with("user_id", user.id.as_str())
        .with("method", provider.kind.sign_in_name())
        .expiring_at(clock::now() + CODE_TTL);
    ctx.store.put(item).await?;
    Ok(code)
}

/// Trades a one-time code for a new session: the code is consumed in the transaction that
/// starts the session, so it signs in once.
pub async fn redeem(ctx: &Context, code: &str, device: &Device) -> Result<SignedIn, AuthError> {
    let pk = partition(ctx, "SOCIAL_CODE", code);
    let item = ctx
        .store
        .get(&pk, "SOCIAL_CODE")
        .await?
        .ok_or(CODE_INVALID)?;
    let user_id = item.text("user_id").ok_or(CODE_INVALID)?;
    let method = item
        .text("method")
        .and_then(|name| ProviderKind::named(&name))
        .ok_or(CODE_INVALID)?;
    let user = user::get(ctx, &user_id).await?.ok_or(CODE_INVALID)?;
    let steps = Transaction::new().step(
        Step::Code,
        Write::delete_if(&pk, "SOCIAL_CODE", Expression::new("attribute_exists(pk)")),
    );
    session(ctx, user, steps, method, device)
        .await
        .map_err(|refused| refused.unwrap_or(CODE_INVALID))
}

/// Starts a session for `user`, whom `provider` vouched for just now.
pub async fn sign_in(
    ctx: &Context,
    user: User,
    provider: &Provider,
    device: &Device,
) -> Result<SignedIn, AuthError> {
    session(ctx, user, Transaction::new(), provider.kind, device)
        .await
        .map_err(|refused| refused.unwrap_or(user::CHANGED_MEANWHILE))
}

/// A new session for `user` with `steps`; Err(None) when a step was refused.
async fn session(
    ctx: &Context,
    user: User,
    steps: Transaction,
    kind: ProviderKind,
    device: &Device,
) -> Result<SignedIn, Option<AuthError>> {
    let change = UserChange::default();
    let method = SignInMethod::Social(kind.sign_in_name());
    match refresh_family::sign_in(ctx, user, steps, Account::Existing(change), method, device).await
    {
        Ok(signed_in) => Ok(signed_in),
        Err(TransactError::Refused(_)) => Err(None),
        Err(TransactError::Unavailable) => Err(Some(AuthError::Unavailable)),
    }
}

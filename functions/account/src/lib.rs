//! Account self-service (`ACCOUNT`, every route protected): the user (`me/`), its sessions
//! (list, end one, end all others), an export of what is stored about it, deleting it with
//! a fresh sign-in, and a wallet on any account (link with a signed challenge bound to the
//! account, unlink while another way in is left). `blockauth::account`,
//! `session::refresh_family` and `wallet::link` hold each step.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use blockauth::contract::{Access, Answer, Body, Field, Kind, Operation, Refusal, fields};
use blockauth::events::Event;
use blockauth::http::{self, Caller, ClientIp, Form, Routes};
use blockauth::rate_limit::{self, Subject};
use blockauth::session::refresh_family;
use blockauth::wallet::challenge::{self, Purpose};
use blockauth::wallet::{Address, link};
use blockauth::{AuthError, Context, Feature, account};

pub fn routes() -> Routes {
    Routes::new(Feature::Account)
        .get(&ME, me)
        .get(&SESSIONS, sessions)
        .delete(&END_SESSION, end_session)
        .post(&END_OTHERS, end_others)
        .get(&EXPORT, export)
        .delete(&DELETE, delete)
        .post(&LINK_CHALLENGE, link_challenge)
        .post(&LINK, link_wallet)
        .post(&UNLINK, unlink_wallet)
}

const ME: Operation = Operation {
    path: "me",
    summary: "The signed-in user",
    description: "The caller's user, as sign-ins answer it.",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::User,
    refusals: &[],
};

const SESSIONS_FIELD: Field = Field {
    name: "sessions",
    aliases: &[],
    kind: Kind::Objects,
    description: "The account's live sessions, the most recently used first: `sid`, `current` (the caller's), \
                  `created_at`, `last_used_at` (its last refresh), `method` (how it signed \
                  in; null for a session that continued another after a password change or \
                  an email added), `ip` (the client's address at sign-in; IPv6 as its /64) \
                  and `user_agent`.",
};

const SESSIONS: Operation = Operation {
    path: "sessions",
    summary: "The account's sessions",
    description: "Every live login session (refresh family) of the caller's account.",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::Object {
        name: "Sessions",
        fields: &[&SESSIONS_FIELD],
    },
    refusals: &[],
};

const END_SESSION: Operation = Operation {
    path: "sessions/{sid}",
    summary: "End one of the account's sessions",
    description: "Its tokens stop working at once. 404 for a session that is not the \
                  caller's (or has ended).",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::NoContent,
    refusals: &[Refusal::NotFound],
};

const END_OTHERS: Operation = Operation {
    path: "sessions/revoke-all",
    summary: "End every session but the caller's",
    description: "Every other session's tokens stop working at once; the caller's go on.",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::NoContent,
    refusals: &[Refusal::Conflict],
};

const EXPORT: Operation = Operation {
    path: "me/export",
    summary: "Everything stored about the caller",
    description: "The user, its sessions, passkeys and social links, and how many client \
                  networks it is known to sign in from (stored only as keyed hashes). No \
                  secret or hash.",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::Object {
        name: "AccountExport",
        fields: &[
            &Field {
                name: "user",
                aliases: &[],
                kind: Kind::Object,
                description: "The user, as `me/` answers it.",
            },
            &SESSIONS_FIELD,
            &Field {
                name: "passkeys",
                aliases: &[],
                kind: Kind::Objects,
                description: "`id`, `name`, `created_at`, `last_used_at`, `transports`.",
            },
            &Field {
                name: "social_links",
                aliases: &[],
                kind: Kind::Objects,
                description: "`provider`, `subject` (the provider's id of the person), \
                              `created_at`.",
            },
            &Field {
                name: "familiar_networks",
                aliases: &[],
                kind: Kind::Integer,
                description: "Client networks the account signed in from in the last 90 days.",
            },
            &Field {
                name: "exported_at",
                aliases: &[],
                kind: Kind::Time,
                description: "When this export was made.",
            },
        ],
    },
    refusals: &[],
};

const DELETE: Operation = Operation {
    path: "me",
    summary: "Delete the account",
    description: "Removes the account and everything tied to it (identifiers, wallet, \
                  sessions, passkeys, social links) and mails a notice; its identifiers may \
                  sign up again as a new account, and no token of it works any more. Needs \
                  an access token issued in the last 5 minutes: 403 \
                  `reauthentication_required` otherwise. 409 `conflict` when the account \
                  changed meanwhile.",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::NoContent,
    refusals: &[Refusal::Forbidden, Refusal::Conflict],
};

const LINK_CHALLENGE: Operation = Operation {
    path: "wallet/link/challenge",
    summary: "A message for the wallet to sign, to link it to this account",
    description: "An EIP-4361 message whose single-use nonce is bound to the caller's \
                  account: it links to no other account and signs nobody in.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&fields::ADDRESS],
        optional: &[&fields::CHAIN_ID],
    }),
    query: None,
    answer: fields::WALLET_CHALLENGE,
    refusals: &[Refusal::Rejected, Refusal::Conflict],
};

const LINK: Operation = Operation {
    path: "wallet/link",
    summary: "Link the wallet that signed the challenge",
    description: "The SIWE checks of wallet sign-in, the nonce bound to the caller and \
                  redeemed once. 409 `wallet_exists` for an account with a wallet, \
                  `wallet_taken` for an address of another account.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&fields::SIWE_MESSAGE, &fields::SIGNATURE],
        optional: &[],
    }),
    query: None,
    answer: Answer::MessageAndUser,
    refusals: &[Refusal::Rejected, Refusal::Unauthorized, Refusal::Conflict],
};

const UNLINK: Operation = Operation {
    path: "wallet/unlink",
    summary: "Unlink the account's wallet",
    description: "404 for an address that is not the caller's wallet; 409 `last_way_in` \
                  when the wallet is the account's only way to sign in.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&fields::ADDRESS],
        optional: &[],
    }),
    query: None,
    answer: Answer::MessageAndUser,
    refusals: &[Refusal::NotFound, Refusal::Conflict],
};

async fn me(Caller { user, .. }: Caller) -> Result<Response, AuthError> {
    Ok(http::ok(user.view()))
}

async fn sessions(
    State(ctx): State<Arc<Context>>,
    Caller { user, claims }: Caller,
) -> Result<Response, AuthError> {
    let sessions = refresh_family::list(&ctx, &user, &claims.sid).await?;
    Ok(http::ok(serde_json::json!({ "sessions": sessions })))
}

async fn end_session(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    sid: Result<Path<String>, PathRejection>,
) -> Result<Response, AuthError> {
    let Ok(Path(sid)) = sid else {
        return Err(AuthError::NotFound);
    };
    rate_limit::check(&ctx, Subject::SessionEnd, &user.id, &ip).await?;
    // Only under the caller's own partition: another account's session is not found.
    if !refresh_family::end(&ctx, &user, &sid).await? {
        return Err(AuthError::NotFound);
    }
    let (user_id, sid) = (user.id.as_str(), sid.as_str());
    ctx.events.publish(Event::Logout { user_id, sid }).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn end_others(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, claims }: Caller,
) -> Result<Response, AuthError> {
    rate_limit::check(&ctx, Subject::SessionsEndOthers, &user.id, &ip).await?;
    let user_id = user.id.clone();
    refresh_family::end_others(&ctx, user, &claims.sid).await?;
    let (user_id, sid) = (user_id.as_str(), claims.sid.as_str());
    ctx.events
        .publish(Event::SessionsEnded { user_id, sid })
        .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn export(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, claims }: Caller,
) -> Result<Response, AuthError> {
    rate_limit::check(&ctx, Subject::AccountExport, &user.id, &ip).await?;
    Ok(http::ok(account::export(&ctx, &user, &claims.sid).await?))
}

async fn delete(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, claims }: Caller,
) -> Result<Response, AuthError> {
    rate_limit::check(&ctx, Subject::AccountDelete, &user.id, &ip).await?;
    account::delete(&ctx, user, &claims).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn link_challenge(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let address = form.parsed(&fields::ADDRESS, Address::parse);
    let chain_id = form.optional_integer(&fields::CHAIN_ID);
    let Some(address) = address else {
        return Err(form.invalid());
    };
    form.finish()?;
    let chain_id = ctx.settings.wallet.chain_id(chain_id)?;
    rate_limit::check(&ctx, Subject::WalletLinkChallenge, &user.id, &ip).await?;
    if user.wallet_address.is_some() {
        return Err(link::WALLET_EXISTS);
    }
    let purpose = Purpose::Link(&user.id);
    let message = challenge::issue(&ctx, &address, chain_id, purpose).await?;
    Ok(http::ok(challenge::answer(&message)))
}

async fn link_wallet(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let text = form.text(&fields::SIWE_MESSAGE);
    let signature = form.text(&fields::SIGNATURE);
    let (Some(text), Some(signature)) = (text, signature) else {
        return Err(form.invalid());
    };
    form.finish()?;
    let (message, signer) = challenge::read(&text, &signature)?;
    rate_limit::check(&ctx, Subject::WalletLink, &user.id, &ip).await?;
    let consume = challenge::accept(&ctx, &message, signer, Purpose::Link(&user.id)).await?;
    let user = link::link(&ctx, user, message.address, consume).await?;
    Ok(http::ok(serde_json::json!({
        "message": "The wallet is linked to your account.",
        "user": user.view(),
    })))
}

async fn unlink_wallet(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let address = form.parsed(&fields::ADDRESS, Address::parse);
    let Some(address) = address else {
        return Err(form.invalid());
    };
    form.finish()?;
    rate_limit::check(&ctx, Subject::WalletUnlink, &user.id, &ip).await?;
    let user = link::unlink(&ctx, user, address).await?;
    Ok(http::ok(serde_json::json!({
        "message": "The wallet is unlinked from your account.",
        "user": user.view(),
    })))
}

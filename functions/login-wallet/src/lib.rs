//! Sign-In with Ethereum (`WALLET_LOGIN`): `login/wallet/challenge/` and `login/wallet/`.
//!
//! The challenge is a complete EIP-4361 message for `WALLET_DOMAIN` with a single-use
//! nonce. A login checks the signed message's grammar, domain, URI, chain and times,
//! recovers the EIP-191 signer, and redeems the nonce in the same transaction that signs
//! the account in (creating it for a new address when `WALLET_LOGIN_AUTO_CREATE`).

use blockauth::identity::user::CHANGED_MEANWHILE;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::Feature;
use blockauth::contract::{Access, Answer, Body, Field, Kind, Operation, Refusal, fields};
use blockauth::http::{self, ClientIp, Form, Routes};
use blockauth::identity::user::{self, SignInMethod, User, UserChange, UserField};
use blockauth::rate_limit::Subject;
use blockauth::session::refresh_family::{Account, Device};
use blockauth::store::{Step, TransactError, Transaction};
use blockauth::wallet::Address;
use blockauth::wallet::challenge::{self, NONCE_INVALID, Purpose};
use blockauth::{AuthError, Context, rate_limit, session::refresh_family};

pub fn routes() -> Routes {
    Routes::new(Feature::WalletLogin)
        .post(&CHALLENGE, challenge)
        .post(&LOGIN, login)
}

const WALLET_ADDRESS: Field = Field {
    name: "wallet_address",
    aliases: &[],
    kind: Kind::Text,
    description: "The address that signed; it must be the message's.",
};

const CHALLENGE: Operation = Operation {
    path: "login/wallet/challenge",
    summary: "An EIP-4361 (Sign-In with Ethereum) message to sign, with a single-use nonce",
    description: "400 for a chain id that is not accepted here.",
    access: Access::Public,
    body: Some(Body {
        identifier: false,
        required: &[&fields::ADDRESS],
        optional: &[&fields::CHAIN_ID],
    }),
    query: None,
    answer: fields::WALLET_CHALLENGE,
    refusals: &[Refusal::Rejected],
};

const LOGIN: Operation = Operation {
    path: "login/wallet",
    summary: "Sign in with a signed EIP-4361 message",
    description: "Checks the message's grammar, domain, URI, version, chain, times and nonce \
                  (redeemed once), and that the EIP-191 signer is the message's address. \
                  A new address gets an account when `WALLET_LOGIN_AUTO_CREATE` is on.",
    access: Access::Public,
    body: Some(Body {
        identifier: false,
        required: &[&fields::SIWE_MESSAGE, &fields::SIGNATURE],
        optional: &[&WALLET_ADDRESS],
    }),
    query: None,
    answer: Answer::SignedIn,
    refusals: &[Refusal::Rejected, Refusal::Unauthorized, Refusal::Conflict],
};

const NO_ACCOUNT: AuthError = AuthError::Unauthorized {
    code: "no_account",
    detail: "No account uses this wallet.",
};

async fn challenge(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let address = form.parsed(&fields::ADDRESS, Address::parse);
    let chain_id = form.optional_integer(&fields::CHAIN_ID);
    let Some(address) = address else {
        return Err(form.invalid());
    };
    form.finish()?;
    let chain_id = ctx.settings.wallet.chain_id(chain_id)?;
    rate_limit::check(&ctx, Subject::WalletChallenge, &address.lowercase(), &ip).await?;
    let message = challenge::issue(&ctx, &address, chain_id, Purpose::SignIn).await?;
    Ok(http::ok(challenge::answer(&message)))
}

async fn login(
    State(ctx): State<Arc<Context>>,
    device: Device,
    mut form: Form,
) -> Result<Response, AuthError> {
    let ip = device.network.as_str();
    let text = form.text(&fields::SIWE_MESSAGE);
    let signature = form.text(&fields::SIGNATURE);
    let claimed = form.optional_text(&WALLET_ADDRESS);
    let (Some(text), Some(signature)) = (text, signature) else {
        return Err(form.invalid());
    };
    form.finish()?;
    let (message, signer) = challenge::read(&text, &signature)?;
    if let Some(claimed) = claimed {
        match Address::parse(claimed.trim()) {
            Ok(address) if address == message.address => {}
            Ok(_) => {
                return Err(AuthError::field(
                    "wallet_address",
                    "This is not the address in the message.",
                ));
            }
            Err(problem) => return Err(AuthError::field("wallet_address", problem)),
        }
    }
    rate_limit::check(&ctx, Subject::WalletLogin, &message.address.lowercase(), ip).await?;
    let consume = challenge::accept(&ctx, &message, signer, Purpose::SignIn).await?;
    let address = message.address;
    let signed_in = match user::find(&ctx, &address).await? {
        Some(user) => {
            let change = UserChange {
                set: vec![UserField::Method(SignInMethod::Wallet)],
                ..UserChange::default()
            };
            let steps = Transaction::new().step(Step::Nonce, consume);
            let method = SignInMethod::Wallet;
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
        None if ctx.settings.wallet.login_auto_create => {
            let user = User::with_wallet(&address);
            let steps = Transaction::new()
                .step(Step::Nonce, consume)
                .and(user.create(&address));
            let method = SignInMethod::Wallet;
            refresh_family::sign_in(&ctx, user, steps, Account::New, method, &device).await
        }
        None => return Err(NO_ACCOUNT),
    };
    match signed_in {
        Ok(signed_in) => Ok(http::ok(signed_in.body())),
        Err(TransactError::Refused(refused)) if refused.by(Step::Nonce) => Err(NONCE_INVALID),
        Err(TransactError::Refused(_)) => Err(CHANGED_MEANWHILE),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

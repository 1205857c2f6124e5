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
use blockauth::contract::{Access, Answer, Body, Field, Kind, Operation, Refusal};
use blockauth::http::{self, ClientIp, Form, Routes};
use blockauth::identity::user::{self, SignInMethod, User, UserChange, UserField};
use blockauth::rate_limit::Subject;
use blockauth::session::refresh_family::{Account, Device};
use blockauth::store::{Step, TransactError, Transaction};
use blockauth::wallet::Address;
use blockauth::wallet::challenge::{self, NONCE_INVALID, Purpose};
use blockauth::wallet::siwe;
use blockauth::{AuthError, Context, rate_limit, session::refresh_family};

pub fn routes() -> Routes {
    Routes::new(Feature::WalletLogin)
        .post(&CHALLENGE, challenge)
        .post(&LOGIN, login)
}

const ADDRESS: Field = Field {
    name: "address",
    aliases: &[],
    kind: Kind::Address,
    description: "The wallet's address: `0x` and 40 hex digits, mixed case only as EIP-55.",
};

const CHAIN_ID: Field = Field {
    name: "chain_id",
    aliases: &[],
    kind: Kind::Integer,
    description: "An EIP-155 chain id from `WALLET_CHAIN_IDS`; the first one by default.",
};

const MESSAGE: Field = Field {
    name: "message",
    aliases: &[],
    kind: Kind::Text,
    description: "The EIP-4361 message, exactly as the challenge gave it.",
};

const SIGNATURE: Field = Field {
    name: "signature",
    aliases: &[],
    kind: Kind::Text,
    description: "The wallet's EIP-191 signature of the message: `0x` and 130 hex digits.",
};

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
        required: &[&ADDRESS],
        optional: &[&CHAIN_ID],
    }),
    query: None,
    answer: Answer::Object {
        name: "WalletChallenge",
        fields: &[
            &Field {
                name: "message",
                aliases: &[],
                kind: Kind::Text,
                description: "The complete EIP-4361 message for the wallet to sign.",
            },
            &Field {
                name: "nonce",
                aliases: &[],
                kind: Kind::Text,
                description: "The message's nonce: single use.",
            },
            &Field {
                name: "issued_at",
                aliases: &[],
                kind: Kind::Time,
                description: "When the message was issued.",
            },
            &Field {
                name: "expires_at",
                aliases: &[],
                kind: Kind::NullableTime,
                description: "When the nonce expires (`WALLET_NONCE_TTL`).",
            },
        ],
    },
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
        required: &[&MESSAGE, &SIGNATURE],
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
    let address = form.parsed(&ADDRESS, Address::parse);
    let chain_id = form.optional_integer(&CHAIN_ID);
    let Some(address) = address else {
        return Err(form.invalid());
    };
    form.finish()?;
    let chain_id = ctx.settings.wallet.chain_id(chain_id)?;
    rate_limit::check(&ctx, Subject::WalletChallenge, &address.lowercase(), &ip).await?;
    let message = challenge::issue(&ctx, &address, chain_id, Purpose::SignIn).await?;
    Ok(http::ok(serde_json::json!({
        "message": message.to_string(),
        "nonce": message.nonce,
        "issued_at": siwe::rfc3339(message.issued_at),
        "expires_at": message.expiration_time.map(siwe::rfc3339),
    })))
}

async fn login(
    State(ctx): State<Arc<Context>>,
    device: Device,
    mut form: Form,
) -> Result<Response, AuthError> {
    let ip = device.network.as_str();
    let text = form.text(&MESSAGE);
    let signature = form.text(&SIGNATURE);
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

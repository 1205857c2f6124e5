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
use blockauth::http::{self, ClientIp, Form, Routes};
use blockauth::identity::user::{self, SignInMethod, User, UserChange, UserField};
use blockauth::rate_limit::Subject;
use blockauth::session::refresh_family::Account;
use blockauth::store::{Step, TransactError, Transaction};
use blockauth::wallet::challenge::{self, NONCE_INVALID, SIGNATURE_INVALID};
use blockauth::wallet::siwe::{self, SiweMessage};
use blockauth::wallet::{self, Address};
use blockauth::{AuthError, Context, clock, rate_limit, session::refresh_family};

pub fn routes() -> Routes {
    Routes::default()
        .post("login/wallet/challenge", challenge)
        .post("login/wallet", login)
}

const NO_ACCOUNT: AuthError = AuthError::Unauthorized {
    code: "no_account",
    detail: "No account uses this wallet.",
};

async fn challenge(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let address = form.parsed("address", Address::parse);
    let chain_id = form.optional_integer("chain_id");
    let Some(address) = address else {
        return Err(form.invalid());
    };
    form.finish()?;
    let accepted = &ctx.settings.wallet.chain_ids;
    let chain_id = chain_id.or(accepted.first().copied()).unwrap_or(1);
    if !accepted.contains(&chain_id) {
        return Err(AuthError::field(
            "chain_id",
            &format!("Chain ID {chain_id} is not accepted here."),
        ));
    }
    rate_limit::check(&ctx, Subject::WalletChallenge, &address.lowercase(), &ip).await?;
    let message = challenge::issue(&ctx, &address, chain_id).await?;
    Ok(http::ok(serde_json::json!({
        "message": message.to_string(),
        "nonce": message.nonce,
        "issued_at": siwe::rfc3339(message.issued_at),
        "expires_at": message.expiration_time.map(siwe::rfc3339),
    })))
}

async fn login(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let text = form.text(&["message"]);
    let signature = form.text(&["signature"]);
    let claimed = form.optional_text(&["wallet_address"]);
    let (Some(text), Some(signature)) = (text, signature) else {
        return Err(form.invalid());
    };
    form.finish()?;
    let message =
        SiweMessage::parse(&text).map_err(|e| AuthError::field("message", &e.to_string()))?;
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
    let signer = wallet::recover_signer(text.as_bytes(), signature.trim())
        .map_err(|e| AuthError::field("signature", e.message()))?;
    rate_limit::check(
        &ctx,
        Subject::WalletLogin,
        &message.address.lowercase(),
        &ip,
    )
    .await?;
    challenge::check(&ctx.settings, &message, clock::now())?;
    if signer != message.address {
        return Err(SIGNATURE_INVALID);
    }
    let consume = challenge::redeem(&ctx, &message).await?;
    let address = message.address;
    let signed_in = match user::find(&ctx, &address).await? {
        Some(user) => {
            let change = UserChange {
                set: vec![UserField::Method(SignInMethod::Wallet)],
                ..UserChange::default()
            };
            let steps = Transaction::new().step(Step::Nonce, consume);
            refresh_family::sign_in(&ctx, user, steps, Account::Existing(change), &ip).await
        }
        None if ctx.settings.wallet.login_auto_create => {
            let user = User::with_wallet(&address);
            let steps = Transaction::new()
                .step(Step::Nonce, consume)
                .and(user.create(&address));
            refresh_family::sign_in(&ctx, user, steps, Account::New, &ip).await
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

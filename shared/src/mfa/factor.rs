//! The second factor's flows: set up (a secret sealed under `TOTP_KEY_SECRET`'s key, shown
//! once as an `otpauth://` URI and a QR code), turned on by a first valid code (with ten
//! backup codes, stored as keyed hashes), checked to complete a sign-in or to make a
//! step-up receipt, turned off or given new backup codes with a current code.
//!
//! Items in the account's partition: `TOTP` (the sealed secret, `enabled`, the `last_step`
//! used: a code works once) and `BACKUP#<keyed hash>` per unused backup code. Each use of a
//! code is a conditional write in the transaction that acts on it, so of parallel requests
//! with one code exactly one succeeds.

use serde_json::{Value, json};

use crate::context::Context;
use crate::error::AuthError;
use crate::events::Event;
use crate::identity::user::{self, CHANGED_MEANWHILE, User, UserChange, UserField};
use crate::mail::messages;
use crate::mfa::totp;
use crate::rate_limit::LoginAttempt;
use crate::session::refresh_family::{
    self, Account, Claimed, SignedIn, second_factor::MFA_TOKEN_INVALID,
};
use crate::session::token::Claims;
use crate::store::{Expression, Item, Step, Store, TransactError, Transaction, Write, table};
use crate::{clock, sealed};

const FACTOR: &str = "TOTP";
const BACKUP_PREFIX: &str = "BACKUP#";
const BACKUP_CODES: usize = 10;

pub const CODE_INVALID: AuthError = AuthError::BadRequest {
    code: "mfa_code_invalid",
    detail: "The code is wrong or was used already. Enter the current code from your \
             authenticator app, or a backup code.",
};

pub const NOT_SET_UP: AuthError = AuthError::BadRequest {
    code: "mfa_not_set_up",
    detail: "Set up the authenticator first (totp/setup/).",
};

pub const ALREADY_ON: AuthError = AuthError::Conflict {
    code: "mfa_enabled",
    detail: "Two-step sign-in is on already.",
};

pub const NOT_ON: AuthError = AuthError::Conflict {
    code: "mfa_not_enabled",
    detail: "Two-step sign-in is not on for this account.",
};

/// The account's TOTP factor, as stored.
struct Factor {
    secret: Vec<u8>,
    enabled: bool,
    last_step: i64,
}

/// How a code was proved: a TOTP step (later than the last one used), or a backup code
/// (its item's sort key).
enum Proof {
    Step(i64),
    Backup(String),
}

fn key_material(ctx: &Context) -> Result<&[u8], AuthError> {
    ctx.factor_key
        .as_deref()
        .ok_or_else(|| AuthError::unavailable("mfa", &"no TOTP key (TOTP_KEY_SECRET)"))
}

async fn factor(ctx: &Context, user: &User) -> Result<Option<Factor>, AuthError> {
    let item = ctx.store.get(&user::partition(&user.id), FACTOR).await?;
    factor_of(ctx, &user.id, item)
}

/// The factor stored as `item` (of `user_id`'s partition), its secret opened.
fn factor_of(
    ctx: &Context,
    user_id: &str,
    item: Option<Item>,
) -> Result<Option<Factor>, AuthError> {
    let Some(item) = item else { return Ok(None) };
    let secret = item
        .text("secret")
        .and_then(|text| sealed::open(key_material(ctx).ok()?, user_id.as_bytes(), &text))
        .ok_or_else(|| AuthError::unavailable("mfa", &"a TOTP secret that does not open"))?;
    Ok(Some(Factor {
        secret,
        enabled: item.flag("enabled"),
        last_step: item.number("last_step").unwrap_or(0),
    }))
}

fn backup_key(ctx: &Context, user_id: &str, code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!(
        "{BACKUP_PREFIX}{}",
        ctx.keyed_hash(&format!("backup\n{user_id}\n{normal}"))
    )
}

/// Ten backup codes (`xxxxx-xxxxx`, from an alphabet without look-alikes), and the writes
/// that store their keyed hashes.
fn backup_codes(ctx: &Context, user_id: &str) -> Result<(Vec<String>, Vec<Write>), AuthError> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut codes = Vec::with_capacity(BACKUP_CODES);
    let mut writes = Vec::with_capacity(BACKUP_CODES);
    while codes.len() < BACKUP_CODES {
        let mut bytes = [0u8; 64];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| AuthError::unavailable("random", &""))?;
        // Only bytes below 248 = 8 * 31, so that every character is equally likely.
        let chars: Vec<char> = bytes
            .iter()
            .filter(|b| **b < 248)
            .map(|b| char::from(ALPHABET[usize::from(b % 31)]))
            .take(10)
            .collect();
        if chars.len() < 10 {
            continue;
        }
        let code = format!(
            "{}-{}",
            chars[..5].iter().collect::<String>(),
            chars[5..].iter().collect::<String>()
        );
        let item = Item::new(&user::partition(user_id), &backup_key(ctx, user_id, &code))
            .with("created_at", clock::now());
        writes.push(Write::put(item));
        codes.push(code);
    }
    Ok((codes, writes))
}

/// Which code `code` is: a TOTP code of `factor` in the window and unused, or (where
/// `backup` allows) one of the account's unused backup codes.
async fn prove(
    ctx: &Context,
    user: &User,
    factor: &Factor,
    code: &str,
    backup: bool,
) -> Result<Option<Proof>, AuthError> {
    if totp::looks_like_code(code) {
        let step = totp::matching_step(&factor.secret, code, clock::now(), factor.last_step);
        return Ok(step.map(Proof::Step));
    }
    if !backup {
        return Ok(None);
    }
    let sk = backup_key(ctx, &user.id, code);
    let found = ctx.store.get(&user::partition(&user.id), &sk).await?;
    Ok(found.map(|_| Proof::Backup(sk)))
}

impl Proof {
    /// The write that uses the code up (a TOTP step moves `last_step` forward only).
    fn used(&self, user_id: &str) -> Write {
        let pk = user::partition(user_id);
        match self {
            Proof::Step(step) => Write::update_if(
                &pk,
                FACTOR,
                Expression::new("SET last_step = :step").value(":step", *step),
                Expression::new("enabled = :on AND last_step < :step")
                    .value(":on", true)
                    .value(":step", *step),
            ),
            Proof::Backup(sk) => Write::delete_if(&pk, sk, Expression::new("attribute_exists(pk)")),
        }
    }
}

/// A new secret for `user`'s authenticator app: `{secret, otpauth_uri, qr_svg}`. It is not
/// required at sign-in until `confirm` sees a first valid code.
pub async fn set_up(ctx: &Context, user: &User) -> Result<Value, AuthError> {
    if user.mfa_enabled {
        return Err(ALREADY_ON);
    }
    let secret = totp::generate_secret()?;
    let sealed = sealed::seal(key_material(ctx)?, user.id.as_bytes(), &secret)
        .ok_or_else(|| AuthError::unavailable("mfa", &"sealing"))?;
    let item = Item::new(&user::partition(&user.id), FACTOR)
        .with("secret", sealed)
        .with("enabled", false)
        .with("last_step", 0i64)
        .with("created_at", clock::now());
    // A set-up not yet confirmed may be replaced; a factor that is on may not.
    let not_on = Expression::new("attribute_not_exists(pk) OR enabled = :off").value(":off", false);
    if !ctx.store.write(Write::put_if(item, not_on)).await? {
        return Err(ALREADY_ON);
    }
    let issuer = match ctx.settings.mfa.issuer.as_str() {
        "" => ctx.settings.product_name.as_str(),
        issuer => issuer,
    };
    let uri = totp::uri(issuer, user.known_as(), &secret);
    Ok(json!({
        "secret": totp::base32(&secret),
        "otpauth_uri": uri,
        "qr_svg": qr_svg(&uri)?,
    }))
}

/// The URI as an SVG QR code (medium error correction, as authenticator apps scan it).
fn qr_svg(uri: &str) -> Result<String, AuthError> {
    let code = qrcode::QrCode::with_error_correction_level(uri.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AuthError::unavailable("qr code", &e))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build())
}

/// Turns the second factor on with a first valid `code`: answers the ten backup codes (shown
/// this once). Every other session of the account ends; the caller's (`claims`) goes on.
pub async fn confirm(
    ctx: &Context,
    mut user: User,
    claims: &Claims,
    code: &str,
) -> Result<Value, AuthError> {
    if user.mfa_enabled {
        return Err(ALREADY_ON);
    }
    let factor = factor(ctx, &user).await?.ok_or(NOT_SET_UP)?;
    let step = totp::matching_step(&factor.secret, code, clock::now(), factor.last_step)
        .ok_or(CODE_INVALID)?;
    let (codes, backups) = backup_codes(ctx, &user.id)?;
    let epoch = user.session_epoch;
    let change = UserChange {
        set: vec![UserField::Mfa(true)],
        end_sessions: true,
        ..UserChange::default()
    };
    let pk = user::partition(&user.id);
    let turn_on = Write::update_if(
        &pk,
        FACTOR,
        Expression::new("SET enabled = :on, last_step = :step")
            .value(":on", true)
            .value(":step", step),
        Expression::new("enabled = :off AND last_step < :step")
            .value(":off", false)
            .value(":step", step),
    );
    let mut steps = Transaction::new()
        .step(Step::Factor, turn_on)
        .step(Step::UserChange, change.apply(&mut user));
    steps.push(
        Step::Family,
        refresh_family::keep_session(&user, &claims.sid, epoch),
    );
    let steps = steps.steps(Step::Factor, backups);
    match ctx.store.transact(steps).await {
        Ok(()) => {}
        Err(TransactError::Refused(refused)) if refused.by(Step::Factor) => {
            return Err(CODE_INVALID);
        }
        Err(TransactError::Refused(_)) => return Err(CHANGED_MEANWHILE),
        Err(TransactError::Unavailable) => return Err(AuthError::Unavailable),
    }
    ctx.events
        .publish(Event::MfaEnabled { user_id: &user.id })
        .await;
    notify(ctx, &user, messages::MfaChange::Enabled).await?;
    Ok(json!({ "backup_codes": codes }))
}

/// `{enabled, backup_codes_left}`.
pub async fn status(ctx: &Context, user: &User) -> Result<Value, AuthError> {
    let left = if user.mfa_enabled {
        ctx.store
            .query_prefix(&user::partition(&user.id), BACKUP_PREFIX)
            .await?
            .len()
    } else {
        0
    };
    Ok(json!({ "enabled": user.mfa_enabled, "backup_codes_left": left }))
}

/// The account's factor, for a change that needs a current code; 409 when it is not on.
async fn enabled_factor(ctx: &Context, user: &User) -> Result<Factor, AuthError> {
    match factor(ctx, user).await? {
        Some(factor) if factor.enabled && user.mfa_enabled => Ok(factor),
        _ => Err(NOT_ON),
    }
}

/// Turns the second factor off with a current `code` (or a backup code): the secret and
/// the backup codes are removed, and a notice is sent.
pub async fn disable(ctx: &Context, mut user: User, code: &str) -> Result<(), AuthError> {
    let factor = enabled_factor(ctx, &user).await?;
    let proof = prove(ctx, &user, &factor, code, true)
        .await?
        .ok_or(CODE_INVALID)?;
    let pk = user::partition(&user.id);
    let backups = ctx.store.query_prefix(&pk, BACKUP_PREFIX).await?;
    let mut steps = Transaction::new();
    match &proof {
        // The secret goes in the same write that uses the step.
        Proof::Step(step) => steps.push(
            Step::Factor,
            Write::delete_if(
                &pk,
                FACTOR,
                Expression::new("last_step < :step").value(":step", *step),
            ),
        ),
        Proof::Backup(_) => {
            steps.push(Step::Factor, proof.used(&user.id));
            steps.push(Step::Factor, Write::delete(&pk, FACTOR));
        }
    }
    let used = match &proof {
        Proof::Backup(sk) => Some(sk.as_str()),
        Proof::Step(_) => None,
    };
    for backup in &backups {
        if let Some(sk) = backup
            .text(table::SORT_KEY)
            .filter(|sk| Some(sk.as_str()) != used)
        {
            steps.push(Step::Factor, Write::delete(&pk, &sk));
        }
    }
    let change = UserChange {
        set: vec![UserField::Mfa(false)],
        ..UserChange::default()
    };
    steps.push(Step::UserChange, change.apply(&mut user));
    transact_with_code(ctx, steps).await?;
    ctx.events
        .publish(Event::MfaDisabled { user_id: &user.id })
        .await;
    notify(ctx, &user, messages::MfaChange::Disabled).await
}

/// New backup codes for a current TOTP `code`; the old ones stop working.
pub async fn regenerate(ctx: &Context, user: User, code: &str) -> Result<Value, AuthError> {
    let factor = enabled_factor(ctx, &user).await?;
    let proof = prove(ctx, &user, &factor, code, false)
        .await?
        .ok_or(CODE_INVALID)?;
    let pk = user::partition(&user.id);
    let old = ctx.store.query_prefix(&pk, BACKUP_PREFIX).await?;
    let (codes, backups) = backup_codes(ctx, &user.id)?;
    let mut steps = Transaction::new().step(Step::Factor, proof.used(&user.id));
    for item in &old {
        if let Some(sk) = item.text(table::SORT_KEY) {
            steps.push(Step::Factor, Write::delete(&pk, &sk));
        }
    }
    let steps = steps.steps(Step::Factor, backups);
    transact_with_code(ctx, steps).await?;
    notify(ctx, &user, messages::MfaChange::NewBackupCodes).await?;
    Ok(json!({ "backup_codes": codes }))
}

/// Runs a transaction that uses a code: refused, the code was used meanwhile.
async fn transact_with_code(ctx: &Context, steps: Transaction) -> Result<(), AuthError> {
    match ctx.store.transact(steps).await {
        Ok(()) => Ok(()),
        Err(TransactError::Refused(refused)) if refused.by(Step::Factor) => Err(CODE_INVALID),
        Err(TransactError::Refused(_)) => Err(CHANGED_MEANWHILE),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

async fn notify(ctx: &Context, user: &User, change: messages::MfaChange) -> Result<(), AuthError> {
    match user.contact() {
        Some(to) => {
            ctx.mailer
                .send(&to, &messages::mfa_changed(&ctx.settings, change))
                .await
        }
        None => Ok(()),
    }
}

/// A wrong code tried on `user`'s factor is a failed sign-in try: the account's cap on them
/// (`LOGIN_FAILURE_*`, under `mfa:<user id>`) holds for codes too, so a stranger with the
/// first factor gets no more guesses than the sign-in form gives.
async fn reserve_try(ctx: &Context, user: &User, network: &str) -> Result<LoginAttempt, AuthError> {
    let familiar = user::knows_network(ctx, &user.id, network).await?;
    LoginAttempt::reserve(ctx, &format!("mfa:{}", user.id), network, familiar).await
}

/// Completes the sign-in of `mfa_token` with `code` (or a backup code): the session starts
/// for the device of the first factor, and the pending sign-in and the code are used up
/// in the same transaction.
pub async fn verify(
    ctx: &Context,
    mfa_token: &str,
    code: &str,
    network: &str,
) -> Result<SignedIn, AuthError> {
    let pending = refresh_family::second_factor::pending(ctx, mfa_token).await?;
    // The user and its factor in one read.
    let pk = user::partition(&pending.user_id);
    let mut items = ctx
        .store
        .get_many(&[(&pk, user::SORT_KEY), (&pk, FACTOR)])
        .await?
        .into_iter();
    let user = items
        .next()
        .flatten()
        .as_ref()
        .and_then(User::from_item)
        .filter(|user| user.mfa_enabled)
        .ok_or(MFA_TOKEN_INVALID)?;
    let factor = factor_of(ctx, &user.id, items.next().flatten())?
        .filter(|factor| factor.enabled)
        .ok_or(MFA_TOKEN_INVALID)?;
    let attempt = reserve_try(ctx, &user, network).await?;
    let Some(proof) = prove(ctx, &user, &factor, code, true).await? else {
        if !pending.failed(ctx).await? {
            return Err(MFA_TOKEN_INVALID);
        }
        return Err(CODE_INVALID);
    };
    let steps = attempt
        .succeeded(ctx)
        .step(Step::SecondFactor, pending.redeem(ctx))
        .step(Step::Factor, proof.used(&user.id));
    let method = Claimed::SecondFactor(pending.method);
    let change = Account::Existing(UserChange::default());
    match refresh_family::sign_in(ctx, user, steps, change, method, &pending.device).await {
        Ok(signed_in) => Ok(signed_in),
        Err(TransactError::Refused(refused)) if refused.by(Step::SecondFactor) => {
            Err(MFA_TOKEN_INVALID)
        }
        Err(TransactError::Refused(refused)) if refused.by(Step::Factor) => Err(CODE_INVALID),
        Err(TransactError::Refused(_)) => Err(CHANGED_MEANWHILE),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

/// A step-up receipt for a fresh TOTP `code`: `{receipt, expires_in}`, a JWT of `type`
/// `stepup` with `scope`, for the service `audience` (by default `<TOKEN_AUDIENCE>:stepup`;
/// any other must be in `STEPUP_AUDIENCES`).
pub async fn step_up(
    ctx: &Context,
    user: &User,
    claims: &Claims,
    code: &str,
    scope: &str,
    audience: Option<&str>,
    network: &str,
) -> Result<Value, AuthError> {
    let default = format!("{}:stepup", ctx.settings.session.token_audience);
    let audience = match audience {
        None => default,
        Some(asked) if asked == default => default,
        Some(asked) if ctx.settings.mfa.stepup_audiences.iter().any(|a| a == asked) => {
            asked.to_owned()
        }
        Some(_) => {
            return Err(AuthError::field(
                "audience",
                "This service is not one that step-up receipts are made for (STEPUP_AUDIENCES).",
            ));
        }
    };
    let factor = enabled_factor(ctx, user).await?;
    let attempt = reserve_try(ctx, user, network).await?;
    let proof = prove(ctx, user, &factor, code, false)
        .await?
        .ok_or(CODE_INVALID)?;
    let steps = attempt
        .succeeded(ctx)
        .step(Step::Factor, proof.used(&user.id));
    transact_with_code(ctx, steps).await?;
    let receipt = ctx
        .tokens
        .receipt(&user.id, &claims.sid, scope, &audience)
        .await?;
    Ok(json!({
        "receipt": receipt,
        "expires_in": crate::session::token::RECEIPT_LIFETIME,
    }))
}

/// The operator's way out for an owner who lost their device and their backup codes: the
/// factor removed and every session ended (`cargo run -- disable-mfa <user id>`, locally or
/// against a deployed table), after the operator has checked who is asking. Nothing a
/// client sends can do this. Ok(false) when there is no such user.
pub async fn disable_by_operator(store: &Store, user_id: &str) -> Result<bool, AuthError> {
    let Some(mut user) = user::get_in(store, user_id).await? else {
        return Ok(false);
    };
    let pk = user::partition(&user.id);
    let backups = store.query_prefix(&pk, BACKUP_PREFIX).await?;
    let mut steps = Transaction::new().step(Step::Factor, Write::delete(&pk, FACTOR));
    for item in &backups {
        if let Some(sk) = item.text(table::SORT_KEY) {
            steps.push(Step::Factor, Write::delete(&pk, &sk));
        }
    }
    let change = UserChange {
        set: vec![UserField::Mfa(false)],
        end_sessions: true,
        ..UserChange::default()
    };
    steps.push(Step::UserChange, change.apply(&mut user));
    match store.transact(steps).await {
        Ok(()) => Ok(true),
        Err(TransactError::Refused(_)) => Err(CHANGED_MEANWHILE),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

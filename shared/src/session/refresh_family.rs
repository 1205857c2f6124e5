//! Refresh families: every token of one login shares a family (`sid`). Rotation records each
//! used refresh token; a used token presented again is theft, and the whole family is revoked.
//!
//! Items: the family `pk = USER#<user id>`, `sk = FAMILY#<sid>`, with the user's session
//! `epoch` at login, living until its newest refresh token expires (revoking one is deleting
//! it; raising the user's `session_epoch` ends them all at once); a used token
//! `pk = USED#<jti>`, `sk = USED`, living until that token's `exp`.

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::events::Event;
use crate::identity::user::{self, SignInMethod, User, UserChange, UserField};
use crate::session::claims;
use crate::session::token::{Claims, INVALID_TOKEN, TokenPair};
use crate::store::{Expression, Item, Step, TransactError, Transaction, Write};
use serde_json::Value;

const FAMILY_PREFIX: &str = "FAMILY#";

/// What a successful sign-in answers: `{"access", "refresh", "user"}`.
#[derive(Debug, Clone)]
pub struct SignIn {
    pub tokens: TokenPair,
    pub user: User,
}

impl SignIn {
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "access": self.tokens.access,
            "refresh": self.tokens.refresh,
            "user": self.user.view(),
        })
    }
}

/// What a sign-in answers: a new session; or, for an account with a second factor, the
/// single-use `mfa_token` that `totp/verify/` completes the sign-in with.
#[derive(Debug, Clone)]
pub enum SignedIn {
    Session(Box<SignIn>),
    SecondFactor { user: Box<User>, mfa_token: String },
}

impl SignedIn {
    pub fn body(&self) -> serde_json::Value {
        match self {
            SignedIn::Session(session) => session.body(),
            SignedIn::SecondFactor { mfa_token, .. } => {
                serde_json::json!({ "mfa_required": true, "mfa_token": mfa_token })
            }
        }
    }

    pub fn user(&self) -> &User {
        match self {
            SignedIn::Session(session) => &session.user,
            SignedIn::SecondFactor { user, .. } => user,
        }
    }
}

/// How a sign-in treats the user's item.
pub enum Account {
    /// The caller's writes create the user; its item already carries `last_login`.
    New,
    /// An existing user: `last_login` is set along with these changes, in the same
    /// transaction, and only if the user still exists with the sessions it was read with.
    Existing(UserChange),
}

fn family_sort_key(sid: &str) -> String {
    format!("{FAMILY_PREFIX}{sid}")
}

/// The client a sign-in comes from, kept on its session for the account owner to see
/// (`sessions/`): its network (`http::ClientIp`: an IPv4 address or an IPv6 /64) and the
/// user agent it sent (at most `USER_AGENT_LIMIT` characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Device {
    pub network: String,
    pub user_agent: Option<String>,
}

/// How much of a user agent a session keeps.
pub const USER_AGENT_LIMIT: usize = 256;

impl Device {
    /// `user_agent` as sent: control characters dropped, cut at `USER_AGENT_LIMIT`.
    pub fn new(network: &str, user_agent: Option<&str>) -> Self {
        let user_agent = user_agent
            .map(|agent| {
                agent
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(USER_AGENT_LIMIT)
                    .collect::<String>()
            })
            .map(|agent| agent.trim().to_owned())
            .filter(|agent| !agent.is_empty());
        Device {
            network: network.to_owned(),
            user_agent,
        }
    }
}

/// Where a new session's custom claims come from.
pub enum Claimed {
    /// A sign-in by this method: the claims hook is asked.
    By(SignInMethod),
    /// A signed-in caller's next session (after a password change, an email added): the
    /// claims of the session it continues, as a refresh carries them.
    Continuing(serde_json::Map<String, serde_json::Value>),
    /// A sign-in by this method whose second factor was just checked.
    SecondFactor(SignInMethod),
}

impl From<SignInMethod> for Claimed {
    fn from(method: SignInMethod) -> Self {
        Claimed::By(method)
    }
}

/// Starts a new login session for `user`, signing in (`claimed`: by which method, or
/// continuing a session) from `device`: issues tokens (with the custom claims, `claims`)
/// and writes the family (with when, how and from where it began, and the network, now
/// familiar to the account) in one transaction with the caller's `steps`. An account with a
/// second factor signing in by a first factor gets no session yet: the caller's steps are
/// written with a pending sign-in that `totp/verify/` completes (a passkey, verified by the
/// authenticator's user verification, counts as both factors).
pub async fn sign_in(
    ctx: &Context,
    mut user: User,
    steps: Transaction,
    account: Account,
    claimed: impl Into<Claimed>,
    device: &Device,
) -> Result<SignedIn, TransactError> {
    let mut steps = steps;
    let claimed = claimed.into();
    if let Claimed::By(method) = claimed
        && user.mfa_enabled
        && method != SignInMethod::Passkey
    {
        return second_factor::defer(ctx, user, steps, account, method, device).await;
    }
    let created = matches!(account, Account::New);
    if let Account::Existing(mut change) = account {
        change.set.push(UserField::LastLogin(clock::now()));
        steps.push(Step::UserChange, change.apply(&mut user));
    }
    let (custom, method) = match claimed {
        // No token without the hook's say: a hook that fails is a 503.
        Claimed::By(method) | Claimed::SecondFactor(method) => (
            claims::for_user(ctx, &user, Some(method), "sign_in")
                .await
                .map_err(|_| TransactError::Unavailable)?,
            Some(method),
        ),
        Claimed::Continuing(custom) => (custom, None),
    };
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let tokens = ctx
        .tokens
        .issue(&user.id, &sid, &custom)
        .await
        .map_err(|_| TransactError::Unavailable)?;
    let now = clock::now();
    let mut family = Item::new(&user::partition(&user.id), &family_sort_key(&sid))
        .with("sid", sid.as_str())
        .with("epoch", user.session_epoch)
        .with("created_at", now)
        .with("last_used_at", now)
        .with("network", device.network.as_str())
        .expiring_at(tokens.refresh_claims.exp);
    if let Some(method) = method {
        family = family.with("method", method.name());
    }
    if let Some(agent) = &device.user_agent {
        family = family.with("user_agent", agent.as_str());
    }
    let steps = steps.step(Step::Family, Write::put(family)).step(
        Step::Network,
        user::remember_network(ctx, &user.id, &device.network),
    );
    ctx.store.transact(steps).await?;
    if let Some(method) = method {
        let (user_id, method) = (user.id.as_str(), method.name());
        if created {
            ctx.events
                .publish(Event::SignupConfirmed { user_id, method })
                .await;
        }
        let sid = sid.as_str();
        ctx.events
            .publish(Event::Login {
                user_id,
                method,
                sid,
            })
            .await;
    }
    Ok(SignedIn::Session(Box::new(SignIn { tokens, user })))
}

/// Sign-ins waiting for their second factor. Item: `pk = MFA_SIGNIN#<keyed hash of the
/// mfa_token>`, `sk = MFA_SIGNIN`, with the user, the first factor's method, the device and
/// the wrong tries so far, living `MFA_TOKEN_TTL` seconds; redeemed by a conditional delete
/// in the transaction that starts the session, so it signs in once.
pub mod second_factor {
    use super::*;

    const SORT_KEY: &str = "MFA_SIGNIN";

    pub const MFA_TOKEN_INVALID: AuthError = AuthError::Unauthorized {
        code: "mfa_token_invalid",
        detail: "This sign-in is unknown, used, expired or out of tries. Sign in again.",
    };

    fn partition(ctx: &Context, token: &str) -> String {
        format!(
            "MFA_SIGNIN#{}",
            ctx.keyed_hash(&format!("mfa_signin\n{token}"))
        )
    }

    /// Writes the first factor's `steps` (and the account's `change`) with a pending
    /// sign-in, and answers its token.
    pub(super) async fn defer(
        ctx: &Context,
        mut user: User,
        mut steps: Transaction,
        account: Account,
        method: SignInMethod,
        device: &Device,
    ) -> Result<SignedIn, TransactError> {
        if let Account::Existing(change) = account {
            steps.push(Step::UserChange, change.apply(&mut user));
        }
        let mut token = [0u8; 32];
        aws_lc_rs::rand::fill(&mut token).map_err(|_| TransactError::Unavailable)?;
        let token = crate::encode::hex(&token);
        let ttl = ctx.settings.mfa.token_ttl as i64;
        let mut item = Item::new(&partition(ctx, &token), SORT_KEY)
            .with("user_id", user.id.as_str())
            .with("method", method.name())
            .with("network", device.network.as_str())
            .with("attempts", 0i64)
            .expiring_at(clock::now() + ttl);
        if let Some(agent) = &device.user_agent {
            item = item.with("user_agent", agent.as_str());
        }
        steps.push(Step::SecondFactor, Write::put_new(item));
        ctx.store.transact(steps).await?;
        Ok(SignedIn::SecondFactor {
            user: Box::new(user),
            mfa_token: token,
        })
    }

    /// A sign-in waiting for its second factor.
    #[derive(Debug, Clone)]
    pub struct Pending {
        pk: String,
        pub user_id: String,
        pub method: SignInMethod,
        /// The device of the first factor: the session is its.
        pub device: Device,
        pub attempts: u32,
    }

    /// The pending sign-in of `token`, unexpired, if it has tries left.
    pub async fn pending(ctx: &Context, token: &str) -> Result<Pending, AuthError> {
        let pk = partition(ctx, token);
        let item = ctx.store.get(&pk, SORT_KEY).await?;
        let item = item.ok_or(MFA_TOKEN_INVALID)?;
        let attempts = item.number("attempts").unwrap_or(0).max(0) as u32;
        let method = item.text("method").and_then(|m| SignInMethod::named(&m));
        let (Some(user_id), Some(method)) = (item.text("user_id"), method) else {
            return Err(MFA_TOKEN_INVALID);
        };
        if attempts >= ctx.settings.codes.max_attempts {
            return Err(MFA_TOKEN_INVALID);
        }
        let device = Device {
            network: item.text("network").unwrap_or_default(),
            user_agent: item.text("user_agent"),
        };
        Ok(Pending {
            pk,
            user_id,
            method,
            device,
            attempts,
        })
    }

    impl Pending {
        /// The write that uses it up: put it in the transaction that starts the session.
        pub fn redeem(&self, ctx: &Context) -> Write {
            Write::delete_if(
                &self.pk,
                SORT_KEY,
                Expression::new("attribute_exists(pk) AND attempts < :max")
                    .value(":max", ctx.settings.codes.max_attempts),
            )
        }

        /// Counts a wrong code: Ok(false) when it had no tries left.
        pub async fn failed(&self, ctx: &Context) -> Result<bool, AuthError> {
            ctx.store
                .write(Write::update_if(
                    &self.pk,
                    SORT_KEY,
                    Expression::new("ADD attempts :one").value(":one", 1i64),
                    Expression::new("attribute_exists(pk) AND attempts < :max")
                        .value(":max", ctx.settings.codes.max_attempts),
                ))
                .await
        }
    }
}

/// The user of the session of verified `claims`, if that session is alive: not logged out,
/// not ended by a password change or reset. The user and its family are read in one call.
pub async fn session_user(ctx: &Context, claims: &Claims) -> Result<User, AuthError> {
    let pk = user::partition(&claims.user_id);
    let family_key = family_sort_key(&claims.sid);
    let items = ctx
        .store
        .get_many(&[(&pk, user::SORT_KEY), (&pk, &family_key)])
        .await?;
    let (Some(Some(user)), Some(Some(family))) = (items.first(), items.get(1)) else {
        return Err(INVALID_TOKEN);
    };
    let user = User::from_item(user).ok_or(INVALID_TOKEN)?;
    if family.number("epoch") != Some(user.session_epoch) {
        return Err(INVALID_TOKEN);
    }
    Ok(user)
}

/// Exchanges a verified refresh token (`token`, of `claims`) for a new pair in the same
/// family, retiring the old token. A token already used answers, within
/// `REFRESH_REUSE_GRACE` seconds of its first use, the same pair its first use got (two tabs,
/// a retry after a lost answer); later it is theft: its family is revoked, and 401.
///
/// `counted` is the route's rate-limit count, made while the user is read: one round trip
/// for both, then the rotation's transaction. (The counter inside the transaction would
/// save a call, but a transaction bills each item twice, and parallel refreshes of one
/// account would then conflict on it: BENCHMARKS.md.)
pub async fn rotate(
    ctx: &Context,
    claims: &Claims,
    token: &str,
    counted: impl std::future::Future<Output = Result<(), AuthError>>,
) -> Result<SignIn, AuthError> {
    let (counted, user) = tokio::join!(counted, user::get(ctx, &claims.user_id));
    counted?;
    let user = user?.ok_or(INVALID_TOKEN)?;
    let custom = refreshed_claims(ctx, &user, claims).await?;
    let tokens = ctx
        .tokens
        .issue(&claims.user_id, &claims.sid, &custom)
        .await?;
    let now = clock::now();
    let grace = ctx.settings.session.refresh_reuse_grace as i64;
    let mut used = Item::new(&used_key(&claims.jti), "USED").expiring_at(claims.exp);
    if grace > 0 {
        // The new pair, readable only with the old token, for a repeat within the window.
        used = used
            .with("pair", replay::seal(&tokens, token)?)
            .with("grace_until", now + grace);
    }
    let epoch = user.session_epoch;
    let alive = Expression::new("attribute_exists(pk) AND expires_at > :now AND epoch = :epoch")
        .value(":now", now)
        .value(":epoch", epoch);
    let steps = Transaction::new()
        // The token is used once.
        .step(Step::UsedToken, Write::put_new(used))
        // Its family is alive and of the current epoch.
        .step(
            Step::Family,
            Write::update_if(
                &user::partition(&user.id),
                &family_sort_key(&claims.sid),
                Expression::new("SET expires_at = :exp, last_used_at = :now")
                    .value(":exp", tokens.refresh_claims.exp)
                    .value(":now", now),
                alive,
            ),
        )
        // And the user's sessions have not ended since we read it.
        .step(
            Step::SessionsUnchanged,
            Write::check(
                &user::partition(&user.id),
                user::SORT_KEY,
                Expression::new("session_epoch = :epoch").value(":epoch", epoch),
            ),
        );
    match ctx.store.transact(steps).await {
        Ok(()) => Ok(SignIn { tokens, user }),
        Err(TransactError::Refused(refused)) => {
            if refused.by(Step::UsedToken) {
                if let Some(tokens) = replayed(ctx, claims, token).await? {
                    return Ok(SignIn { tokens, user });
                }
                tracing::warn!(user_id = %claims.user_id, "refresh token reused: family revoked");
                revoke(ctx, &claims.user_id, &claims.sid).await?;
                ctx.events
                    .publish(Event::TokenReuseDetected {
                        user_id: &claims.user_id,
                        sid: &claims.sid,
                    })
                    .await;
            }
            Err(INVALID_TOKEN)
        }
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

fn used_key(jti: &str) -> String {
    format!("USED#{jti}")
}

/// The pair a used refresh token's first use got, if `token` comes back within the grace
/// window and its session is still alive (one read of both).
async fn replayed(
    ctx: &Context,
    claims: &Claims,
    token: &str,
) -> Result<Option<TokenPair>, AuthError> {
    if ctx.settings.session.refresh_reuse_grace == 0 {
        return Ok(None);
    }
    let used = used_key(&claims.jti);
    let family = (
        user::partition(&claims.user_id),
        family_sort_key(&claims.sid),
    );
    let items = ctx
        .store
        .get_many(&[(&used, "USED"), (&family.0, &family.1)])
        .await?;
    let (Some(Some(used)), Some(Some(_alive))) = (items.first(), items.get(1)) else {
        return Ok(None);
    };
    if used
        .number("grace_until")
        .is_none_or(|until| clock::now() >= until)
    {
        return Ok(None);
    }
    Ok(used
        .text("pair")
        .and_then(|sealed| replay::open(&sealed, token)))
}

/// A pair kept for a repeat, sealed with a key only the old refresh token gives: the table
/// alone cannot hand it out.
mod replay {
    use crate::error::AuthError;
    use crate::sealed;
    use crate::session::token::{Claims, TokenPair};

    fn material(token: &str) -> Vec<u8> {
        [b"blockauth refresh replay ".as_slice(), token.as_bytes()].concat()
    }

    pub fn seal(pair: &TokenPair, token: &str) -> Result<String, AuthError> {
        let plain = serde_json::json!([pair.access, pair.refresh, pair.refresh_claims]);
        sealed::seal(&material(token), b"", plain.to_string().as_bytes())
            .ok_or_else(|| AuthError::unavailable("refresh replay", &"sealing"))
    }

    pub fn open(sealed: &str, token: &str) -> Option<TokenPair> {
        let plain = sealed::open(&material(token), b"", sealed)?;
        let (access, refresh, refresh_claims): (String, String, Claims) =
            serde_json::from_slice(&plain).ok()?;
        Some(TokenPair {
            access,
            refresh,
            refresh_claims,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use crate::session::token::Tokens;
        use crate::settings::Settings;
        use crate::signing_key::SigningKey;

        #[tokio::test]
        async fn only_the_old_token_opens_the_kept_pair() {
            let key = SigningKey::from_text(&"k".repeat(40)).unwrap();
            let tokens = Tokens::new(&key, &Settings::default());
            let pair = tokens.issue("u", "s", &Default::default()).await.unwrap();
            let sealed = seal(&pair, "the-old-token").unwrap();
            let opened = open(&sealed, "the-old-token").unwrap();
            assert_eq!(opened.access, pair.access);
            assert_eq!(opened.refresh, pair.refresh);
            assert_eq!(opened.refresh_claims, pair.refresh_claims);
            assert!(open(&sealed, "another-token").is_none());
            assert!(!sealed.contains(&pair.refresh[..20]));
            // One character of the ciphertext changed: the tag refuses it.
            let mut tampered = sealed.into_bytes();
            let middle = tampered.len() / 2;
            tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
            let tampered = String::from_utf8(tampered).unwrap();
            assert!(open(&tampered, "the-old-token").is_none());
        }
    }
}

/// The custom claims of a refreshed pair: those the refresh token carries from the
/// sign-in, or (`CLAIMS_ON_REFRESH`) the hook's answer now.
pub async fn refreshed_claims(
    ctx: &Context,
    user: &User,
    claims: &Claims,
) -> Result<serde_json::Map<String, serde_json::Value>, AuthError> {
    if ctx.settings.claims.on_refresh {
        return claims::for_user(ctx, user, None, "refresh").await;
    }
    Ok(claims.custom.clone())
}

/// The account's live sessions, the most recently used first, as `sessions/` shows them:
/// `current` marks the one whose `sid` is given.
pub async fn list(ctx: &Context, user: &User, current: &str) -> Result<Vec<Value>, AuthError> {
    let items = ctx
        .store
        .query_prefix(&user::partition(&user.id), FAMILY_PREFIX)
        .await?;
    Ok(sessions_among(&items, user, current))
}

/// The sessions among `items` of the user's partition, as `list` shows them. Families of an
/// ended epoch are not sessions any more.
pub fn sessions_among(items: &[Item], user: &User, current: &str) -> Vec<Value> {
    // Each with when it was last used, then made: the order of the list.
    let mut sessions: Vec<(_, Value)> = items
        .iter()
        .filter(|family| family.number("epoch") == Some(user.session_epoch))
        .filter_map(|family| {
            let sk = family.text(crate::store::table::SORT_KEY)?;
            let sid = sk.strip_prefix(FAMILY_PREFIX)?.to_owned();
            let created_at = family.number("created_at");
            let last_used_at = family.number("last_used_at");
            let view = serde_json::json!({
                "sid": sid,
                "current": sid == current,
                "created_at": created_at.map(clock::rfc3339),
                "last_used_at": last_used_at.map(clock::rfc3339),
                "method": family.text("method"),
                "ip": family.text("network"),
                "user_agent": family.text("user_agent"),
            });
            Some(((last_used_at, created_at), view))
        })
        .collect();
    sessions.sort_by_key(|(used, _)| std::cmp::Reverse(*used));
    sessions.into_iter().map(|(_, view)| view).collect()
}

/// Ends every session of `user` but `current` (the caller's), at once: the user's epoch is
/// raised and the current family moves to it, in one transaction.
pub async fn end_others(ctx: &Context, mut user: User, current: &str) -> Result<(), AuthError> {
    let epoch = user.session_epoch;
    let change = UserChange {
        end_sessions: true,
        ..UserChange::default()
    };
    let steps = Transaction::new()
        .step(Step::UserChange, change.apply(&mut user))
        .step(Step::Family, keep_session(&user, current, epoch));
    match ctx.store.transact(steps).await {
        Ok(()) => Ok(()),
        // The caller's own session ended meanwhile: its token is no good any more.
        Err(TransactError::Refused(refused)) if refused.by(Step::Family) => Err(INVALID_TOKEN),
        Err(TransactError::Refused(_)) => Err(user::CHANGED_MEANWHILE),
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

/// The write that moves session `sid`, begun in epoch `epoch`, into `user`'s new epoch (a
/// change that ended every session raised it): the one session that goes on.
pub fn keep_session(user: &User, sid: &str, epoch: i64) -> Write {
    Write::update_if(
        &user::partition(&user.id),
        &family_sort_key(sid),
        Expression::new("SET epoch = :next").value(":next", user.session_epoch),
        Expression::new("attribute_exists(pk) AND epoch = :epoch").value(":epoch", epoch),
    )
}

/// Ends `user`'s session `sid` (`DELETE sessions/<sid>/`): Ok(false) when the account has no
/// such live session (another account's, logged out, or ended with its epoch), as the list
/// would not show it.
pub async fn end(ctx: &Context, user: &User, sid: &str) -> Result<bool, AuthError> {
    let alive = Expression::new("attribute_exists(pk) AND epoch = :epoch")
        .value(":epoch", user.session_epoch);
    ctx.store
        .write(Write::delete_if(
            &user::partition(&user.id),
            &family_sort_key(sid),
            alive,
        ))
        .await
}

/// Revokes one family (logout): Ok(false) when it had already ended.
pub async fn revoke(ctx: &Context, user_id: &str, sid: &str) -> Result<bool, AuthError> {
    let exists = Expression::new("attribute_exists(pk)");
    ctx.store
        .write(Write::delete_if(
            &user::partition(user_id),
            &family_sort_key(sid),
            exists,
        ))
        .await
}

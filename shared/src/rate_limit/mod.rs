//! Rate limits, counted by atomic conditional updates so that parallel requests cannot slip
//! past them:
//! - every route: `REQUEST_LIMIT` per `REQUEST_WINDOW` per (identifier, subject, client IP);
//! - every message sent: `SEND_LIMIT` per `SEND_WINDOW` per (identifier, client network),
//!   and `SEND_TOTAL_LIMIT` per identifier from all networks;
//! - text messages: `SMS_MONTHLY_LIMIT` per calendar month for the whole deployment;
//! - password tries: `LOGIN_FAILURE_LIMIT` failures per `LOGIN_FAILURE_WINDOW` per
//!   (identifier, client network), and `LOGIN_FAILURE_TOTAL_LIMIT` per identifier from the
//!   networks it never signed in from.
//!
//! A client network is an IPv4 address or an IPv6 /64 (`http::ClientIp`).
//!
//! Item: `pk = RATE#<subject>#<identifier>#<ip>#<window start>`, `sk = RATE`, with `hits`
//! and `expires_at` (the end of the window).

pub mod settings;

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::identity::identifier::Identifier;
use crate::store::{Expression, Step, Transaction, Write};

const SORT_KEY: &str = "RATE";

/// Counters that span every client IP use this in place of one.
const ANY_IP: &str = "*";

/// What a counter counts: each route's requests, and the two caps across routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Signup,
    SignupResend,
    SignupConfirm,
    LoginBasic,
    LoginPasswordless,
    LoginPasswordlessConfirm,
    PasswordReset,
    PasswordResetConfirm,
    PasswordChange,
    EmailChange,
    EmailChangeConfirm,
    TokenRefresh,
    TokenRevoke,
    WalletChallenge,
    WalletLogin,
    WalletEmail,
    WalletEmailConfirm,
    /// Social login: beginning one at a provider, its callback, trading its one-time code.
    SocialStart,
    SocialCallback,
    SocialNative,
    SocialToken,
    /// Passkeys: options and verification of a sign-in (public) and of a registration.
    PasskeySignInOptions,
    PasskeySignIn,
    PasskeyRegisterOptions,
    PasskeyRegister,
    /// Account self-service: ending sessions, the export, deletion, wallets linked.
    SessionEnd,
    SessionsEndOthers,
    AccountExport,
    AccountDelete,
    WalletLinkChallenge,
    WalletLink,
    WalletUnlink,
    /// The second factor: setting it up, its changes, completing a sign-in, step-up.
    TotpSetup,
    TotpConfirm,
    TotpDisable,
    TotpRegenerate,
    TotpVerify,
    StepUp,
    /// Messages sent to an identifier (`spend_send_budget`).
    Send,
    /// Text messages of the whole deployment in a month (`spend_send_budget`).
    SmsMonth,
    /// Failed password tries of an account (`LoginAttempt`).
    LoginFailure,
}

impl Subject {
    /// Its name in the counter's key.
    pub fn name(self) -> &'static str {
        match self {
            Subject::Signup => "signup",
            Subject::SignupResend => "signup_resend",
            Subject::SignupConfirm => "signup_confirm",
            Subject::LoginBasic => "login_basic",
            Subject::LoginPasswordless => "login_passwordless",
            Subject::LoginPasswordlessConfirm => "login_passwordless_confirm",
            Subject::PasswordReset => "password_reset",
            Subject::PasswordResetConfirm => "password_reset_confirm",
            Subject::PasswordChange => "password_change",
            Subject::EmailChange => "email_change",
            Subject::EmailChangeConfirm => "email_change_confirm",
            Subject::TokenRefresh => "token_refresh",
            Subject::TokenRevoke => "token_revoke",
            Subject::SocialStart => "social_start",
            Subject::SocialCallback => "social_callback",
            Subject::SocialNative => "social_native",
            Subject::SocialToken => "social_token",
            Subject::PasskeySignInOptions => "passkey_sign_in_options",
            Subject::PasskeySignIn => "passkey_sign_in",
            Subject::PasskeyRegisterOptions => "passkey_register_options",
            Subject::PasskeyRegister => "passkey_register",
            Subject::SessionEnd => "session_end",
            Subject::SessionsEndOthers => "sessions_end_others",
            Subject::AccountExport => "account_export",
            Subject::AccountDelete => "account_delete",
            Subject::WalletLinkChallenge => "wallet_link_challenge",
            Subject::WalletLink => "wallet_link",
            Subject::WalletUnlink => "wallet_unlink",
            Subject::TotpSetup => "totp_setup",
            Subject::TotpConfirm => "totp_confirm",
            Subject::TotpDisable => "totp_disable",
            Subject::TotpRegenerate => "totp_regenerate",
            Subject::TotpVerify => "totp_verify",
            Subject::StepUp => "stepup",
            Subject::WalletChallenge => "wallet_challenge",
            Subject::WalletLogin => "wallet_login",
            Subject::WalletEmail => "wallet_email",
            Subject::WalletEmailConfirm => "wallet_email_confirm",
            Subject::Send => "send",
            Subject::SmsMonth => "sms_month",
            Subject::LoginFailure => "login_failure",
        }
    }
}

/// A fixed-window counter.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub limit: u32,
    pub window: u64,
}

impl RateLimit {
    /// Counts one request; 429 with the seconds until the window ends when over the limit.
    /// Returns the counter's key.
    pub async fn hit(
        self,
        ctx: &Context,
        subject: Subject,
        identifier: &str,
        ip: &str,
    ) -> Result<String, AuthError> {
        let now = clock::now();
        let window = self.window as i64;
        let start = now - now.rem_euclid(window);
        count(
            ctx,
            subject,
            identifier,
            ip,
            self.limit,
            (start, start + window),
        )
        .await
    }
}

/// Counts one hit of `subject` in the window `(start, end)` (seconds) against `limit`.
async fn count(
    ctx: &Context,
    subject: Subject,
    identifier: &str,
    ip: &str,
    limit: u32,
    (start, end): (i64, i64),
) -> Result<String, AuthError> {
    let pk = format!("RATE#{}#{identifier}#{ip}#{start}", subject.name());
    if ctx.store.count(&pk, SORT_KEY, limit, end).await? {
        Ok(pk)
    } else {
        Err(AuthError::Throttled {
            retry_after: (end - clock::now()).max(1) as u64,
        })
    }
}

/// The calendar month (UTC) around `now`: its first second and the next month's.
fn month_of(now: i64) -> (i64, i64) {
    use time::{Date, OffsetDateTime, Time};
    let today = OffsetDateTime::from_unix_timestamp(now)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
        .date();
    let first = |year, month| {
        Date::from_calendar_date(year, month, 1)
            .map(|day| day.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp())
            .unwrap_or(now)
    };
    let next = today.month().next();
    let next_year = today.year() + i32::from(next == time::Month::January);
    (first(today.year(), today.month()), first(next_year, next))
}

/// The route limit (`REQUEST_LIMIT` per `REQUEST_WINDOW`).
pub async fn check(
    ctx: &Context,
    subject: Subject,
    identifier: &str,
    ip: &str,
) -> Result<(), AuthError> {
    RateLimit {
        limit: ctx.settings.limits.request_limit,
        window: ctx.settings.limits.request_window,
    }
    .hit(ctx, subject, identifier, ip)
    .await
    .map(drop)
}

/// Counts one request of `subject` from `network` on a route that takes no identifier
/// (`NETWORK_REQUEST_LIMIT` per `REQUEST_WINDOW`).
pub async fn check_network(
    ctx: &Context,
    subject: Subject,
    network: &str,
) -> Result<(), AuthError> {
    RateLimit {
        limit: ctx.settings.limits.network_request_limit,
        window: ctx.settings.limits.request_window,
    }
    .hit(ctx, subject, "network", network)
    .await
    .map(drop)
}

/// A text message to a country `SMS_ALLOWED_COUNTRIES` leaves out.
pub const SMS_COUNTRY_NOT_ALLOWED: AuthError = AuthError::BadRequest {
    code: "sms_country_not_allowed",
    detail: "Text messages cannot be sent to this country. Use an email address.",
};

/// Counts one message to `identifier` asked for from `network`, if it may go there at all
/// (`SMS_ALLOWED_COUNTRIES`, and for a text message `SMS_MONTHLY_LIMIT`): against that network's
/// share (`SEND_LIMIT`), then against the identifier's total from every network
/// (`SEND_TOTAL_LIMIT`), which bounds mail bombing. One stranger's network cannot use up the
/// owner's share; strangers on many networks can delay codes for one `SEND_WINDOW`, and
/// every code they ask for goes to the owner anyway.
pub async fn spend_send_budget(
    ctx: &Context,
    identifier: &Identifier,
    network: &str,
) -> Result<(), AuthError> {
    // Decided by the number alone, whoever owns it: it tells nothing about accounts.
    if let Identifier::Phone(phone) = identifier
        && !ctx.settings.limits.sms_allowed(phone)
    {
        return Err(SMS_COUNTRY_NOT_ALLOWED);
    }
    let window = ctx.settings.limits.send_window;
    let key = identifier.key();
    RateLimit {
        limit: ctx.settings.limits.send_limit,
        window,
    }
    .hit(ctx, Subject::Send, &key, network)
    .await?;
    RateLimit {
        limit: ctx.settings.limits.send_total_limit,
        window,
    }
    .hit(ctx, Subject::Send, &key, ANY_IP)
    .await?;
    // Last, so that a flood at one number is stopped by its own limits before it spends
    // the deployment's month; counted for every number alike, account or not.
    let month_limit = ctx.settings.limits.sms_monthly_limit;
    if matches!(identifier, Identifier::Phone(_)) && month_limit > 0 {
        let month = month_of(clock::now());
        count(ctx, Subject::SmsMonth, "*", ANY_IP, month_limit, month).await?;
    }
    Ok(())
}

/// The cap on failed password tries of one account: `LOGIN_FAILURE_LIMIT` per client
/// network, and `LOGIN_FAILURE_TOTAL_LIMIT` from all the networks the account never signed
/// in from, together. A stranger guessing from many networks can therefore wall off only
/// unfamiliar networks: the owner still gets in from one they signed in from before.
/// Attempts are reserved before the password is checked (so parallel guesses cannot pass
/// the cap) and given back, inside the transaction that acts on the right password.
pub struct LoginAttempt {
    /// The counters the attempt was reserved on.
    counters: Vec<String>,
}

impl LoginAttempt {
    /// Reserves one try on `account` (an identifier's key) from `network`; `familiar` says
    /// whether the account signed in from that network before.
    pub async fn reserve(
        ctx: &Context,
        account: &str,
        network: &str,
        familiar: bool,
    ) -> Result<Self, AuthError> {
        let window = ctx.settings.limits.login_failure_window;
        let mut counters = vec![
            RateLimit {
                limit: ctx.settings.limits.login_failure_limit,
                window,
            }
            .hit(ctx, Subject::LoginFailure, account, network)
            .await?,
        ];
        if !familiar {
            counters.push(
                RateLimit {
                    limit: ctx.settings.limits.login_failure_total_limit,
                    window,
                }
                .hit(ctx, Subject::LoginFailure, account, ANY_IP)
                .await?,
            );
        }
        Ok(LoginAttempt { counters })
    }

    /// The password could not be checked (no hashing permit in time): nothing was tried,
    /// so the attempt is given back now, and the request answers 503.
    pub async fn unchecked(self, ctx: &Context) -> AuthError {
        if ctx.store.transact(self.succeeded(ctx)).await.is_err() {
            tracing::warn!("an unchecked login attempt could not be given back");
        }
        AuthError::Unavailable
    }

    /// The password was right: the steps that give the attempt back, for the transaction
    /// that acts on it. Unconditional, so they can never fail that transaction; the TTL is
    /// kept (or set, should a counter have expired meanwhile).
    pub fn succeeded(self, ctx: &Context) -> Transaction {
        let end = clock::now() + ctx.settings.limits.login_failure_window as i64;
        let give_back = |counter: &String| {
            let update = Expression::new(
                "ADD hits :minus_one SET expires_at = if_not_exists(expires_at, :end)",
            )
            .value(":minus_one", -1_i64)
            .value(":end", end);
            Write::update(counter, SORT_KEY, update)
        };
        Transaction::new().steps(Step::LoginRefund, self.counters.iter().map(give_back))
    }
}

#[cfg(test)]
mod tests {
    use super::month_of;

    #[test]
    fn a_month_is_the_calendar_month_in_utc() {
        // 2026-12-01T02:00:00Z: December, up to 2027-01-01.
        assert_eq!(month_of(1_796_090_400), (1_796_083_200, 1_798_761_600));
        // 2028-02-29T23:59:59Z: a leap February.
        assert_eq!(month_of(1_835_481_599), (1_832_976_000, 1_835_481_600));
    }
}

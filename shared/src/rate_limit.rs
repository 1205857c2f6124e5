//! Rate limits, counted by atomic conditional updates so that parallel requests cannot slip
//! past them:
//! - every route: `REQUEST_LIMIT` per `REQUEST_WINDOW` per (identifier, subject, client IP);
//! - every message sent: `SEND_LIMIT` per `SEND_WINDOW` per identifier, from any IP;
//! - password logins: `LOGIN_FAILURE_LIMIT` failures per `LOGIN_FAILURE_WINDOW` per
//!   identifier, from any IP.
//!
//! Item: `pk = RATE#<subject>#<identifier>#<ip>#<window start>`, `sk = RATE`, with `hits`
//! and `expires_at` (the end of the window).

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::identifier::Identifier;
use crate::store::{self, n};

/// Counters that span every client IP use this in place of one.
const ANY_IP: &str = "*";

/// A fixed-window counter.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub limit: u32,
    pub window: u64,
}

impl RateLimit {
    fn window_of(self, subject: &str, identifier: &str, ip: &str) -> (String, i64, i64) {
        let now = clock::now();
        let window = self.window as i64;
        let start = now - now.rem_euclid(window);
        let pk = format!("RATE#{subject}#{identifier}#{ip}#{start}");
        (pk, now, start + window)
    }

    /// Counts one request; 429 with the seconds until the window ends when over the limit.
    pub async fn hit(
        self,
        ctx: &Context,
        subject: &str,
        identifier: &str,
        ip: &str,
    ) -> Result<(), AuthError> {
        let (pk, now, end) = self.window_of(subject, identifier, ip);
        let counted = ctx
            .store
            .client()
            .update_item()
            .table_name(ctx.store.table())
            .set_key(Some(store::key(&pk, "RATE")))
            .update_expression("ADD hits :one SET expires_at = :end")
            .condition_expression("attribute_not_exists(hits) OR hits < :limit")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":end", n(end))
            .expression_attribute_values(":limit", n(self.limit))
            .send()
            .await;
        match counted {
            Ok(_) => Ok(()),
            Err(e) if store::is_condition_failed(&e) => Err(AuthError::Throttled {
                retry_after: (end - now).max(1) as u64,
            }),
            Err(e) => Err(store::unavailable(&e)),
        }
    }

    /// Gives back one hit of the current window (a reserved attempt that turned out fine).
    pub async fn refund(
        self,
        ctx: &Context,
        subject: &str,
        identifier: &str,
        ip: &str,
    ) -> Result<(), AuthError> {
        let (pk, _, _) = self.window_of(subject, identifier, ip);
        ctx.store
            .client()
            .update_item()
            .table_name(ctx.store.table())
            .set_key(Some(store::key(&pk, "RATE")))
            .update_expression("ADD hits :minus_one")
            .condition_expression("hits > :zero")
            .expression_attribute_values(":minus_one", n(-1))
            .expression_attribute_values(":zero", n(0))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| {
                if store::is_condition_failed(&e) {
                    Ok(())
                } else {
                    Err(store::unavailable(&e))
                }
            })
    }
}

/// The route limit (`REQUEST_LIMIT` per `REQUEST_WINDOW`).
pub async fn check(
    ctx: &Context,
    subject: &str,
    identifier: &str,
    ip: &str,
) -> Result<(), AuthError> {
    RateLimit {
        limit: ctx.settings.request_limit,
        window: ctx.settings.request_window,
    }
    .hit(ctx, subject, identifier, ip)
    .await
}

/// Counts one message to `identifier` against its send budget.
pub async fn spend_send_budget(ctx: &Context, identifier: &Identifier) -> Result<(), AuthError> {
    RateLimit {
        limit: ctx.settings.send_limit,
        window: ctx.settings.send_window,
    }
    .hit(ctx, "send", &identifier.key(), ANY_IP)
    .await
}

/// The cap on failed password logins of one identifier, from any IP. An attempt is
/// reserved before the password is checked (so parallel guesses cannot pass the cap) and
/// given back when the password was right.
pub struct LoginAttempt<'a> {
    ctx: &'a Context,
    identifier: String,
}

impl<'a> LoginAttempt<'a> {
    fn limit(ctx: &Context) -> RateLimit {
        RateLimit {
            limit: ctx.settings.login_failure_limit,
            window: ctx.settings.login_failure_window,
        }
    }

    pub async fn reserve(ctx: &'a Context, identifier: &Identifier) -> Result<Self, AuthError> {
        let identifier = identifier.key();
        Self::limit(ctx)
            .hit(ctx, "login_failure", &identifier, ANY_IP)
            .await?;
        Ok(LoginAttempt { ctx, identifier })
    }

    /// The password was right: this attempt does not count as a failure.
    pub async fn succeeded(self) -> Result<(), AuthError> {
        Self::limit(self.ctx)
            .refund(self.ctx, "login_failure", &self.identifier, ANY_IP)
            .await
    }
}

//! Rate limits: `REQUEST_LIMIT` requests per `REQUEST_WINDOW` seconds per
//! (identifier, subject, client IP), counted by one atomic conditional update per request,
//! so parallel requests cannot slip past the limit.
//!
//! Item: `pk = RATE#<subject>#<identifier>#<ip>#<window start>`, `sk = RATE`, with `hits`
//! and `expires_at` (the end of the window).

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::store::{self, n};

/// A fixed-window counter.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub limit: u32,
    pub window: u64,
}

impl RateLimit {
    /// Counts one request; 429 with the seconds until the window ends when over the limit.
    pub async fn hit(
        self,
        ctx: &Context,
        subject: &str,
        identifier: &str,
        ip: &str,
    ) -> Result<(), AuthError> {
        let now = clock::now();
        let window = self.window as i64;
        let start = now - now.rem_euclid(window);
        let end = start + window;
        let pk = format!("RATE#{subject}#{identifier}#{ip}#{start}");
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
}

/// The route limit of the settings (`REQUEST_LIMIT` per `REQUEST_WINDOW`).
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

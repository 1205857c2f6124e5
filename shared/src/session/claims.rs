//! Custom token claims: a static map (`CUSTOM_CLAIMS`) and a hook the deployer runs
//! (`CLAIMS_HOOK`, `hook`), called at every sign-in with the user (never a secret) and how
//! they signed in, answering claims to add. A hook that fails, is slow, or answers what it
//! may not (a reserved claim, more than `HOOK_ANSWER_LIMIT` bytes) fails the sign-in
//! closed: 503, and no token. The claims travel in the refresh token too, so a refresh
//! reuses them without calling the hook, unless `CLAIMS_ON_REFRESH` asks for them anew.

use serde_json::{Map, Value, json};

use super::hook::{HOOK_VERSION, checked, hook_failed};
use crate::identity::user::{SignInMethod, User};
use crate::{AuthError, Context};

/// The claims of `user`'s tokens, signing in by `method` now (`trigger` `sign_in`) or
/// refreshing (`refresh`): the static ones, and over them the hook's.
pub async fn for_user(
    ctx: &Context,
    user: &User,
    method: Option<SignInMethod>,
    trigger: &str,
) -> Result<Map<String, Value>, AuthError> {
    let mut claims = ctx.settings.claims.custom.clone();
    if ctx.claims_hook.is_none() {
        return Ok(claims);
    }
    let request = json!({
        "version": HOOK_VERSION,
        "trigger": trigger,
        "user": user.view(),
        "method": method.map(SignInMethod::name),
    });
    let timeout = std::time::Duration::from_millis(ctx.settings.claims.hook_timeout_ms);
    let answer = ctx.claims_hook.call(&request, timeout).await?;
    let added = serde_json::from_slice::<Value>(&answer)
        .ok()
        .and_then(|answer| answer.get("claims").cloned())
        .ok_or_else(|| hook_failed(&"the answer is not {\"claims\": {...}}"))?;
    let added = checked(added).map_err(|why| hook_failed(&why))?;
    claims.extend(added);
    Ok(claims)
}

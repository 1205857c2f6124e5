//! The second factor (`MFA`): TOTP set up, turned on with ten backup codes, its status,
//! turned off or given new backup codes with a current code (all protected); a sign-in
//! that answered `mfa_required` completed at `totp/verify/` (public, with its `mfa_token`);
//! step-up receipts (`stepup/`). `blockauth::mfa::factor` holds each step.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::contract::{Access, Answer, Body, Field, Kind, Operation, Refusal};
use blockauth::http::{self, Caller, ClientIp, Form, Routes};
use blockauth::mfa::factor;
use blockauth::rate_limit::{self, Subject};
use blockauth::{AuthError, Context, Feature};

pub fn routes() -> Routes {
    Routes::new(Feature::Mfa)
        .post(&SET_UP, set_up)
        .post(&CONFIRM, confirm)
        .get(&STATUS, status)
        .post(&DISABLE, disable)
        .post(&REGENERATE, regenerate)
        .post(&VERIFY, verify)
        .post(&STEP_UP, step_up)
}

const CODE: Field = Field {
    name: "code",
    aliases: &[],
    kind: Kind::Text,
    description: "The 6-digit code the authenticator app shows now (where said, or one of \
                  the account's backup codes).",
};

const BACKUP_CODES: Field = Field {
    name: "backup_codes",
    aliases: &[],
    kind: Kind::Texts,
    description: "Ten single-use backup codes, shown this once: each signs in (or turns the \
                  second factor off) once in place of a code.",
};

const BACKUP_ANSWER: Answer = Answer::Object {
    name: "BackupCodes",
    fields: &[&BACKUP_CODES],
};

const SET_UP: Operation = Operation {
    path: "totp/setup",
    summary: "A new TOTP secret for the caller's authenticator app",
    description: "Not required at sign-in until `totp/confirm/` sees a first valid code. \
                  409 `mfa_enabled` when the second factor is on already.",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::Object {
        name: "TotpSetup",
        fields: &[
            &Field {
                name: "secret",
                aliases: &[],
                kind: Kind::Text,
                description: "The secret, base32, to type into an app by hand.",
            },
            &Field {
                name: "otpauth_uri",
                aliases: &[],
                kind: Kind::Text,
                description: "The `otpauth://totp/...` URI (SHA-1, 6 digits, 30 s).",
            },
            &Field {
                name: "qr_svg",
                aliases: &[],
                kind: Kind::Document,
                description: "The URI as a QR code, an SVG document.",
            },
        ],
    },
    refusals: &[Refusal::Conflict],
};

const CONFIRM: Operation = Operation {
    path: "totp/confirm",
    summary: "Turn the second factor on with a first valid code",
    description: "Answers the backup codes; every other session of the account ends. 400 \
                  `mfa_code_invalid`, `mfa_not_set_up`.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&CODE],
        optional: &[],
    }),
    query: None,
    answer: BACKUP_ANSWER,
    refusals: &[Refusal::Rejected, Refusal::Conflict],
};

const STATUS: Operation = Operation {
    path: "totp/status",
    summary: "Whether the second factor is on, and the backup codes left",
    description: "For the caller's account.",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::Object {
        name: "TotpStatus",
        fields: &[
            &Field {
                name: "enabled",
                aliases: &[],
                kind: Kind::Boolean,
                description: "Whether every sign-in but a passkey's needs a code.",
            },
            &Field {
                name: "backup_codes_left",
                aliases: &[],
                kind: Kind::Integer,
                description: "Unused backup codes.",
            },
        ],
    },
    refusals: &[],
};

const DISABLE: Operation = Operation {
    path: "totp/disable",
    summary: "Turn the second factor off with a current code or a backup code",
    description: "The secret and the backup codes are removed, and a notice is mailed. 409 \
                  `mfa_not_enabled`.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&CODE],
        optional: &[],
    }),
    query: None,
    answer: Answer::Sent,
    refusals: &[Refusal::Rejected, Refusal::Conflict],
};

const REGENERATE: Operation = Operation {
    path: "totp/backup-codes/regenerate",
    summary: "New backup codes, for a current code",
    description: "The old backup codes stop working; a notice is mailed.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&CODE],
        optional: &[],
    }),
    query: None,
    answer: BACKUP_ANSWER,
    refusals: &[Refusal::Rejected, Refusal::Conflict],
};

const MFA_TOKEN: Field = Field {
    name: "mfa_token",
    aliases: &[],
    kind: Kind::Text,
    description: "The `mfa_token` the sign-in answered with `mfa_required`.",
};

const VERIFY: Operation = Operation {
    path: "totp/verify",
    summary: "Complete a sign-in with the second factor",
    description: "The code (or a backup code) for the sign-in of `mfa_token`: the session \
                  starts, once. Wrong codes are capped per `mfa_token` (`OTP_MAX_ATTEMPTS`) \
                  and per account (`LOGIN_FAILURE_*`). 401 `mfa_token_invalid`, 400 \
                  `mfa_code_invalid`.",
    access: Access::Public,
    body: Some(Body {
        identifier: false,
        required: &[&MFA_TOKEN, &CODE],
        optional: &[],
    }),
    query: None,
    answer: Answer::Session,
    refusals: &[Refusal::Rejected, Refusal::Unauthorized, Refusal::Conflict],
};

const SCOPE: Field = Field {
    name: "scope",
    aliases: &[],
    kind: Kind::Text,
    description: "What the receipt is for (`withdrawal`, `email_change`): letters, digits \
                  and `:._-`, at most 64.",
};

const AUDIENCE: Field = Field {
    name: "audience",
    aliases: &[],
    kind: Kind::Text,
    description: "The service that will check the receipt: `<TOKEN_AUDIENCE>:stepup` by \
                  default, or one of `STEPUP_AUDIENCES`.",
};

const STEP_UP: Operation = Operation {
    path: "stepup",
    summary: "A step-up receipt for a fresh second factor",
    description: "A JWT of `type` `stepup` with `scope`, `aud` the service, `sub` the \
                  caller, living 120 s, signed like access tokens (the published keys \
                  verify it). 409 `mfa_not_enabled`.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&CODE, &SCOPE],
        optional: &[&AUDIENCE],
    }),
    query: None,
    answer: Answer::Object {
        name: "StepUpReceipt",
        fields: &[
            &Field {
                name: "receipt",
                aliases: &[],
                kind: Kind::Token,
                description: "The receipt (JWT).",
            },
            &Field {
                name: "expires_in",
                aliases: &[],
                kind: Kind::Integer,
                description: "Seconds it lives.",
            },
        ],
    },
    refusals: &[Refusal::Rejected, Refusal::Conflict],
};

async fn set_up(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
) -> Result<Response, AuthError> {
    rate_limit::check(&ctx, Subject::TotpSetup, &user.id, &ip).await?;
    Ok(http::ok(factor::set_up(&ctx, &user).await?))
}

/// The `code` of a body that has only it.
fn code(mut form: Form) -> Result<String, AuthError> {
    let code = form.text(&CODE);
    let Some(code) = code else {
        return Err(form.invalid());
    };
    form.finish()?;
    Ok(code)
}

async fn confirm(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, claims }: Caller,
    form: Form,
) -> Result<Response, AuthError> {
    let code = code(form)?;
    rate_limit::check(&ctx, Subject::TotpConfirm, &user.id, &ip).await?;
    Ok(http::ok(factor::confirm(&ctx, user, &claims, &code).await?))
}

async fn status(
    State(ctx): State<Arc<Context>>,
    Caller { user, .. }: Caller,
) -> Result<Response, AuthError> {
    Ok(http::ok(factor::status(&ctx, &user).await?))
}

async fn disable(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    form: Form,
) -> Result<Response, AuthError> {
    let code = code(form)?;
    rate_limit::check(&ctx, Subject::TotpDisable, &user.id, &ip).await?;
    factor::disable(&ctx, user, &code).await?;
    Ok(http::ok(serde_json::json!({
        "message": "Two-step sign-in is off.",
    })))
}

async fn regenerate(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    form: Form,
) -> Result<Response, AuthError> {
    let code = code(form)?;
    rate_limit::check(&ctx, Subject::TotpRegenerate, &user.id, &ip).await?;
    Ok(http::ok(factor::regenerate(&ctx, user, &code).await?))
}

async fn verify(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let token = form.text(&MFA_TOKEN);
    let code = form.text(&CODE);
    let (Some(token), Some(code)) = (token, code) else {
        return Err(form.invalid());
    };
    form.finish()?;
    rate_limit::check_network(&ctx, Subject::TotpVerify, &ip).await?;
    let signed_in = factor::verify(&ctx, token.trim(), &code, &ip).await?;
    Ok(http::ok(signed_in.body()))
}

async fn step_up(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, claims }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let code = form.text(&CODE);
    let scope = form.text(&SCOPE);
    let audience = form.optional_text(&AUDIENCE);
    let (Some(code), Some(scope)) = (code, scope) else {
        return Err(form.invalid());
    };
    form.finish()?;
    let scope = scope.trim();
    let scope_ok = scope.len() <= 64
        && scope
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ":._-".contains(c));
    if !scope_ok {
        return Err(AuthError::field(
            "scope",
            "Use letters, digits and `:._-`, at most 64.",
        ));
    }
    rate_limit::check(&ctx, Subject::StepUp, &user.id, &ip).await?;
    let receipt = factor::step_up(&ctx, &user, &claims, &code, scope, audience.as_deref(), &ip);
    Ok(http::ok(receipt.await?))
}

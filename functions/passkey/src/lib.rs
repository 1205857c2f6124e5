//! Passkeys (`PASSKEY_AUTH`): a signed-in user registers passkeys and manages them; anyone
//! signs in with one, for an email or discoverable (usernameless, autofill). Clients send
//! the credential exactly as the browser's `PublicKeyCredential.toJSON()` gives it; the
//! ceremony is found by the challenge inside it. `blockauth::passkey` holds each step.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use blockauth::contract::{Access, Answer, Body, Field, Kind, Operation, Refusal};
use blockauth::http::{self, Caller, ClientIp, Form, Routes};
use blockauth::passkey::{self, NAME_LIMIT};
use blockauth::rate_limit::{self, Subject};
use blockauth::session::refresh_family::Device;
use blockauth::{AuthError, Context, Feature};

pub fn routes() -> Routes {
    Routes::new(Feature::PasskeyAuth)
        .post(&REGISTER_OPTIONS, register_options)
        .post(&REGISTER, register)
        .post(&SIGN_IN_OPTIONS, sign_in_options)
        .post(&SIGN_IN, sign_in)
        .get(&LIST, list)
        .patch(&RENAME, rename)
        .delete(&DELETE, delete)
}

const PUBLIC_KEY: Field = Field {
    name: "publicKey",
    aliases: &[],
    kind: Kind::Object,
    description: "The options for `navigator.credentials.create` / `.get`, in their JSON form \
                  (binary values base64url): `PublicKeyCredential.parseCreationOptionsFromJSON` \
                  or `parseRequestOptionsFromJSON` takes them.",
};

const CREDENTIAL: Field = Field {
    name: "credential",
    aliases: &[],
    kind: Kind::Object,
    description: "The browser's `PublicKeyCredential.toJSON()`, as it is.",
};

const NAME: Field = Field {
    name: "name",
    aliases: &[],
    kind: Kind::Text,
    description: "What the account owner calls this passkey (at most 64 characters).",
};

const EMAIL: Field = Field {
    name: "email",
    aliases: &[],
    kind: Kind::Email,
    description: "Whose passkeys may answer; without it, any passkey of this site \
                  (discoverable: the browser offers the user's own).",
};

const ID: Field = Field {
    name: "id",
    aliases: &[],
    kind: Kind::Text,
    description: "The passkey's id (a UUID).",
};

const CREATED_AT: Field = Field {
    name: "created_at",
    aliases: &[],
    kind: Kind::Time,
    description: "When it was registered.",
};

const LAST_USED_AT: Field = Field {
    name: "last_used_at",
    aliases: &[],
    kind: Kind::NullableTime,
    description: "When it last signed in, if ever.",
};

const TRANSPORTS: Field = Field {
    name: "transports",
    aliases: &[],
    kind: Kind::Texts,
    description: "How the browser reaches it (`internal`, `hybrid`, `usb`...), as it said.",
};

const BACKUP_ELIGIBLE: Field = Field {
    name: "backup_eligible",
    aliases: &[],
    kind: Kind::Boolean,
    description: "Whether it can be synced to other devices.",
};

const BACKUP_STATE: Field = Field {
    name: "backup_state",
    aliases: &[],
    kind: Kind::Boolean,
    description: "Whether it is synced now.",
};

const PASSKEY_FIELDS: &[&Field] = &[
    &ID,
    &NAME,
    &CREATED_AT,
    &LAST_USED_AT,
    &TRANSPORTS,
    &BACKUP_ELIGIBLE,
    &BACKUP_STATE,
];

const COUNT: Field = Field {
    name: "count",
    aliases: &[],
    kind: Kind::Integer,
    description: "How many passkeys the account has.",
};

const CREDENTIALS: Field = Field {
    name: "credentials",
    aliases: &[],
    kind: Kind::Objects,
    description: "Each passkey, oldest first, as `PATCH` answers it.",
};

const REGISTER_OPTIONS: Operation = Operation {
    path: "passkey/register/options",
    summary: "Options to register a passkey",
    description: "For `navigator.credentials.create`: a discoverable credential with user \
                  verification, the account's passkeys excluded. The ceremony lasts \
                  `PASSKEY_CHALLENGE_TTL` seconds. 409 `passkey_limit` at \
                  `PASSKEY_MAX_CREDENTIALS`.",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::Object {
        name: "PasskeyOptions",
        fields: &[&PUBLIC_KEY],
    },
    refusals: &[Refusal::Conflict],
};

const REGISTER: Operation = Operation {
    path: "passkey/register/verify",
    summary: "Register the passkey the browser made",
    description: "The credential must answer one of the caller's registration options, once, \
                  from an allowed origin for this relying party. 409 `passkey_taken` for a \
                  credential registered already (to any account), `passkey_limit` at the \
                  limit.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&CREDENTIAL],
        optional: &[&NAME],
    }),
    query: None,
    answer: Answer::Created {
        name: "Passkey",
        fields: PASSKEY_FIELDS,
    },
    refusals: &[Refusal::Rejected, Refusal::Conflict],
};

const SIGN_IN_OPTIONS: Operation = Operation {
    path: "passkey/auth/options",
    summary: "Options to sign in with a passkey",
    description: "For `navigator.credentials.get`. With an email, that account's passkeys \
                  (an email without any gets options of the same shape, so the answer tells \
                  nobody who has an account); without one, discoverable, with \
                  `mediation: \"conditional\"` for autofill.",
    access: Access::Public,
    body: Some(Body {
        identifier: false,
        required: &[],
        optional: &[&EMAIL],
    }),
    query: None,
    answer: Answer::Object {
        name: "PasskeySignInOptions",
        fields: &[&PUBLIC_KEY],
    },
    refusals: &[],
};

const SIGN_IN: Operation = Operation {
    path: "passkey/auth/verify",
    summary: "Sign in with a passkey",
    description: "The browser's assertion for one of these sign-in options, once. A \
                  passkey whose counter went backwards (a cloned authenticator) is refused; \
                  one that always counts 0 (synced) works.",
    access: Access::Public,
    body: Some(Body {
        identifier: false,
        required: &[&CREDENTIAL],
        optional: &[],
    }),
    query: None,
    answer: Answer::Session,
    refusals: &[Refusal::Rejected, Refusal::Unauthorized],
};

const LIST: Operation = Operation {
    path: "passkey/credentials",
    summary: "The caller's passkeys",
    description: "Never their keys.",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::Object {
        name: "PasskeyList",
        fields: &[&COUNT, &CREDENTIALS],
    },
    refusals: &[],
};

const RENAME: Operation = Operation {
    path: "passkey/credentials/{id}",
    summary: "Rename one of the caller's passkeys",
    description: "404 for a passkey that is not the caller's.",
    access: Access::Bearer,
    body: Some(Body {
        identifier: false,
        required: &[&NAME],
        optional: &[],
    }),
    query: None,
    answer: Answer::Object {
        name: "Passkey",
        fields: PASSKEY_FIELDS,
    },
    refusals: &[Refusal::Rejected, Refusal::NotFound],
};

const DELETE: Operation = Operation {
    path: "passkey/credentials/{id}",
    summary: "Delete one of the caller's passkeys",
    description: "404 for a passkey that is not the caller's; 409 `last_way_in` when it is \
                  the account's only way in (no password, email, phone, wallet or social \
                  provider).",
    access: Access::Bearer,
    body: None,
    query: None,
    answer: Answer::NoContent,
    refusals: &[Refusal::NotFound, Refusal::Conflict],
};

/// A passkey's name: text without control characters, at most `NAME_LIMIT` characters.
fn name(form: &mut Form) -> Result<Option<String>, AuthError> {
    let Some(name) = form.optional_text(&NAME) else {
        return Ok(None);
    };
    let name = name.trim();
    if name.chars().count() > NAME_LIMIT || name.chars().any(char::is_control) {
        return Err(AuthError::BadRequest {
            code: "invalid_name",
            detail: "A passkey's name is at most 64 characters, without control characters.",
        });
    }
    Ok(Some(name.to_owned()))
}

async fn register_options(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
) -> Result<Response, AuthError> {
    rate_limit::check(&ctx, Subject::PasskeyRegisterOptions, &user.id, &ip).await?;
    Ok(http::ok(passkey::register_options(&ctx, &user).await?))
}

async fn register(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    Caller { user, .. }: Caller,
    mut form: Form,
) -> Result<Response, AuthError> {
    let credential = form.object(&CREDENTIAL);
    let name = name(&mut form)?;
    let Some(credential) = credential else {
        return Err(form.invalid());
    };
    form.finish()?;
    rate_limit::check(&ctx, Subject::PasskeyRegister, &user.id, &ip).await?;
    let stored = passkey::register(&ctx, user, credential, name).await?;
    Ok(http::created(stored.view()))
}

async fn sign_in_options(
    State(ctx): State<Arc<Context>>,
    ClientIp(ip): ClientIp,
    mut form: Form,
) -> Result<Response, AuthError> {
    let email = match form.optional_text(&EMAIL) {
        Some(_) => form.email(&EMAIL),
        None => None,
    };
    form.finish()?;
    rate_limit::check_network(&ctx, Subject::PasskeySignInOptions, &ip).await?;
    Ok(http::ok(
        passkey::sign_in_options(&ctx, email.as_ref()).await?,
    ))
}

async fn sign_in(
    State(ctx): State<Arc<Context>>,
    device: Device,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Some(credential) = form.object(&CREDENTIAL) else {
        return Err(form.invalid());
    };
    form.finish()?;
    rate_limit::check_network(&ctx, Subject::PasskeySignIn, &device.network).await?;
    Ok(http::ok(
        passkey::sign_in(&ctx, credential, &device).await?.body(),
    ))
}

async fn list(
    State(ctx): State<Arc<Context>>,
    Caller { user, .. }: Caller,
) -> Result<Response, AuthError> {
    Ok(http::ok(passkey::list(&ctx, &user).await?))
}

async fn rename(
    State(ctx): State<Arc<Context>>,
    Caller { user, .. }: Caller,
    id: Result<Path<String>, PathRejection>,
    mut form: Form,
) -> Result<Response, AuthError> {
    let Ok(Path(id)) = id else {
        return Err(passkey::NOT_FOUND);
    };
    let name = name(&mut form)?;
    let Some(name) = name else {
        form.text(&NAME);
        return Err(form.invalid());
    };
    form.finish()?;
    Ok(http::ok(passkey::rename(&ctx, &user, &id, &name).await?))
}

async fn delete(
    State(ctx): State<Arc<Context>>,
    Caller { user, .. }: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AuthError> {
    let Ok(Path(id)) = id else {
        return Err(passkey::NOT_FOUND);
    };
    passkey::delete(&ctx, user, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! The published keys (`KEYS`, served only with an asymmetric `ALGORITHM`):
//! `.well-known/jwks.json`, the public keys that verify our tokens, and
//! `.well-known/openid-configuration`, the discovery document that names them, so that
//! any JWT library (or API Gateway's JWT authorizer) verifies our tokens with no secret.

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use blockauth::Feature;
use blockauth::contract::{Access, Answer, Field, Kind, Operation};
use blockauth::http::{self, Routes};
use blockauth::{AuthError, Context};
use serde_json::json;

pub fn routes() -> Routes {
    Routes::new(Feature::Keys)
        .get(&JWKS, jwks)
        .get(&DISCOVERY, discovery)
}

/// How long a cache may keep the published keys: a rotated key is published
/// `KEY_ROTATION_GRACE` seconds before it signs, far longer than this.
const MAX_AGE: u32 = 300;

const KEYS: Field = Field {
    name: "keys",
    aliases: &[],
    kind: Kind::Objects,
    description: "The public keys (RFC 7517 JWKs with `kid`, `alg` and `use`), the one that \
                  signs now and those that still verify tokens they signed, and one that \
                  will sign after a rotation's grace period.",
};

const JWKS: Operation = Operation {
    path: ".well-known/jwks.json",
    summary: "The public keys that verify our tokens (JWKS)",
    description: "Cacheable for 5 minutes. A token's `kid` names its key.",
    access: Access::Public,
    body: None,
    query: None,
    answer: Answer::Object {
        name: "Jwks",
        fields: &[&KEYS],
    },
    refusals: &[],
};

const ISSUER: Field = Field {
    name: "issuer",
    aliases: &[],
    kind: Kind::Text,
    description: "`TOKEN_ISSUER`: the API's base URL, our tokens' `iss`.",
};

const JWKS_URI: Field = Field {
    name: "jwks_uri",
    aliases: &[],
    kind: Kind::Text,
    description: "Where the public keys are.",
};

const ALGORITHMS: Field = Field {
    name: "id_token_signing_alg_values_supported",
    aliases: &[],
    kind: Kind::Texts,
    description: "The one algorithm our tokens are signed with (`ALGORITHM`).",
};

const SUBJECT_TYPES: Field = Field {
    name: "subject_types_supported",
    aliases: &[],
    kind: Kind::Texts,
    description: "`public`: a user's `sub` is the same for everyone.",
};

const DISCOVERY: Operation = Operation {
    path: ".well-known/openid-configuration",
    summary: "The discovery document: the issuer and where its keys are",
    description: "What OpenID Connect discovery asks of an issuer, so that a verifier given \
                  only the issuer finds the keys. Cacheable for 5 minutes.",
    access: Access::Public,
    body: None,
    query: None,
    answer: Answer::Object {
        name: "Discovery",
        fields: &[&ISSUER, &JWKS_URI, &ALGORITHMS, &SUBJECT_TYPES],
    },
    refusals: &[],
};

async fn jwks(State(ctx): State<Arc<Context>>) -> Result<Response, AuthError> {
    let keys = ctx.tokens.published().await.ok_or(AuthError::NotFound)?;
    Ok(http::cacheable(keys, MAX_AGE))
}

async fn discovery(State(ctx): State<Arc<Context>>) -> Response {
    let issuer = &ctx.settings.session.token_issuer;
    http::cacheable(
        json!({
            "issuer": issuer,
            "jwks_uri": format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            "id_token_signing_alg_values_supported": [ctx.tokens.algorithm().name()],
            "subject_types_supported": ["public"],
        }),
        MAX_AGE,
    )
}

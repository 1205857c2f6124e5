//! Rotating the token key set in Secrets Manager, as a rotation function does (the `keys`
//! function, on the secret's schedule): Secrets Manager calls it four times per rotation,
//! with the new version's token and each step.
//!
//! - `createSecret`: the current key set, rotated (`KeySet::rotated`: a new key published
//!   now and signing after `KEY_ROTATION_GRACE`, retired keys dropped once their tokens have
//!   expired), stored as the token's version with the stage `AWSPENDING`; done once.
//! - `setSecret`: nothing (no other service holds the keys).
//! - `testSecret`: the pending set loads, and each key signs and verifies.
//! - `finishSecret`: `AWSCURRENT` moves to the token's version, and `AWSPENDING` leaves it.

use aws_sdk_secretsmanager::Client;
use serde::Deserialize;

use crate::clock;
use crate::session::keys::KeySet;
use crate::session::settings::SessionSettings;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";

/// What Secrets Manager sends a rotation function.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationEvent {
    pub secret_id: String,
    pub client_request_token: String,
    pub step: String,
}

/// Whether `event` (a Lambda invocation's payload) is a rotation step.
pub fn is_rotation(event: &serde_json::Value) -> bool {
    event.get("Step").is_some() && event.get("ClientRequestToken").is_some()
}

/// Runs one step of the rotation `event` of the key set, with `settings`' algorithm, grace
/// period and refresh lifetime (how long a retired key's tokens live).
pub async fn step(
    client: &Client,
    settings: &SessionSettings,
    event: &RotationEvent,
) -> Result<(), String> {
    let secret = event.secret_id.as_str();
    let token = event.client_request_token.as_str();
    let described = client
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| failed("describe", e))?;
    let stages = described
        .version_ids_to_stages()
        .and_then(|versions| versions.get(token))
        .ok_or_else(|| format!("version {token} of {secret} is not being rotated"))?;
    if stages.iter().any(|s| s == CURRENT) {
        return Ok(()); // This version is already current: nothing left to do.
    }
    if !stages.iter().any(|s| s == PENDING) {
        return Err(format!("version {token} of {secret} is not {PENDING}"));
    }
    match event.step.as_str() {
        "createSecret" => create(client, settings, secret, token).await,
        "setSecret" => Ok(()),
        "testSecret" => {
            let pending = text(client, secret, Some(token), PENDING).await?;
            test(&KeySet::parse(&pending)?, settings)
        }
        "finishSecret" => {
            let current = described
                .version_ids_to_stages()
                .into_iter()
                .flatten()
                .find(|(_, stages)| stages.iter().any(|s| s == CURRENT))
                .map(|(version, _)| version.clone());
            client
                .update_secret_version_stage()
                .secret_id(secret)
                .version_stage(CURRENT)
                .move_to_version_id(token)
                .set_remove_from_version_id(current)
                .send()
                .await
                .map_err(|e| failed("finish", e))?;
            // Done: no version is pending (one of the two ends Secrets Manager accepts).
            client
                .update_secret_version_stage()
                .secret_id(secret)
                .version_stage(PENDING)
                .remove_from_version_id(token)
                .send()
                .await
                .map_err(|e| failed("finish", e))?;
            Ok(())
        }
        other => Err(format!("unknown rotation step {other:?}")),
    }
}

async fn create(
    client: &Client,
    settings: &SessionSettings,
    secret: &str,
    token: &str,
) -> Result<(), String> {
    // A retried step finds its version already written.
    if text(client, secret, Some(token), PENDING).await.is_ok() {
        return Ok(());
    }
    let current = KeySet::parse(&text(client, secret, None, CURRENT).await?)?;
    let next = current.rotated(
        settings.algorithm,
        clock::now(),
        settings.key_rotation_grace as i64,
        settings.refresh_token_lifetime as i64,
    )?;
    client
        .put_secret_value()
        .secret_id(secret)
        .client_request_token(token)
        .secret_string(next.to_text())
        .version_stages(PENDING)
        .send()
        .await
        .map_err(|e| failed("create", e))?;
    Ok(())
}

/// Each key of `set` signs a token that it then verifies.
fn test(set: &KeySet, settings: &SessionSettings) -> Result<(), String> {
    let keys = set.load(settings.algorithm)?;
    if keys.is_empty() {
        return Err(format!("no {} key", settings.algorithm.name()));
    }
    let claims = serde_json::json!({"sub": "rotation-test", "exp": clock::now() + 60});
    for key in &keys {
        let header = jsonwebtoken::Header::new(settings.algorithm.jwt());
        let token = jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|e| format!("key {}: {e}", key.kid))?;
        let mut validation = jsonwebtoken::Validation::new(settings.algorithm.jwt());
        validation.required_spec_claims.clear();
        validation.validate_aud = false;
        jsonwebtoken::decode::<serde_json::Value>(&token, &key.decoding, &validation)
            .map_err(|e| format!("key {}: {e}", key.kid))?;
    }
    Ok(())
}

/// The text of a version of `secret`: by id, else by stage.
async fn text(
    client: &Client,
    secret: &str,
    version: Option<&str>,
    stage: &str,
) -> Result<String, String> {
    let out = client
        .get_secret_value()
        .secret_id(secret)
        .set_version_id(version.map(str::to_owned))
        .version_stage(stage)
        .send()
        .await
        .map_err(|e| failed("read", e))?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or_else(|| format!("{secret} has no text"))
}

fn failed<E: std::error::Error + 'static>(
    what: &str,
    e: aws_sdk_secretsmanager::error::SdkError<E>,
) -> String {
    format!(
        "{what}: {}",
        aws_sdk_secretsmanager::error::DisplayErrorContext(e)
    )
}

//! The secret that signs tokens and keys the hashes of codes: from Secrets Manager in Lambda
//! (read once per container), from a key file generated on first start locally.

use aws_lc_rs::hmac;

/// Fewer bytes than this is not a key.
const MIN_KEY_BYTES: usize = 32;

#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    pub fn from_text(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the signing key must be at least {MIN_KEY_BYTES} bytes"
            ));
        }
        Ok(SigningKey(text.as_bytes().to_vec()))
    }

    /// A new random key, as text.
    pub fn generate_text() -> Result<String, String> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "no randomness".to_owned())?;
        Ok(crate::encode::hex(&bytes))
    }

    /// Reads the key from the Secrets Manager secret `secret_id` (its string value).
    pub async fn from_secrets_manager(
        client: &aws_sdk_secretsmanager::Client,
        secret_id: &str,
    ) -> Result<Self, String> {
        Self::from_text(&secret_text(client, secret_id).await?)
    }

    /// The key file at `path`, created with a fresh random key if it does not exist: the
    /// file with mode 0600 and missing folders with 0700 from the start (never loosened
    /// first and tightened after), since whoever reads the key can forge any token.
    #[cfg(feature = "local")]
    pub fn load_or_generate(path: &std::path::Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_text(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let text = Self::generate_text()?;
                write_private(path, &text)?;
                Self::from_text(&text)
            }
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// A separate key for another use (e.g. hashing codes), so one key never serves two.
    pub fn derive(&self, purpose: &str) -> Vec<u8> {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        hmac::sign(&key, purpose.as_bytes()).as_ref().to_vec()
    }
}

/// Writes `text` to a new file at `path` that only its owner may read (mode 0600, and
/// missing folders 0700, from the start: never loosened first and tightened after), never
/// into a file that appeared meanwhile, and leaves no partial file behind.
#[cfg(feature = "local")]
pub fn write_private(path: &std::path::Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let failed = |e: std::io::Error| format!("{}: {e}", path.display());
    private_folders_of(path)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(failed)?;
    if let Err(e) = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
    {
        let _ = std::fs::remove_file(path);
        return Err(failed(e));
    }
    Ok(())
}

/// Creates the missing folders of `path` readable only by their owner (mode 0700): local
/// data (the key, the embedded DynamoDB's file) is nobody else's to read.
#[cfg(feature = "local")]
pub fn private_folders_of(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    match path.parent() {
        Some(dir) => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("{}: {e}", dir.display())),
        None => Ok(()),
    }
}

/// The text of the Secrets Manager secret `secret_id` (its current version, named: the
/// default, said outright, since a rotation moves it).
pub async fn secret_text(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<String, String> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .version_stage("AWSCURRENT")
        .send()
        .await
        .map_err(|e| {
            format!(
                "read secret {secret_id}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
    out.secret_string()
        .map(str::to_owned)
        .ok_or_else(|| format!("secret {secret_id} has no string value"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_are_refused() {
        assert!(SigningKey::from_text("short").is_err());
        let text = SigningKey::generate_text().unwrap();
        assert_eq!(text.len(), 64);
        let key = SigningKey::from_text(&text).unwrap();
        assert_ne!(key.derive("a"), key.derive("b"));
        assert_eq!(format!("{key:?}"), "SigningKey(..)");
    }
}

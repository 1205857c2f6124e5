//! Passwords: argon2id hashing (m=19456 KiB, t=2, p=1, PHC strings) and the validators.
//!
//! The validators are Django's four defaults plus BlockAuth's, each selectable by its
//! Django class name in `PASSWORD_VALIDATORS`.

use std::str::FromStr;
use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::AuthError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validator {
    /// Django's `UserAttributeSimilarityValidator`: not too like the identifier.
    UserAttributeSimilarity,
    /// Django's `MinimumLengthValidator`.
    MinimumLength,
    /// Django's `CommonPasswordValidator`.
    CommonPassword,
    /// Django's `NumericPasswordValidator`.
    NumericPassword,
    /// BlockAuth's: 8-128 characters with upper, lower, digit and symbol.
    BlockAuth,
}

impl FromStr for Validator {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "UserAttributeSimilarityValidator" => Validator::UserAttributeSimilarity,
            "MinimumLengthValidator" => Validator::MinimumLength,
            "CommonPasswordValidator" => Validator::CommonPassword,
            "NumericPasswordValidator" => Validator::NumericPassword,
            "BlockAuthPasswordValidator" => Validator::BlockAuth,
            _ => return Err(()),
        })
    }
}

#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    pub validators: Vec<Validator>,
    pub min_length: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            validators: vec![
                Validator::UserAttributeSimilarity,
                Validator::MinimumLength,
                Validator::CommonPassword,
                Validator::NumericPassword,
                Validator::BlockAuth,
            ],
            min_length: 8,
        }
    }
}

/// Django's default maximum similarity.
const MAX_SIMILARITY: f64 = 0.7;
const MAX_LENGTH: usize = 128;

impl PasswordPolicy {
    /// Every message for what is wrong with `password`, empty when it is acceptable.
    /// `user_attributes` are the account's identifiers (email, phone) by name.
    pub fn problems(&self, password: &str, user_attributes: &[(&str, &str)]) -> Vec<String> {
        let mut problems = Vec::new();
        let length = password.chars().count();
        for validator in &self.validators {
            match validator {
                Validator::MinimumLength if length < self.min_length as usize => {
                    problems.push(format!(
                        "This password is too short. It must contain at least {} characters.",
                        self.min_length
                    ))
                }
                Validator::CommonPassword
                    if passwords::analyzer::is_common_password(password.to_lowercase()) =>
                {
                    problems.push("This password is too common.".into())
                }
                Validator::NumericPassword if password.chars().all(|c| c.is_ascii_digit()) => {
                    problems.push("This password is entirely numeric.".into())
                }
                Validator::UserAttributeSimilarity => {
                    if let Some((name, _)) = user_attributes
                        .iter()
                        .find(|(_, value)| too_similar(password, value))
                    {
                        problems.push(format!("The password is too similar to the {name}."));
                    }
                }
                Validator::BlockAuth => problems.extend(blockauth_problems(password, length)),
                _ => {}
            }
        }
        problems
    }

    /// A 400 on `field` listing every problem, or Ok.
    pub fn validate(
        &self,
        field: &str,
        password: &str,
        user_attributes: &[(&str, &str)],
    ) -> Result<(), AuthError> {
        let problems = self.problems(password, user_attributes);
        if problems.is_empty() {
            return Ok(());
        }
        Err(AuthError::Invalid([(field.to_owned(), problems)].into()))
    }
}

type CharTest = fn(char) -> bool;

fn blockauth_problems(password: &str, length: usize) -> Vec<String> {
    let mut problems = Vec::new();
    if !(8..=MAX_LENGTH).contains(&length) {
        problems.push(format!(
            "The password must be between 8 and {MAX_LENGTH} characters long."
        ));
    }
    let checks: [(CharTest, &str); 4] = [
        (char::is_uppercase, "an uppercase letter"),
        (char::is_lowercase, "a lowercase letter"),
        (|c| c.is_ascii_digit(), "a digit"),
        (|c| !c.is_alphanumeric() && !c.is_whitespace(), "a symbol"),
    ];
    for (check, what) in checks {
        if !password.chars().any(check) {
            problems.push(format!("The password must contain at least {what}."));
        }
    }
    problems
}

/// Django's similarity test: the password against the attribute and each of its parts
/// split at non-word characters, by the ratio of shared characters (difflib's quick ratio).
fn too_similar(password: &str, attribute: &str) -> bool {
    let password = password.to_lowercase();
    let attribute = attribute.to_lowercase();
    let parts = std::iter::once(attribute.as_str())
        .chain(attribute.split(|c: char| !c.is_alphanumeric() && c != '_'))
        .filter(|p| !p.is_empty());
    for part in parts {
        let (pwd_len, part_len) = (password.chars().count(), part.chars().count());
        // Django skips parts far shorter than the password: they cannot be "too similar".
        if pwd_len >= 10 * part_len && (part_len as f64) < MAX_SIMILARITY / 2.0 * pwd_len as f64 {
            continue;
        }
        if quick_ratio(&password, part) >= MAX_SIMILARITY {
            return true;
        }
    }
    false
}

/// 2 × (characters the two share, counted with multiplicity) / (total length).
fn quick_ratio(a: &str, b: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    for c in b.chars() {
        *counts.entry(c).or_insert(0i32) += 1;
    }
    let mut matches = 0;
    for c in a.chars() {
        if let Some(n) = counts.get_mut(&c).filter(|n| **n > 0) {
            *n -= 1;
            matches += 1;
        }
    }
    let total = a.chars().count() + b.chars().count();
    if total == 0 {
        return 1.0;
    }
    2.0 * matches as f64 / total as f64
}

fn hasher() -> Argon2<'static> {
    // The parameters are constants that argon2 accepts; the fallback cannot be reached.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The argon2id PHC string of `password`, computed off the async runtime.
pub async fn hash(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| AuthError::unavailable("password hashing", &e))?
}

fn hash_now(password: &str) -> Result<String, AuthError> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::unavailable("password hashing", &e))
}

/// Whether `password` matches the PHC string; with no stored hash, the same work is done
/// against a dummy hash so that an unknown account answers in about the same time.
/// The argon2id hash of `password` with the salt of the PHC string `like` (a fresh salt
/// when there is none): equal passwords then give equal strings, so one run compares a
/// password with every hash that shares the salt. The same work either way.
pub async fn hash_like(password: String, like: Option<String>) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || {
        let salt = like
            .as_deref()
            .and_then(|phc| PasswordHash::new(phc).ok())
            .and_then(|parsed| parsed.salt);
        match salt {
            Some(salt) => hasher()
                .hash_password_with_salt(password.as_bytes(), salt.as_ref())
                .map(|h| h.to_string())
                .map_err(|e| AuthError::unavailable("password hashing", &e)),
            None => hash_now(&password),
        }
    })
    .await
    .map_err(|e| AuthError::unavailable("password hashing", &e))?
}

pub async fn verify(password: String, stored: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let dummy = stored.is_none();
        let phc = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let matches = PasswordHash::new(&phc)
            .map(|parsed| {
                hasher()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        matches && !dummy
    })
    .await
    .unwrap_or(false)
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_now("not a password of anyone").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::default()
    }

    #[test]
    fn a_strong_password_passes() {
        assert!(
            policy()
                .problems("Tr0ub4dor&3x", &[("email", "ada@example.com")])
                .is_empty()
        );
    }

    #[test]
    fn each_validator_speaks() {
        let p = policy();
        assert!(
            p.problems("Ab1!", &[])
                .iter()
                .any(|m| m.contains("too short"))
        );
        assert!(
            p.problems("password", &[])
                .iter()
                .any(|m| m.contains("too common"))
        );
        assert!(
            p.problems("83749261", &[])
                .iter()
                .any(|m| m.contains("entirely numeric"))
        );
        assert!(
            p.problems("Adalovelace1!", &[("email", "adalovelace@example.com")])
                .iter()
                .any(|m| m.contains("too similar to the email"))
        );
        let weak = p.problems("alllowercase", &[]);
        assert!(weak.iter().any(|m| m.contains("uppercase")));
        assert!(weak.iter().any(|m| m.contains("digit")));
        assert!(weak.iter().any(|m| m.contains("symbol")));
        let long = "Aa1!".repeat(40);
        assert!(
            p.problems(&long, &[])
                .iter()
                .any(|m| m.contains("between 8 and 128"))
        );
    }

    #[test]
    fn validators_are_configurable() {
        let p = PasswordPolicy {
            validators: vec![Validator::MinimumLength],
            min_length: 4,
        };
        assert!(p.problems("1234", &[]).is_empty());
        assert!("NoSuchValidator".parse::<Validator>().is_err());
    }

    #[test]
    fn quick_ratio_matches_difflib() {
        assert_eq!(quick_ratio("abcd", "abcd"), 1.0);
        assert_eq!(quick_ratio("abcd", "wxyz"), 0.0);
        assert_eq!(quick_ratio("ab", "abcd"), 2.0 * 2.0 / 6.0);
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_and_verify() {
        let phc = hash("Tr0ub4dor&3x".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("Tr0ub4dor&3x".into(), Some(phc.clone())).await);
        assert!(!verify("wrong".into(), Some(phc)).await);
        assert!(!verify("not a password of anyone".into(), None).await);
        assert!(!verify("x".into(), Some("not a phc string".into())).await);
    }
}

//! Passwords: argon2id hashing (m=19456 KiB, t=2, p=1, PHC strings) and the validators.
//!
//! Hashing is bounded per process: at most one computation per core at once, each in a
//! reusable 19 MiB buffer, so argon2 never holds more than cores × 19 MiB however many
//! requests arrive (`infra/measurements/memory.md`).
//!
//! The validators are Django's four defaults plus BlockAuth's, each selectable by its
//! Django class name in `PASSWORD_VALIDATORS`. `CommonPasswordValidator` uses Django's own
//! list (`shared/data/README.md`: its source, licence and how to refresh it), embedded
//! gzipped and inflated once, on the first password checked.

use std::io::Read;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::try_generate_salt;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

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
    /// Unavailable when the common-password list is selected but could not be loaded.
    pub fn problems(
        &self,
        password: &str,
        user_attributes: &[(&str, &str)],
    ) -> Result<Vec<String>, AuthError> {
        self.problems_with(CommonPasswords::shared(), password, user_attributes)
    }

    fn problems_with(
        &self,
        common: &Result<CommonPasswords, String>,
        password: &str,
        user_attributes: &[(&str, &str)],
    ) -> Result<Vec<String>, AuthError> {
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
                Validator::CommonPassword => match common {
                    Ok(list) if list.is_common(password) => {
                        problems.push("This password is too common.".into())
                    }
                    Ok(_) => {}
                    // Never accept a password that could not be checked: 503, as for any
                    // dependency that fails, and the error is logged.
                    Err(e) => return Err(AuthError::unavailable("common-password list", e)),
                },
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
        Ok(problems)
    }

    /// A 400 on `field` listing every problem, or Ok.
    pub fn validate(
        &self,
        field: &str,
        password: &str,
        user_attributes: &[(&str, &str)],
    ) -> Result<(), AuthError> {
        let problems = self.problems(password, user_attributes)?;
        if problems.is_empty() {
            return Ok(());
        }
        Err(AuthError::Invalid([(field.to_owned(), problems)].into()))
    }
}

/// Django's list as Django ships it (`shared/data/README.md`).
static COMMON_PASSWORDS_GZ: &[u8] = include_bytes!("../data/common-passwords.txt.gz");

/// Django's common-password list, sorted for binary search: its entries in one string and
/// where each starts, about 235 KiB for Django's 19,640 (a `HashSet<&str>` over the text
/// would take some 700 KiB).
pub struct CommonPasswords {
    /// Every entry followed by `'\n'`, in byte order, without duplicates.
    text: String,
    /// Where each entry starts in `text`.
    starts: Vec<u32>,
}

impl CommonPasswords {
    /// The process's list, inflated on first use. Inflating the embedded file cannot fail:
    /// its bytes are fixed at compile time and the tests inflate the same bytes with the
    /// same code. Were a broken file ever embedded, the error is kept and every check
    /// answers 503, rather than panicking a request or accepting an unchecked password.
    fn shared() -> &'static Result<CommonPasswords, String> {
        static LIST: OnceLock<Result<CommonPasswords, String>> = OnceLock::new();
        LIST.get_or_init(CommonPasswords::embedded)
    }

    /// Inflates the embedded list: what the first password check of a process does.
    pub fn embedded() -> Result<Self, String> {
        Self::from_gzip(COMMON_PASSWORDS_GZ)
    }

    /// The list in a gzip file of UTF-8 lines, read as Django reads it: each line
    /// stripped of whitespace. gzip's CRC-32 and length are checked, so a damaged file
    /// is an error, never a different list.
    fn from_gzip(gz: &[u8]) -> Result<Self, String> {
        let mut inflated = String::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_string(&mut inflated)
            .map_err(|e| format!("inflating the common-password list: {e}"))?;
        let mut entries: Vec<&str> = inflated.lines().map(python_strip).collect();
        entries.sort_unstable();
        entries.dedup();
        let mut text = String::with_capacity(entries.iter().map(|e| e.len() + 1).sum());
        let mut starts = Vec::with_capacity(entries.len());
        for entry in entries {
            let start = u32::try_from(text.len())
                .map_err(|_| "the common-password list exceeds 4 GiB".to_owned())?;
            starts.push(start);
            text.push_str(entry);
            text.push('\n');
        }
        Ok(CommonPasswords { text, starts })
    }

    /// How many passwords the list holds.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Whether the list holds no password.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// The bytes the list keeps on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.starts.capacity() * std::mem::size_of::<u32>()
    }

    /// Django's `CommonPasswordValidator.validate`: `password.lower().strip()` in the list.
    pub fn is_common(&self, password: &str) -> bool {
        let lower = password.to_lowercase();
        let candidate = python_strip(&lower);
        self.starts
            .binary_search_by(|&start| self.entry(start).cmp(candidate))
            .is_ok()
    }

    /// The entry at `start`; every start was recorded at a char boundary of `text`.
    fn entry(&self, start: u32) -> &str {
        let rest = self.text.get(start as usize..).unwrap_or_default();
        rest.split('\n').next().unwrap_or_default()
    }
}

/// Python's `str.strip()`: Unicode whitespace, and also U+001C to U+001F, which Python
/// counts as whitespace and Rust does not.
fn python_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
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

/// The argon2id parameters of every hash made here (OWASP's first recommendation).
const M_COST_KIB: u32 = 19_456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// How long a request waits for a hashing permit before it is answered 503. One hash takes
/// about 20 ms of one core (`infra/measurements/benchmarks.md`), so in 5 s a process drains
/// a queue of some 250 hashes per core: far more than a real burst of logins, while the
/// client still hears back well within API Gateway's 30 s and common client timeouts.
pub const HASH_WAIT: Duration = Duration::from_secs(5);

fn params() -> Params {
    // The parameters are constants that argon2 accepts; the fallback cannot be reached.
    Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default()
}

/// The hashing pool: at most `limit` argon2 computations at once, each in a block buffer
/// that is kept for the next, so the process never holds more than `limit` buffers of
/// argon2 memory (`limit` × 19 MiB), however many requests arrive.
#[derive(Clone)]
struct Pool {
    permits: Arc<Semaphore>,
    /// Buffers not in use. One is only taken while holding a permit, so at most `limit`
    /// ever exist; they are made on first need (a Lambda container needs one).
    buffers: Arc<Mutex<Vec<Vec<Block>>>>,
    wait: Duration,
}

impl Pool {
    fn new(limit: usize, wait: Duration) -> Self {
        Pool {
            permits: Arc::new(Semaphore::new(limit.max(1))),
            buffers: Arc::new(Mutex::new(Vec::new())),
            wait,
        }
    }

    /// The process's pool: one permit per core the process may use.
    fn shared() -> &'static Pool {
        static POOL: OnceLock<Pool> = OnceLock::new();
        POOL.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Pool::new(cores, HASH_WAIT)
        })
    }

    /// Runs `work` on a blocking thread with a permit and a buffer, or answers Unavailable
    /// when no permit comes within `wait`.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> T + Send + 'static,
    ) -> Result<T, AuthError> {
        let permit =
            match tokio::time::timeout(self.wait, self.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(closed)) => return Err(AuthError::unavailable("password hashing", &closed)),
                Err(_) => {
                    tracing::warn!(wait = ?self.wait, "password hashing: no permit in time");
                    return Err(AuthError::Unavailable);
                }
            };
        let buffers = self.buffers.clone();
        // The permit moves into the blocking task: should the request be dropped, the
        // computation still counts until it ends.
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut blocks = take_buffer(&buffers);
            let result = work(&mut blocks);
            lock(&buffers).push(blocks);
            result
        })
        .await
        .map_err(|e| AuthError::unavailable("password hashing", &e))
    }

    async fn hash(&self, password: String, salt: Option<Salt>) -> Result<String, AuthError> {
        self.run(move |blocks| hash_in(blocks, password.as_bytes(), salt))
            .await?
    }

    async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, AuthError> {
        self.run(move |blocks| match stored {
            Some(phc) => verify_in(blocks, password.as_bytes(), &phc),
            None => {
                // The same work as checking a hash made here, so that an account without
                // a password answers in about the same time; the result is thrown away.
                let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
                let _ = argon2id(params()).hash_password_into_with_memory(
                    password.as_bytes(),
                    b"no salt, no user",
                    &mut out,
                    blocks,
                );
                Ok(false)
            }
        })
        .await?
    }
}

/// The buffers' list stays valid whatever panicked while it was locked.
fn lock(buffers: &Mutex<Vec<Vec<Block>>>) -> std::sync::MutexGuard<'_, Vec<Vec<Block>>> {
    buffers.lock().unwrap_or_else(PoisonError::into_inner)
}

fn take_buffer(buffers: &Mutex<Vec<Vec<Block>>>) -> Vec<Block> {
    let spare = lock(buffers).pop();
    // argon2 writes every block before it reads it, so a used buffer needs no clearing.
    spare.unwrap_or_else(|| vec![Block::new(); params().block_count()])
}

fn argon2id(params: Params) -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// What `Argon2::hash_password` makes (with `salt`, or a fresh one), in the given buffer
/// instead of a fresh allocation.
fn hash_in(blocks: &mut [Block], password: &[u8], salt: Option<Salt>) -> Result<String, AuthError> {
    let fail = |e: &dyn std::fmt::Display| AuthError::unavailable("password hashing", e);
    let salt = match salt {
        Some(salt) => salt.as_ref().to_vec(),
        None => try_generate_salt().map_err(|e| fail(&e))?.to_vec(),
    };
    let params = params();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2id(params.clone())
        .hash_password_into_with_memory(password, &salt, &mut out, blocks)
        .map_err(|e| fail(&e))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(Salt::new(&salt).map_err(|e| fail(&e))?),
        hash: Some(Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(phc.to_string())
}

/// What `Argon2::verify_password` answers, in the given buffer: the stored string's own
/// algorithm, version and parameters, the output compared in constant time. A string that
/// is not an argon2 PHC hash matches nothing.
fn verify_in(blocks: &mut [Block], password: &[u8], phc: &str) -> Result<bool, AuthError> {
    let Some((argon2, salt, expected)) = parse(phc) else {
        tracing::warn!("a stored password hash is not an argon2 PHC string");
        return Ok(false);
    };
    let needed = argon2.params().block_count();
    if needed > blocks.len() {
        // Never made here; checking it would break the memory bound, and calling it a
        // wrong password would hide the defect.
        let what = format!("a stored hash needs {needed} KiB, the pool's buffers hold fewer");
        return Err(AuthError::unavailable("password hashing", &what));
    }
    let mut out = vec![0u8; expected.len()];
    if argon2
        .hash_password_into_with_memory(password, &salt, &mut out, blocks)
        .is_err()
    {
        return Ok(false);
    }
    // `Output`'s equality is constant-time.
    Ok(Output::new(&out).is_ok_and(|computed| computed == expected))
}

/// The hasher, salt and expected output a PHC string describes, if it is argon2's.
fn parse(phc: &str) -> Option<(Argon2<'static>, Salt, Output)> {
    let parsed = PasswordHash::new(phc).ok()?;
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(&parsed).ok()?;
    Some((
        Argon2::new(algorithm, version, params),
        parsed.salt?,
        parsed.hash?,
    ))
}

/// The argon2id PHC string of `password`, computed off the async runtime within the
/// process's hashing bound; Unavailable when no permit comes within `HASH_WAIT`.
pub async fn hash(password: String) -> Result<String, AuthError> {
    Pool::shared().hash(password, None).await
}

/// The argon2id hash of `password` with the salt of the PHC string `like` (a fresh salt
/// when there is none): equal passwords then give equal strings, so one run compares a
/// password with every hash that shares the salt. The same work either way.
pub async fn hash_like(password: String, like: Option<String>) -> Result<String, AuthError> {
    let salt = like
        .as_deref()
        .and_then(|phc| PasswordHash::new(phc).ok())
        .and_then(|parsed| parsed.salt);
    Pool::shared().hash(password, salt).await
}

/// Whether `password` matches the PHC string; with no stored hash, the same work is done
/// and the answer is no, so that an unknown account answers in about the same time.
/// An error means the password could not be checked (no permit within `HASH_WAIT`), not
/// that it is wrong.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AuthError> {
    Pool::shared().verify(password, stored).await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::default()
    }

    #[test]
    fn a_strong_password_passes() {
        assert!(
            policy()
                .problems("Tr0ub4dor&3x", &[("email", "ada@example.com")])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn each_validator_speaks() {
        let p = policy();
        assert!(
            p.problems("Ab1!", &[])
                .unwrap()
                .iter()
                .any(|m| m.contains("too short"))
        );
        assert!(
            p.problems("password", &[])
                .unwrap()
                .iter()
                .any(|m| m.contains("too common"))
        );
        assert!(
            p.problems("83749261", &[])
                .unwrap()
                .iter()
                .any(|m| m.contains("entirely numeric"))
        );
        assert!(
            p.problems("Adalovelace1!", &[("email", "adalovelace@example.com")])
                .unwrap()
                .iter()
                .any(|m| m.contains("too similar to the email"))
        );
        let weak = p.problems("alllowercase", &[]).unwrap();
        assert!(weak.iter().any(|m| m.contains("uppercase")));
        assert!(weak.iter().any(|m| m.contains("digit")));
        assert!(weak.iter().any(|m| m.contains("symbol")));
        let long = "Aa1!".repeat(40);
        assert!(
            p.problems(&long, &[])
                .unwrap()
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
        assert!(p.problems("1234", &[]).unwrap().is_empty());
        assert!("NoSuchValidator".parse::<Validator>().is_err());
    }

    fn only_common() -> PasswordPolicy {
        PasswordPolicy {
            validators: vec![Validator::CommonPassword],
            min_length: 8,
        }
    }

    fn inflated_list() -> String {
        let mut text = String::new();
        flate2::read::GzDecoder::new(COMMON_PASSWORDS_GZ)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn djangos_list_is_embedded_whole_and_small() {
        let list = CommonPasswords::embedded().unwrap();
        assert_eq!(
            list.len(),
            19_640,
            "the lines of Django's file, all distinct"
        );
        assert!(
            list.heap_bytes() < 240 * 1024,
            "{} bytes",
            list.heap_bytes()
        );
        // Python splits lines at a lone '\r' too; `lines()` does not. None in the file.
        assert!(!inflated_list().contains('\r'));
    }

    #[test]
    fn common_passwords_are_refused_as_django_refuses_them() {
        let list = CommonPasswords::embedded().unwrap();
        // Every line of the file, and its uppercase form: Django lowercases first.
        for line in inflated_list().lines() {
            assert!(list.is_common(line), "{line:?}");
            assert!(list.is_common(&line.to_uppercase()), "{line:?}");
        }
        let p = only_common();
        for common in [
            "password",
            "qwerty123",
            "iloveyou",
            "PassWord",
            " password\t\n",
            // Python's strip() also removes U+001C to U+001F.
            "\u{1c}iloveyou\u{1f}",
            "\u{3000}qwerty123\u{a0}",
            "ПАРОЛЬ",
        ] {
            assert_eq!(
                p.problems(common, &[]).unwrap(),
                ["This password is too common."],
                "{common:?}"
            );
        }
        let random = format!("{}-Aa1!", uuid::Uuid::new_v4());
        for fine in [
            "Correct-Horse-9-Battery",
            random.as_str(),
            "pass word",
            "\u{200b}password",
            "",
        ] {
            assert!(p.problems(fine, &[]).unwrap().is_empty(), "{fine:?}");
        }
    }

    #[test]
    fn a_list_that_cannot_be_loaded_checks_nothing_and_says_so() {
        let gz = COMMON_PASSWORDS_GZ;
        assert!(CommonPasswords::from_gzip(b"not gzip").is_err());
        assert!(CommonPasswords::from_gzip(&gz[..gz.len() - 4]).is_err());
        let mut damaged = gz.to_vec();
        damaged[gz.len() / 2] ^= 0x10;
        assert!(CommonPasswords::from_gzip(&damaged).is_err());

        let broken = Err("inflating the common-password list: broken".to_owned());
        assert!(matches!(
            only_common().problems_with(&broken, "Correct-Horse-9-Battery", &[]),
            Err(AuthError::Unavailable)
        ));
        // Without the validator, the list is never consulted.
        let other = PasswordPolicy {
            validators: vec![Validator::MinimumLength],
            min_length: 8,
        };
        assert!(
            other
                .problems_with(&broken, "Correct-Horse-9-Battery", &[])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn quick_ratio_matches_difflib() {
        assert_eq!(quick_ratio("abcd", "abcd"), 1.0);
        assert_eq!(quick_ratio("abcd", "wxyz"), 0.0);
        assert_eq!(quick_ratio("ab", "abcd"), 2.0 * 2.0 / 6.0);
    }

    #[tokio::test]
    async fn hashes_like_another_share_its_salt_and_equal_passwords_give_equal_strings() {
        let first = hash("Correct-Horse-9-Battery".into()).await.unwrap();
        let same = hash_like("Correct-Horse-9-Battery".into(), Some(first.clone()))
            .await
            .unwrap();
        let other = hash_like("Another-Horse-9-Battery".into(), Some(first.clone()))
            .await
            .unwrap();
        assert_eq!(same, first);
        assert_ne!(other, first);
        assert!(
            verify("Another-Horse-9-Battery".into(), Some(other))
                .await
                .unwrap()
        );
        let fresh = hash_like("Correct-Horse-9-Battery".into(), None)
            .await
            .unwrap();
        assert_ne!(fresh, first, "no hash to copy: a fresh salt");
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_and_verify() {
        let phc = hash("Tr0ub4dor&3x".into()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(
            verify("Tr0ub4dor&3x".into(), Some(phc.clone()))
                .await
                .unwrap()
        );
        assert!(!verify("wrong".into(), Some(phc)).await.unwrap());
        assert!(
            !verify("not a password of anyone".into(), None)
                .await
                .unwrap()
        );
        assert!(
            !verify("x".into(), Some("not a phc string".into()))
                .await
                .unwrap()
        );
    }

    /// The pooled path and argon2's own hasher read and write the same PHC strings.
    #[tokio::test]
    async fn pooled_and_plain_argon2_agree() {
        let plain = argon2id(params());
        let pooled = hash("Tr0ub4dor&3x".into()).await.unwrap();
        let parsed = PasswordHash::new(&pooled).unwrap();
        assert!(plain.verify_password(b"Tr0ub4dor&3x", &parsed).is_ok());
        assert!(plain.verify_password(b"Tr0ub4dor&3y", &parsed).is_err());

        let made_plain = plain.hash_password(b"Tr0ub4dor&3x").unwrap().to_string();
        assert!(
            verify("Tr0ub4dor&3x".into(), Some(made_plain.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("Tr0ub4dor&3y".into(), Some(made_plain))
                .await
                .unwrap()
        );

        // Other parameters are the stored string's own, as argon2 reads them; a hash that
        // needs more memory than a buffer is not checked (503), nor called wrong.
        let smaller = Params::new(4096, 3, 2, Some(24)).unwrap();
        let other = argon2id(smaller).hash_password(b"pw").unwrap().to_string();
        assert!(verify("pw".into(), Some(other.clone())).await.unwrap());
        assert!(!verify("pw!".into(), Some(other)).await.unwrap());
        let larger = Params::new(2 * M_COST_KIB, 1, 1, None).unwrap();
        let big = argon2id(larger).hash_password(b"pw").unwrap().to_string();
        assert!(matches!(
            verify("pw".into(), Some(big)).await,
            Err(AuthError::Unavailable)
        ));
    }

    /// Hashes `n` passwords at once through `pool`.
    async fn parallel_hashes(pool: &Pool, n: usize) -> Vec<Result<String, AuthError>> {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..n {
            let pool = pool.clone();
            tasks.spawn(async move { pool.hash(format!("password {i}"), None).await });
        }
        tasks.join_all().await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_bounds_concurrent_hashing() {
        // Generous wait: the queue drains, everyone is answered, and no more buffers
        // than permits were ever made.
        let pool = Pool::new(2, Duration::from_secs(60));
        let hashes = parallel_hashes(&pool, 64).await;
        assert!(hashes.iter().all(Result::is_ok));
        assert!(lock(&pool.buffers).len() <= 2);

        // At no moment do more computations run than there are permits.
        let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            tasks.spawn(async move {
                pool.run(move |_| {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(5));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            });
        }
        assert!(tasks.join_all().await.iter().all(Result::is_ok));
        assert!((1..=2).contains(&peak.load(Ordering::SeqCst)));

        // A wait far shorter than one hash: the first is served, the rest answered 503.
        let pool = Pool::new(1, Duration::from_millis(1));
        let hashes = parallel_hashes(&pool, 8).await;
        assert!(hashes.iter().any(Result::is_ok));
        assert!(
            hashes
                .iter()
                .any(|h| matches!(h, Err(AuthError::Unavailable)))
        );
    }
}

//! argon2id hashing within the process's bound: at most one computation per core at once,
//! each in a reusable buffer. Hashes moved in from Django (`password::django`) are verified
//! within the same bound.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::try_generate_salt;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::Semaphore;

use crate::error::AuthError;
use crate::password::django::{self, Django};

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
            Some(stored) => verify_stored(blocks, password.as_bytes(), &stored),
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

/// Whether `password` matches `stored`: this project's argon2 PHC string, or one of
/// Django's formats (an unusable or malformed one matches nothing).
fn verify_stored(blocks: &mut [Block], password: &[u8], stored: &str) -> Result<bool, AuthError> {
    if !django::is_django(stored) {
        return verify_in(blocks, password, stored, Buffer::Pooled);
    }
    match django::parse(stored) {
        None => Ok(false),
        Some(Django::Argon2 { phc }) => verify_in(blocks, password, phc, Buffer::Imported),
        Some(other) => Ok(other.verify(password)),
    }
}

/// Where an argon2 verification that needs more memory than a pooled buffer runs.
#[derive(Clone, Copy, PartialEq)]
enum Buffer {
    /// Only in the pool's buffer: a larger hash was never made here.
    Pooled,
    /// In a buffer of its own, one at a time in the process (Django's default takes
    /// 100 MiB, `django::MAX_ARGON2_KIB`): the bound becomes cores × 19 MiB plus one such
    /// buffer, for the few first logins of imported accounts.
    Imported,
}

/// Held while a larger buffer for an imported hash exists.
static IMPORTED_BUFFER: Mutex<()> = Mutex::new(());

/// What `Argon2::verify_password` answers, in the given buffer: the stored string's own
/// algorithm, version and parameters, the output compared in constant time. A string that
/// is not an argon2 PHC hash matches nothing.
fn verify_in(
    blocks: &mut [Block],
    password: &[u8],
    phc: &str,
    buffer: Buffer,
) -> Result<bool, AuthError> {
    let Some((argon2, salt, expected)) = parse(phc) else {
        tracing::warn!("a stored password hash is not an argon2 PHC string");
        return Ok(false);
    };
    let needed = argon2.params().block_count();
    if needed > blocks.len() && buffer == Buffer::Imported {
        let _one_at_a_time = IMPORTED_BUFFER
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut larger = vec![Block::new(); needed];
        return verify_in(&mut larger, password, phc, Buffer::Pooled);
    }
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

/// Whether `password` matches the stored hash (this project's argon2id, or a Django hash
/// moved in: `password::django`); with no stored hash, the same work is done
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

    /// Django's hashes (tests/django/vectors.json, every format) verify through the pool:
    /// the right password only; an unusable or unknown one matches nothing, never an error.
    #[tokio::test]
    async fn django_hashes_verify_through_the_pool() {
        let vectors = include_str!("../../../tests/django/vectors.json");
        let file: serde_json::Value = serde_json::from_str(vectors).unwrap();
        for vector in file["vectors"].as_array().unwrap() {
            let (format, password, stored) = (
                vector["format"].as_str().unwrap(),
                vector["password"].as_str().unwrap(),
                vector["hash"].as_str().unwrap(),
            );
            let check = |password: &str| verify(password.to_owned(), Some(stored.to_owned()));
            assert!(check(password).await.unwrap(), "{format}");
            assert!(!check("Correct-Horse-9-Batterz").await.unwrap(), "{format}");
            // Truncated: matches nothing.
            let truncated = stored[..stored.len() - 4].to_owned();
            assert!(
                !verify(password.to_owned(), Some(truncated)).await.unwrap(),
                "{format}"
            );
        }
        for stored in ["!unusable", "!", "md5$salt$hash", "whatever"] {
            assert!(
                !verify("x".into(), Some(stored.into())).await.unwrap(),
                "{stored}"
            );
        }
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

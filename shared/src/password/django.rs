//! Password hashes moved in from BlockAuth/Django: `pbkdf2_sha256$` (Django's default),
//! `pbkdf2_sha1$`, `argon2$` (Django's Argon2PasswordHasher: a PHC string after the prefix),
//! `bcrypt_sha256$` (bcrypt over the hex SHA-256 of the password) and `bcrypt$`. Each is
//! verified once, at the account's next login, and then replaced by this project's argon2id.
//!
//! A stored string is read strictly: anything malformed, an unusable password (`!...`), or
//! a cost beyond the caps below matches nothing, so a hostile import cannot stall the
//! hashing pool.

use std::num::NonZeroU32;

use aws_lc_rs::{digest, pbkdf2};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// More PBKDF2 iterations than this (Django 5.2 uses 1,000,000) are refused as not matching.
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// A higher bcrypt cost (Django's default is 12) is refused as not matching.
pub const MAX_BCRYPT_COST: u32 = 16;
/// The most memory an imported argon2 hash may ask for: Django's own default (100 MiB).
pub const MAX_ARGON2_KIB: u32 = 102_400;
/// The most passes an imported argon2 hash may ask for (Django's default is 2).
pub const MAX_ARGON2_PASSES: u32 = 16;

/// A stored password hash that is not this project's own argon2id PHC string.
#[derive(Debug, PartialEq, Eq)]
pub enum Django<'a> {
    Pbkdf2 {
        algorithm: Pbkdf2,
        iterations: NonZeroU32,
        salt: &'a str,
        expected: Vec<u8>,
    },
    /// The PHC string Django stores after its `argon2` prefix (verified by `hashing`,
    /// which holds the argon2 buffers).
    Argon2 { phc: &'a str },
    /// bcrypt's own string (`$2b$12$...`); `prehashed`: over the hex SHA-256 of the password.
    Bcrypt { prehashed: bool, hash: &'a str },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pbkdf2 {
    Sha256,
    Sha1,
}

/// Whether `stored` is one of Django's formats (or its unusable password): what a match
/// upgrades to argon2id. This project's own hashes are PHC strings, which begin with `$`.
pub fn is_django(stored: &str) -> bool {
    !stored.starts_with('$')
}

/// The Django hash `stored` describes; None for an unusable password, a malformed string or
/// a cost beyond the caps (each logged without the hash).
pub fn parse(stored: &str) -> Option<Django<'_>> {
    if stored.starts_with('!') {
        // Django's `set_unusable_password()`: never matches.
        return None;
    }
    let Some((prefix, rest)) = stored.split_once('$') else {
        tracing::warn!("a stored password hash names no format");
        return None;
    };
    let parsed = match prefix {
        "pbkdf2_sha256" => pbkdf2_parts(Pbkdf2::Sha256, rest),
        "pbkdf2_sha1" => pbkdf2_parts(Pbkdf2::Sha1, rest),
        // Django keeps argon2-cffi's string whole after "argon2": `argon2$argon2id$v=19$...`.
        "argon2" => argon2_phc(&stored["argon2".len()..]),
        "bcrypt_sha256" => bcrypt_parts(true, rest),
        "bcrypt" => bcrypt_parts(false, rest),
        _ => None,
    };
    if parsed.is_none() {
        // The prefix only: the rest is the secret.
        let format: String = prefix.chars().take(20).collect();
        tracing::warn!(
            format,
            "a stored password hash is malformed, unknown or over the cost caps"
        );
    }
    parsed
}

fn pbkdf2_parts(algorithm: Pbkdf2, rest: &str) -> Option<Django<'_>> {
    let mut parts = rest.split('$');
    let (iterations, salt, hash) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || salt.is_empty() {
        return None;
    }
    let iterations: u32 = iterations.parse().ok()?;
    let iterations = NonZeroU32::new(iterations).filter(|n| n.get() <= MAX_PBKDF2_ITERATIONS)?;
    let expected = STANDARD.decode(hash).ok()?;
    // Django derives exactly the digest's length; a shorter key would be a prefix of the
    // right one, so a truncated hash would match.
    let length = match algorithm {
        Pbkdf2::Sha256 => digest::SHA256_OUTPUT_LEN,
        Pbkdf2::Sha1 => digest::SHA1_OUTPUT_LEN,
    };
    if expected.len() != length {
        return None;
    }
    Some(Django::Pbkdf2 {
        algorithm,
        iterations,
        salt,
        expected,
    })
}

/// `$argon2<variant>$v=19$m=..,t=..,p=..$salt$hash`, within the caps; the parameters are
/// checked again by argon2 itself when it verifies.
fn argon2_phc(phc: &str) -> Option<Django<'_>> {
    let mut parts = phc.split('$').skip(1);
    let variant = parts.next()?;
    if !matches!(variant, "argon2id" | "argon2i" | "argon2d") {
        return None;
    }
    let params = parts.find(|part| part.starts_with("m="))?;
    let mut memory = None;
    let mut passes = None;
    for param in params.split(',') {
        match param.split_once('=')? {
            ("m", value) => memory = value.parse::<u32>().ok(),
            ("t", value) => passes = value.parse::<u32>().ok(),
            _ => {}
        }
    }
    let within = memory.is_some_and(|m| m <= MAX_ARGON2_KIB)
        && passes.is_some_and(|t| (1..=MAX_ARGON2_PASSES).contains(&t));
    within.then_some(Django::Argon2 { phc })
}

/// `$2b$<cost>$<53 characters>`: Django stores bcrypt's string after `bcrypt$` or
/// `bcrypt_sha256$`, so `rest` begins with bcrypt's own `$`.
fn bcrypt_parts(prehashed: bool, hash: &str) -> Option<Django<'_>> {
    let mut parts = hash.split('$');
    let (empty, version, cost) = (parts.next()?, parts.next()?, parts.next()?);
    if !empty.is_empty() || !matches!(version, "2a" | "2b" | "2y") || hash.len() != 60 {
        return None;
    }
    let cost: u32 = cost.parse().ok()?;
    (4..=MAX_BCRYPT_COST)
        .contains(&cost)
        .then_some(Django::Bcrypt { prehashed, hash })
}

impl Django<'_> {
    /// Whether `password` matches, for the formats verified here (PBKDF2 and bcrypt; the
    /// digests compared in constant time). argon2 is `hashing`'s, which answers for it.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Django::Pbkdf2 {
                algorithm,
                iterations,
                salt,
                expected,
            } => {
                let algorithm = match algorithm {
                    Pbkdf2::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
                    Pbkdf2::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
                };
                // Derives and compares in constant time.
                pbkdf2::verify(algorithm, *iterations, salt.as_bytes(), password, expected).is_ok()
            }
            Django::Bcrypt { prehashed, hash } => {
                let hex;
                let input = if *prehashed {
                    hex = crate::encode::hex(digest::digest(&digest::SHA256, password).as_ref());
                    hex.as_bytes()
                } else {
                    password
                };
                // bcrypt compares its output in constant time (subtle).
                bcrypt::verify(input, hash).unwrap_or(false)
            }
            Django::Argon2 { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes made by Django itself (tests/django/hashes.py --vectors; tests/django/README.md).
    const VECTORS: &str = include_str!("../../../tests/django/vectors.json");

    pub(crate) fn vectors() -> Vec<(String, String, String)> {
        let file: serde_json::Value = serde_json::from_str(VECTORS).unwrap();
        file["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                let text = |name: &str| v[name].as_str().unwrap().to_owned();
                (text("format"), text("password"), text("hash"))
            })
            .collect()
    }

    #[test]
    fn each_format_django_makes_is_read() {
        let formats: Vec<String> = vectors().into_iter().map(|(format, ..)| format).collect();
        for format in [
            "pbkdf2_sha256",
            "argon2",
            "bcrypt_sha256",
            "pbkdf2_sha1",
            "bcrypt",
            "argon2i",
            "argon2d",
        ] {
            assert!(formats.iter().any(|f| f == format), "{format}");
        }
        for (format, _, hash) in vectors() {
            assert!(is_django(&hash), "{format}");
            assert!(parse(&hash).is_some(), "{format}");
        }
    }

    #[test]
    fn pbkdf2_and_bcrypt_match_their_password_only() {
        for (format, password, hash) in vectors() {
            let parsed = parse(&hash).unwrap();
            if matches!(parsed, Django::Argon2 { .. }) {
                continue;
            }
            assert!(parsed.verify(password.as_bytes()), "{format}");
            assert!(!parsed.verify(b"Correct-Horse-9-Batterz"), "{format}");
            assert!(!parsed.verify(b""), "{format}");
        }
    }

    #[test]
    fn garbled_truncated_or_costly_hashes_are_refused() {
        let refused = [
            "",
            "!",
            "!Xu3Bx0mYSSbhwz7jWb1ZJr8sZnyQmqFGGeMwOkdO",
            "pbkdf2_sha256",
            "pbkdf2_sha256$",
            "pbkdf2_sha256$1000000$salt",
            "pbkdf2_sha256$1000000$salt$not base64!",
            "pbkdf2_sha256$0$salt$LMfn7/BzQeDKEryg2bT+DX2yXZr6Qiw/tuejU6M6eJ4=",
            "pbkdf2_sha256$-1$salt$LMfn7/BzQeDKEryg2bT+DX2yXZr6Qiw/tuejU6M6eJ4=",
            "pbkdf2_sha256$10000001$salt$LMfn7/BzQeDKEryg2bT+DX2yXZr6Qiw/tuejU6M6eJ4=",
            "pbkdf2_sha256$99999999999$salt$LMfn7/BzQeDKEryg2bT+DX2yXZr6Qiw/tuejU6M6eJ4=",
            "pbkdf2_sha256$1000$$LMfn7/BzQeDKEryg2bT+DX2yXZr6Qiw/tuejU6M6eJ4=",
            "pbkdf2_sha256$1000$salt$LMfn7/Bz",
            "pbkdf2_sha256$1000$salt$LMfn7/BzQeDKEryg2bT+DX2yXZr6Qiw/tuejU6M6eJ4=$extra",
            "bcrypt_sha256$$2b$12$ZWw/ijAlzo45960sUyiUVecOoLMvFx2TL9Kh4G2ccZtLuhq1YOO",
            "bcrypt_sha256$$2b$17$ZWw/ijAlzo45960sUyiUVecOoLMvFx2TL9Kh4G2ccZtLuhq1YOOC.",
            "bcrypt_sha256$$2b$31$ZWw/ijAlzo45960sUyiUVecOoLMvFx2TL9Kh4G2ccZtLuhq1YOOC.",
            "bcrypt_sha256$$2x$12$ZWw/ijAlzo45960sUyiUVecOoLMvFx2TL9Kh4G2ccZtLuhq1YOOC.",
            "bcrypt_sha256$2b$12$ZWw/ijAlzo45960sUyiUVecOoLMvFx2TL9Kh4G2ccZtLuhq1YOOC.",
            "argon2$argon2id$v=19$m=1048576,t=2,p=8$bFhJV1cxUTVHVHlrYUljSEZMQ2EzRw$pKZ43hanIKhTTWM5AIMl6hDmQJf/b7JS++I+t8Fhv1I",
            "argon2$argon2id$v=19$m=102400,t=1000,p=8$bFhJV1cxUTVHVHlrYUljSEZMQ2EzRw$pKZ43hanIKhTTWM5AIMl6hDmQJf/b7JS++I+t8Fhv1I",
            "argon2$argon2x$v=19$m=102400,t=2,p=8$bFhJV1cxUTVHVHlrYUljSEZMQ2EzRw$pKZ",
            "argon2$argon2id$v=19$bFhJV1cxUTVHVHlrYUljSEZMQ2EzRw$pKZ",
            "md5$salt$5f4dcc3b5aa765d61d8327deb882cf99",
            "unsalted_sha1$$5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8",
            "sha1$salt$hash",
        ];
        for stored in refused {
            assert!(is_django(stored), "{stored}");
            assert_eq!(parse(stored), None, "{stored}");
        }
        // The caps themselves are accepted.
        let at_cap = format!(
            "pbkdf2_sha256${MAX_PBKDF2_ITERATIONS}$salt$LMfn7/BzQeDKEryg2bT+DX2yXZr6Qiw/tuejU6M6eJ4="
        );
        assert!(parse(&at_cap).is_some());
        // This project's own argon2id strings are not Django's.
        assert!(!is_django(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA"
        ));
    }
}

//! TOTP (RFC 6238 over RFC 4226's HOTP): HMAC-SHA-1, 6 digits, 30-second steps, one step of
//! clock drift either way; the `otpauth://` URI authenticator apps take.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;

use crate::error::AuthError;

/// Seconds per step.
pub const PERIOD: i64 = 30;
const DIGITS: u32 = 6;
/// RFC 4226's recommended secret length: 160 bits.
pub const SECRET_BYTES: usize = 20;

/// A new secret from the CSPRNG.
pub fn generate_secret() -> Result<Vec<u8>, AuthError> {
    let mut secret = vec![0u8; SECRET_BYTES];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| AuthError::unavailable("random", &"fill"))?;
    Ok(secret)
}

/// The step that `now` (Unix seconds) falls in.
pub fn step_of(now: i64) -> i64 {
    now.div_euclid(PERIOD)
}

/// HOTP: the code of `secret` for counter `step`.
pub fn code_at(secret: &[u8], step: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &step.to_be_bytes());
    let mac = mac.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(DIGITS),
        width = DIGITS as usize
    )
}

/// Whether `text` has the shape of a TOTP code: six digits (spaces ignored).
pub fn looks_like_code(text: &str) -> bool {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The step, within one of `now`'s either way and later than `after` (the last step used:
/// a code works once), whose code is `code`; compared in constant time.
pub fn matching_step(secret: &[u8], code: &str, now: i64, after: i64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if !looks_like_code(&code) {
        return None;
    }
    let current = step_of(now);
    let mut found = None;
    // Every candidate is computed and compared, whichever matches.
    for step in [current - 1, current, current + 1] {
        let matches = verify_slices_are_equal(code_at(secret, step).as_bytes(), code.as_bytes());
        if matches.is_ok() && step > after {
            found = Some(step);
        }
    }
    found
}

/// RFC 4648 base32, without padding, as authenticator apps take secrets.
pub fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for byte in bytes {
        buffer = (buffer << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The key URI authenticator apps read (Google Authenticator's `otpauth://` format).
pub fn uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
        percent(issuer),
        percent(account),
        base32(secret),
        percent(issuer),
    )
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn percent(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238's SHA-1 test vectors, their last six digits.
    #[test]
    fn the_rfc_6238_vectors() {
        let secret = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(secret, step_of(time)), code, "{time}");
        }
    }

    #[test]
    fn one_step_of_drift_either_way_and_each_step_once() {
        let secret = b"12345678901234567890";
        let now = 1_111_111_111;
        let step = step_of(now);
        for drift in [-1, 0, 1] {
            let code = code_at(secret, step + drift);
            assert_eq!(matching_step(secret, &code, now, 0), Some(step + drift));
            // Used already: that step or a later one was the last.
            assert_eq!(matching_step(secret, &code, now, step + drift), None);
        }
        for far in [-2, 2] {
            let code = code_at(secret, step + far);
            assert_eq!(matching_step(secret, &code, now, 0), None, "{far}");
        }
        assert_eq!(matching_step(secret, "12345", now, 0), None);
        assert_eq!(matching_step(secret, "abcdef", now, 0), None);
        let spaced = code_at(secret, step);
        let spaced = format!("{} {}", &spaced[..3], &spaced[3..]);
        assert_eq!(matching_step(secret, &spaced, now, 0), Some(step));
    }

    #[test]
    fn base32_and_the_uri() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(
            uri("Block Auth", "ada@example.com", b"12345678901234567890"),
            "otpauth://totp/Block%20Auth:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Block%20Auth&algorithm=SHA1&digits=6&period=30"
        );
    }
}

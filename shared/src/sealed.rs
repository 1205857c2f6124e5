//! Values kept encrypted (AES-256-GCM) under a key, bound to what they belong to (the
//! associated data): a TOTP secret to its account, a kept token pair to its old token.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;

/// The AEAD key from 32 bytes of key material (a SHA-256 of what makes it).
fn key(material: &[u8]) -> Option<LessSafeKey> {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, material);
    let key = UnboundKey::new(&AES_256_GCM, digest.as_ref()).ok()?;
    Some(LessSafeKey::new(key))
}

/// `plain` sealed with the key `material` makes, bound to `bound_to`: base64url of the
/// nonce, the ciphertext and the tag. None when there is no randomness.
pub fn seal(material: &[u8], bound_to: &[u8], plain: &[u8]) -> Option<String> {
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).ok()?;
    let mut sealed = plain.to_vec();
    key(material)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(bound_to),
            &mut sealed,
        )
        .ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Some(B64.encode(out))
}

/// What `seal` sealed, if `material` and `bound_to` are the ones it was sealed with and
/// nothing was changed.
pub fn open(material: &[u8], bound_to: &[u8], sealed: &str) -> Option<Vec<u8>> {
    let bytes = B64.decode(sealed).ok()?;
    let (nonce, rest) = bytes.split_at_checked(NONCE_LEN)?;
    let mut rest = rest.to_vec();
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let plain = key(material)?
        .open_in_place(nonce, Aad::from(bound_to), &mut rest)
        .ok()?;
    Some(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_key_and_binding_open_it() {
        let sealed = seal(b"key", b"user-1", b"secret").unwrap();
        assert_eq!(open(b"key", b"user-1", &sealed).unwrap(), b"secret");
        assert!(open(b"other", b"user-1", &sealed).is_none());
        assert!(open(b"key", b"user-2", &sealed).is_none());
        let mut tampered = sealed.into_bytes();
        let middle = tampered.len() / 2;
        tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
        assert!(open(b"key", b"user-1", &String::from_utf8(tampered).unwrap()).is_none());
        assert!(open(b"key", b"user-1", "short").is_none());
    }
}

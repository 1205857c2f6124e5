//! The key set of the asymmetric algorithms (RS256, ES256, EdDSA): a few keys, each with its
//! `kid`, kept as JSON in Secrets Manager (locally a file beside the signing key).
//!
//! Rotation adds a key that signs only from `signs_from` (now plus a grace period longer
//! than every cache of the published keys), so that verifiers hold it before any token
//! carries it; the newest key whose time has come signs; a key that stopped signing stays
//! published until every token it signed has expired, then the next rotation drops it.
//!
//! `{"keys": [{"kid", "alg", "pkcs8" (base64url of the PKCS#8 private key), "created_at",
//! "signs_from"}]}`

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::session::settings::Algorithm;

/// One stored key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    pub alg: String,
    /// The private key, PKCS#8 DER as base64url.
    pub pkcs8: String,
    pub created_at: i64,
    /// When it starts signing (published from its creation).
    pub signs_from: i64,
}

/// The key set as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct KeySet {
    pub keys: Vec<StoredKey>,
}

/// A key ready to sign and verify.
pub struct Key {
    pub kid: String,
    pub signs_from: i64,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// Its public half as a JWK (RFC 7517).
    pub jwk: Value,
}

impl KeySet {
    pub fn parse(text: &str) -> Result<KeySet, String> {
        serde_json::from_str(text).map_err(|e| format!("the token key set: {e}"))
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// A first key set: one new key of `alg`, signing at once.
    pub fn generate(alg: Algorithm, now: i64) -> Result<KeySet, String> {
        Ok(KeySet {
            keys: vec![new_key(alg, now, now)?],
        })
    }

    /// The next key set: a new key of `alg` that signs from `now + grace` (at once if
    /// none of `alg` signs yet), without the keys of another algorithm and those that
    /// stopped signing more than `keep` seconds ago (every token they signed has expired).
    pub fn rotated(
        &self,
        alg: Algorithm,
        now: i64,
        grace: i64,
        keep: i64,
    ) -> Result<KeySet, String> {
        let mut keys: Vec<StoredKey> = self
            .keys
            .iter()
            .filter(|k| k.alg == alg.name())
            .cloned()
            .collect();
        let signing_now = keys.iter().any(|k| k.signs_from <= now);
        keys.retain(|k| match retired_since(&self.keys, k, now) {
            Some(since) => since + keep > now,
            None => true,
        });
        let signs_from = if signing_now { now + grace } else { now };
        keys.push(new_key(alg, now, signs_from)?);
        Ok(KeySet { keys })
    }

    /// The keys of `alg`, ready to use.
    pub fn load(&self, alg: Algorithm) -> Result<Vec<Key>, String> {
        self.keys
            .iter()
            .filter(|k| k.alg == alg.name())
            .map(|k| load(alg, k))
            .collect()
    }
}

/// The key set file at `path` (local), made with one key of `alg` if missing: mode 0600
/// from the start, like the signing key.
#[cfg(feature = "local")]
pub fn load_or_generate(path: &std::path::Path, alg: Algorithm) -> Result<KeySet, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => KeySet::parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let set = KeySet::generate(alg, crate::clock::now())?;
            crate::signing_key::write_private(path, &set.to_text())?;
            Ok(set)
        }
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Rotates the key set file at `path` (`cargo run -- rotate-keys`): the result replaces
/// it at once (written beside it, then renamed), so a reader sees the old set or the new.
#[cfg(feature = "local")]
pub fn rotate_file(
    path: &std::path::Path,
    alg: Algorithm,
    grace: i64,
    keep: i64,
) -> Result<KeySet, String> {
    let set = load_or_generate(path, alg)?.rotated(alg, crate::clock::now(), grace, keep)?;
    let next = path.with_extension("next");
    let _ = std::fs::remove_file(&next);
    crate::signing_key::write_private(&next, &set.to_text())?;
    std::fs::rename(&next, path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(set)
}

/// Since when `key` no longer signs: the time a newer key of the set started signing.
fn retired_since(keys: &[StoredKey], key: &StoredKey, now: i64) -> Option<i64> {
    keys.iter()
        .filter(|k| k.alg == key.alg && k.signs_from > key.signs_from && k.signs_from <= now)
        .map(|k| k.signs_from)
        .min()
}

/// The key that signs at `now`: the newest whose time has come.
pub fn signing(keys: &[Key], now: i64) -> Option<&Key> {
    keys.iter()
        .filter(|k| k.signs_from <= now)
        .max_by_key(|k| k.signs_from)
}

/// The published key set (JWKS) of `keys`.
pub fn jwks(keys: &[Key]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()})
}

fn new_key(alg: Algorithm, now: i64, signs_from: i64) -> Result<StoredKey, String> {
    let failed = |_| format!("cannot make a {} key", alg.name());
    let pkcs8: Vec<u8> = match alg {
        Algorithm::Rs256 => aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .and_then(|k| k.as_der())
            .map_err(failed)?
            .as_ref()
            .to_vec(),
        Algorithm::Es256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .and_then(|k| k.to_pkcs8v1())
            .map_err(failed)?
            .as_ref()
            .to_vec(),
        Algorithm::EdDsa => Ed25519KeyPair::generate()
            .and_then(|k| k.to_pkcs8())
            .map_err(failed)?
            .as_ref()
            .to_vec(),
        Algorithm::Hs256 => return Err("HS256 signs with the signing key, not a key set".into()),
    };
    let mut key = StoredKey {
        kid: String::new(),
        alg: alg.name().to_owned(),
        pkcs8: B64.encode(&pkcs8),
        created_at: now,
        signs_from,
    };
    key.kid = load(alg, &key)?.kid;
    Ok(key)
}

/// `stored` ready to use; its `kid` is the RFC 7638 thumbprint of its public key.
fn load(alg: Algorithm, stored: &StoredKey) -> Result<Key, String> {
    let refused = || format!("key {}: not a {} private key", stored.kid, alg.name());
    let der = B64.decode(&stored.pkcs8).map_err(|_| refused())?;
    let (encoding, required, decoding) = match alg {
        Algorithm::Rs256 => {
            let pair = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map_err(|_| refused())?;
            let public = pair.public_key();
            let n = B64.encode(public.modulus().big_endian_without_leading_zero());
            let e = B64.encode(public.exponent().big_endian_without_leading_zero());
            let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|_| refused())?;
            let pkcs1 = pkcs8_private_key(&der).ok_or_else(refused)?;
            let required = json!({"e": e, "kty": "RSA", "n": n});
            (EncodingKey::from_rsa_der(pkcs1), required, decoding)
        }
        Algorithm::Es256 => {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                .map_err(|_| refused())?;
            // The uncompressed point: 0x04, x, y.
            let point = pair.public_key().as_ref();
            let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
            let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|_| refused())?;
            let required = json!({"crv": "P-256", "kty": "EC", "x": x, "y": y});
            (EncodingKey::from_ec_der(&der), required, decoding)
        }
        Algorithm::EdDsa => {
            let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|_| refused())?;
            let x = B64.encode(pair.public_key().as_ref());
            let decoding = DecodingKey::from_ed_components(&x).map_err(|_| refused())?;
            let required = json!({"crv": "Ed25519", "kty": "OKP", "x": x});
            (EncodingKey::from_ed_der(&der), required, decoding)
        }
        Algorithm::Hs256 => return Err(refused()),
    };
    // RFC 7638: the required members, in lexicographic order, no whitespace (serde_json's
    // map is ordered by key).
    let thumbprint =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, required.to_string().as_bytes());
    let kid = B64.encode(thumbprint.as_ref());
    let mut jwk = required;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.name());
    jwk["use"] = json!("sig");
    Ok(Key {
        kid,
        signs_from: stored.signs_from,
        encoding,
        decoding,
        jwk,
    })
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (SEQUENCE { version,
/// algorithm, privateKey OCTET STRING }): what jsonwebtoken's RSA signer reads.
fn pkcs8_private_key(der: &[u8]) -> Option<&[u8]> {
    // One DER element at `input`: (tag, content, rest).
    fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (length, rest) = if first < 0x80 {
            (first as usize, rest)
        } else {
            let count = (first & 0x7f) as usize;
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let length = rest[..count]
                .iter()
                .fold(0usize, |n, b| (n << 8) | *b as usize);
            (length, &rest[count..])
        };
        (rest.len() >= length).then(|| (tag, &rest[..length], &rest[length..]))
    }
    let (0x30, info, _) = element(der)? else {
        return None;
    };
    let (0x02, _, rest) = element(info)? else {
        return None;
    };
    let (0x30, _, rest) = element(rest)? else {
        return None;
    };
    let (0x04, key, _) = element(rest)? else {
        return None;
    };
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALGORITHMS: [Algorithm; 3] = [Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa];

    #[test]
    fn each_algorithm_makes_a_key_set_that_reads_back() {
        for alg in ALGORITHMS {
            let set = KeySet::generate(alg, 100).unwrap();
            let again = KeySet::parse(&set.to_text()).unwrap();
            assert_eq!(again, set);
            let keys = again.load(alg).unwrap();
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].kid, set.keys[0].kid);
            assert_eq!(keys[0].jwk["alg"], alg.name());
            assert_eq!(signing(&keys, 100).unwrap().kid, set.keys[0].kid);
            // The private key is nowhere in what is published.
            let published = jwks(&keys).to_string();
            assert!(!published.contains(&set.keys[0].pkcs8));
            assert!(!published.contains("\"d\""));
        }
    }

    #[test]
    fn a_rotated_key_is_published_before_it_signs_and_old_keys_leave_after_their_tokens() {
        let (grace, keep) = (600, 86400);
        let first = KeySet::generate(Algorithm::Es256, 0).unwrap();
        let second = first.rotated(Algorithm::Es256, 1000, grace, keep).unwrap();
        assert_eq!(second.keys.len(), 2);
        let keys = second.load(Algorithm::Es256).unwrap();
        // Published at once, signing only after the grace period.
        assert_eq!(signing(&keys, 1000).unwrap().kid, first.keys[0].kid);
        assert_eq!(
            signing(&keys, 1000 + grace).unwrap().kid,
            second.keys[1].kid
        );
        // The first key stopped signing at 1600: kept until 1600 + keep.
        let third = second
            .rotated(Algorithm::Es256, 1600 + keep - 1, grace, keep)
            .unwrap();
        assert_eq!(third.keys.len(), 3);
        let fourth = second
            .rotated(Algorithm::Es256, 1600 + keep, grace, keep)
            .unwrap();
        let kids: Vec<&str> = fourth.keys.iter().map(|k| k.kid.as_str()).collect();
        assert_eq!(kids.len(), 2);
        assert!(!kids.contains(&first.keys[0].kid.as_str()));
        // Another algorithm's keys go; its first key signs at once.
        let switched = fourth
            .rotated(Algorithm::EdDsa, 200_000, grace, keep)
            .unwrap();
        assert_eq!(switched.keys.len(), 1);
        assert_eq!(switched.keys[0].signs_from, 200_000);
    }

    #[test]
    fn a_damaged_key_is_refused() {
        let mut set = KeySet::generate(Algorithm::Rs256, 0).unwrap();
        set.keys[0].pkcs8 = "AAAA".into();
        assert!(set.load(Algorithm::Rs256).is_err());
        assert!(KeySet::parse("{").is_err());
        assert!(pkcs8_private_key(&[0x30, 0x85, 0, 0, 0, 0, 0]).is_none());
    }
}

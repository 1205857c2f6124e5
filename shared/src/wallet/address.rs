//! Ethereum wallets: addresses (EIP-55 checksums) and the signer of a personal message
//! (EIP-191), recovered with secp256k1 and Keccak-256.

use std::fmt;

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use sha3::{Digest, Keccak256};

/// A 20-byte Ethereum address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Address([u8; 20]);

pub const INVALID_ADDRESS: &str = "Enter a valid Ethereum address: 0x and 40 hex digits, with a correct EIP-55 checksum if mixed-case.";

impl Address {
    /// Parses `0x` and 40 hex digits. All-lowercase and all-uppercase digits carry no
    /// checksum; mixed case must be the EIP-55 checksum, so a mistyped address is caught.
    pub fn parse(text: &str) -> Result<Self, &'static str> {
        let digits = text.strip_prefix("0x").ok_or(INVALID_ADDRESS)?;
        if digits.len() != 40 {
            return Err(INVALID_ADDRESS);
        }
        let bytes = decode_hex(digits).ok_or(INVALID_ADDRESS)?;
        let address = Address(bytes.try_into().map_err(|_| INVALID_ADDRESS)?);
        let letters = digits.bytes().filter(u8::is_ascii_alphabetic);
        let mixed = letters.clone().any(|b| b.is_ascii_lowercase())
            && letters.clone().any(|b| b.is_ascii_uppercase());
        if mixed && address.checksummed()[2..] != *digits {
            return Err(INVALID_ADDRESS);
        }
        Ok(address)
    }

    /// The EIP-55 form: `0x` and hex digits, each letter uppercase where the matching nibble
    /// of the Keccak-256 of the lowercase digits is 8 or more.
    pub fn checksummed(&self) -> String {
        let lower = hex(&self.0);
        let hash = Keccak256::digest(lower.as_bytes());
        let digits: String = lower
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let nibble = (hash[i / 2] >> (if i % 2 == 0 { 4 } else { 0 })) & 0x0f;
                if nibble >= 8 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        format!("0x{digits}")
    }

    /// The lowercase form, used in store keys so that one address is one key.
    pub fn lowercase(&self) -> String {
        format!("0x{}", hex(&self.0))
    }

    fn of_key(key: &VerifyingKey) -> Self {
        let point = key.to_sec1_point(false);
        // Uncompressed SEC1: 0x04, then X and Y; the address is the hash's last 20 bytes.
        let hash = Keccak256::digest(&point.as_bytes()[1..]);
        let mut bytes = [0u8; 20];
        bytes.copy_from_slice(&hash[12..]);
        Address(bytes)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.checksummed())
    }
}

/// Why a signature could not be read; a readable signature by the wrong key is not an
/// error here: it recovers another address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// Not `0x` and 130 hex digits.
    Malformed,
    /// `v` is not 27, 28, 0 or 1.
    RecoveryId,
    /// `s` is in the upper half of the curve order (a malleated signature, EIP-2).
    HighS,
    /// `r` or `s` is out of range, or no key recovers from it.
    Unrecoverable,
}

impl SignatureError {
    pub fn message(self) -> &'static str {
        match self {
            SignatureError::Malformed => "Expected 0x and 130 hex digits (r, s and v).",
            SignatureError::RecoveryId => "The signature's v must be 27, 28, 0 or 1.",
            SignatureError::HighS => {
                "The signature's s is not in the lower half of the curve order (EIP-2)."
            }
            SignatureError::Unrecoverable => "The signature is not a valid secp256k1 signature.",
        }
    }
}

/// The hash a wallet signs for `personal_sign` (EIP-191 version 0x45).
pub fn personal_message_hash(message: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(format!("\x19Ethereum Signed Message:\n{}", message.len()).as_bytes());
    hasher.update(message);
    hasher.finalize().into()
}

/// The address whose key made `signature` (`0x` r‖s‖v, hex) over `message` (EIP-191).
pub fn recover_signer(message: &[u8], signature: &str) -> Result<Address, SignatureError> {
    let digits = signature
        .strip_prefix("0x")
        .or_else(|| signature.strip_prefix("0X"))
        .unwrap_or(signature);
    if digits.len() != 130 {
        return Err(SignatureError::Malformed);
    }
    let bytes = decode_hex(digits).ok_or(SignatureError::Malformed)?;
    let y_odd = match bytes[64] {
        27 | 0 => false,
        28 | 1 => true,
        _ => return Err(SignatureError::RecoveryId),
    };
    let signature =
        Signature::from_slice(&bytes[..64]).map_err(|_| SignatureError::Unrecoverable)?;
    if signature.normalize_s() != signature {
        return Err(SignatureError::HighS);
    }
    let key = VerifyingKey::recover_from_prehash(
        &personal_message_hash(message),
        &signature,
        RecoveryId::new(y_odd, false),
    )
    .map_err(|_| SignatureError::Unrecoverable)?;
    Ok(Address::of_key(&key))
}

fn decode_hex(digits: &str) -> Option<Vec<u8>> {
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eip55_checksums_of_the_eip() {
        // The examples of EIP-55 itself.
        for address in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
        ] {
            let parsed = Address::parse(address).unwrap();
            assert_eq!(parsed.checksummed(), address);
            assert_eq!(
                Address::parse(&address.to_lowercase()).unwrap(),
                parsed,
                "lowercase carries no checksum"
            );
        }
    }

    #[test]
    fn bad_addresses_are_refused() {
        for bad in [
            "",
            "0x",
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeZ",
            // One letter's case flipped: a broken checksum.
            "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x+aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xé5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA",
        ] {
            assert_eq!(Address::parse(bad), Err(INVALID_ADDRESS), "{bad}");
        }
    }

    #[test]
    fn signatures_that_cannot_be_read_are_refused() {
        let message = b"hello";
        assert_eq!(
            recover_signer(message, "0x1234"),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            recover_signer(message, &format!("0x{}", "zz".repeat(65))),
            Err(SignatureError::Malformed)
        );
        let r_s = format!("{}{}", "11".repeat(32), "22".repeat(32));
        assert_eq!(
            recover_signer(message, &format!("0x{r_s}1d")),
            Err(SignatureError::RecoveryId)
        );
        // r = s = 0 is not a signature.
        assert_eq!(
            recover_signer(message, &format!("0x{}1b", "00".repeat(64))),
            Err(SignatureError::Unrecoverable)
        );
    }
}

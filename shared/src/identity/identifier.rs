//! Identifiers: the email address or phone number an account is known by.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Identifier {
    /// Lowercased and trimmed.
    Email(String),
    /// E.164: `+` and 8 to 15 digits.
    Phone(String),
}

pub const INVALID_EMAIL: &str = "Enter a valid email address.";
pub const INVALID_PHONE: &str = "Enter a valid phone number in E.164 format, e.g. +14155550123.";

impl Identifier {
    pub fn email(raw: &str) -> Result<Self, &'static str> {
        // Checked before lowercasing: some letters (the Kelvin sign) lowercase to ASCII.
        let email = raw.trim();
        if is_valid_email(email) {
            Ok(Identifier::Email(email.to_ascii_lowercase()))
        } else {
            Err(INVALID_EMAIL)
        }
    }

    pub fn phone(raw: &str) -> Result<Self, &'static str> {
        let phone = raw.trim();
        let digits = phone.strip_prefix('+').unwrap_or("");
        let valid = (8..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        if valid {
            Ok(Identifier::Phone(phone.to_owned()))
        } else {
            Err(INVALID_PHONE)
        }
    }

    /// The request field this identifier travels in.
    pub fn field(&self) -> &'static str {
        match self {
            Identifier::Email(_) => "email",
            Identifier::Phone(_) => "phone",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            Identifier::Email(v) | Identifier::Phone(v) => v,
        }
    }

    /// The form used inside store keys: `email:ada@example.com`, `phone:+14155550123`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.field(), self.value())
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.value())
    }
}

/// Every email `Identifier::email` accepts (once trimmed), as the OpenAPI description
/// states it (ECMA-262): the same rules as `is_valid_email`, which a test holds it to.
pub const EMAIL_PATTERN: &str = concat!(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+",
    r"([A-Za-z][A-Za-z-]{0,61}[A-Za-z]|[Xx][Nn]--[A-Za-z0-9]{1,59})$"
);

/// The longest email accepted, in characters.
pub const EMAIL_MAX_LENGTH: usize = 254;

/// Every phone number `Identifier::phone` accepts (once trimmed): E.164.
pub const PHONE_PATTERN: &str = r"^\+[1-9][0-9]{7,14}$";

/// Django's `EmailValidator`, in ASCII: a dot-atom local part; a domain of
/// letter/digit/hyphen labels (at most 63 characters, no hyphen at either end), the last
/// one letters and hyphens (at least two) or an `xn--` name; at most 254 characters.
fn is_valid_email(email: &str) -> bool {
    if email.len() > EMAIL_MAX_LENGTH {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let atom = |a: &str| {
        !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c))
    };
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let top_level = |l: &str| {
        let punycode = l
            .get(..4)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("xn--"))
            && (5..=63).contains(&l.len())
            && l[4..].chars().all(|c| c.is_ascii_alphanumeric());
        let letters =
            label(l) && l.len() >= 2 && l.chars().all(|c| c.is_ascii_alphabetic() || c == '-');
        punycode || letters
    };
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((last, others)) = labels.split_last() else {
        return false;
    };
    local.split('.').all(atom)
        && !others.is_empty()
        && others.iter().all(|l| label(l))
        && top_level(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Identifier::email("  Ada@Example.COM ").unwrap(),
            Identifier::Email("ada@example.com".into())
        );
    }

    #[test]
    fn bad_emails_are_rejected() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a..b@example.com",
            "ada@exa mple.com",
            "ada@-example.com",
            "ada@example.123",
            "ädä@example.com",
        ] {
            assert_eq!(Identifier::email(bad), Err(INVALID_EMAIL), "{bad}");
        }
        assert!(Identifier::email(&format!("{}@example.com", "a".repeat(300))).is_err());
    }

    #[test]
    fn phones_are_e164() {
        assert!(Identifier::phone("+14155550123").is_ok());
        for bad in [
            "14155550123",
            "+0123456789",
            "+1415555",
            "+1 415 555 0123",
            "+1234567890123456",
        ] {
            assert_eq!(Identifier::phone(bad), Err(INVALID_PHONE), "{bad}");
        }
    }

    #[test]
    fn keys_name_the_kind() {
        assert_eq!(
            Identifier::phone("+14155550123").unwrap().key(),
            "phone:+14155550123"
        );
        assert_eq!(Identifier::email("a@b.co").unwrap().key(), "email:a@b.co");
    }

    /// The patterns (and the email's length) in the OpenAPI description accept exactly what
    /// the validators accept:
    /// edge cases, then strings built from the characters that matter.
    #[test]
    fn the_described_patterns_are_the_validators() {
        let email = regex_lite::Regex::new(EMAIL_PATTERN).unwrap();
        let phone = regex_lite::Regex::new(PHONE_PATTERN).unwrap();
        let mut samples: Vec<String> = [
            "a@b.co",
            "A@B.CO",
            "a.b@c.d.ef",
            "a@b.c",
            "a@b.c1",
            "a@b.xn--p1ai",
            "a@b.XN--P1AI",
            "a@b.xn--",
            "a@b.a-b",
            "a@b.-ab",
            "a@b.ab-",
            "a@-b.co",
            "a@b-.co",
            "a@b..co",
            ".a@b.co",
            "a.@b.co",
            "a..b@c.co",
            "a@b@c.co",
            "a b@c.co",
            "\u{212a}@b.co",
            "+14155550123",
            "+0123456789",
            "+1234567",
            "+123456789012345",
            "+1234567890123456",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        samples.push(format!("{}@b.co", "a".repeat(249)));
        samples.push(format!("{}@b.co", "a".repeat(250)));
        samples.push(format!("a@{}.co", "b".repeat(63)));
        samples.push(format!("a@{}.co", "b".repeat(64)));
        samples.push(format!("a@b.{}", "c".repeat(63)));
        samples.push(format!("a@b.{}", "c".repeat(64)));
        let alphabet: Vec<char> = "ab1.-@+_xnXN\u{212a}".chars().collect();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let length = 1 + (state % 12) as usize;
            let text: String = (0..length)
                .map(|i| alphabet[((state >> (i * 5)) % alphabet.len() as u64) as usize])
                .collect();
            samples.push(text);
        }
        for sample in &samples {
            assert_eq!(
                email.is_match(sample) && sample.chars().count() <= EMAIL_MAX_LENGTH,
                Identifier::email(sample).is_ok(),
                "email {sample:?}"
            );
            assert_eq!(
                phone.is_match(sample),
                Identifier::phone(sample).is_ok(),
                "phone {sample:?}"
            );
        }
    }
}

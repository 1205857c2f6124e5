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
        let email = raw.trim().to_lowercase();
        if is_valid_email(&email) {
            Ok(Identifier::Email(email))
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

/// A pragmatic version of Django's `EmailValidator`: a dot-atom local part and a domain of
/// letter/digit/hyphen labels with at least one dot.
fn is_valid_email(email: &str) -> bool {
    if email.len() > 254 {
        return false;
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return false;
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
    local_ok && domain_ok
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
}

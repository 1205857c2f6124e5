//! The validators' checks, with Django's common-password list.

use std::io::Read;
use std::sync::OnceLock;

use super::{PasswordPolicy, Validator};
use crate::error::AuthError;

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
static COMMON_PASSWORDS_GZ: &[u8] = include_bytes!("../../data/common-passwords.txt.gz");

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
}

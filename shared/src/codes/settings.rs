//! The codes' settings section.

use crate::settings::read::{Section, SettingsError, Values, error};

/// The codes' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSettings {
    /// `OTP_VALIDITY`: seconds a code works.
    pub validity: u64,
    /// `OTP_LENGTH`: digits, 4 to 10.
    pub length: u32,
    /// `OTP_MAX_ATTEMPTS`: wrong tries before a code is dead.
    pub max_attempts: u32,
}

impl Default for CodeSettings {
    fn default() -> Self {
        CodeSettings {
            validity: 60,
            length: 6,
            max_attempts: 5,
        }
    }
}

impl Section for CodeSettings {
    const NAMES: &'static [&'static str] = &["OTP_VALIDITY", "OTP_LENGTH", "OTP_MAX_ATTEMPTS"];

    fn read(&mut self, values: &Values) -> Result<(), SettingsError> {
        values.number("OTP_VALIDITY", &mut self.validity, 1)?;
        values.number("OTP_LENGTH", &mut self.length, 4)?;
        if self.length > 10 {
            return Err(error("OTP_LENGTH", "expected 4 to 10 digits"));
        }
        values.number("OTP_MAX_ATTEMPTS", &mut self.max_attempts, 1)
    }
}

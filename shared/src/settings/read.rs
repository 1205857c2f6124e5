//! How settings are read from their text form: the pieces every section uses. A leaf, so
//! that each capability's section can use it without importing the whole model.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A setting that could not be read: names it and says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub name: String,
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "setting {}: {}", self.name, self.message)
    }
}

impl std::error::Error for SettingsError {}

/// A setting that could not be read.
pub fn error(name: &str, message: &str) -> SettingsError {
    SettingsError {
        name: name.to_owned(),
        message: message.to_owned(),
    }
}

/// The items of a comma-separated list.
pub fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// A capability's part of the settings: the names it reads, its defaults (`Default`), and
/// how it reads them, so that a new capability brings its settings with it.
pub trait Section: Default {
    const NAMES: &'static [&'static str];
    fn read(&mut self, values: &Values) -> Result<(), SettingsError>;
}

/// The settings' values in their text form (`NAME` → text), as a section reads them.
pub struct Values<'a>(pub(crate) &'a BTreeMap<String, String>);

impl Values<'_> {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A text that must not be empty, into `slot` when given.
    pub fn text(&self, name: &str, slot: &mut String) -> Result<(), SettingsError> {
        if let Some(v) = self.get(name) {
            if v.is_empty() {
                return Err(error(name, "must not be empty"));
            }
            *slot = v.to_owned();
        }
        Ok(())
    }

    /// A whole number of at least `min`, into `slot` when given.
    pub fn number<T: FromStr + PartialOrd + fmt::Display + Copy>(
        &self,
        name: &str,
        slot: &mut T,
        min: T,
    ) -> Result<(), SettingsError> {
        if let Some(v) = self.get(name) {
            let parsed: T = v
                .parse()
                .map_err(|_| error(name, &format!("expected a whole number, got {v:?}")))?;
            if parsed < min {
                return Err(error(name, &format!("must be at least {min}")));
            }
            *slot = parsed;
        }
        Ok(())
    }

    /// A boolean (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`), into `slot` when given.
    pub fn boolean(&self, name: &str, slot: &mut bool) -> Result<(), SettingsError> {
        if let Some(v) = self.get(name) {
            *slot = match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => return Err(error(name, &format!("expected true or false, got {v:?}"))),
            };
        }
        Ok(())
    }
}

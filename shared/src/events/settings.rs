//! The lifecycle events' settings section.

use crate::settings::read::{Section, SettingsError, Values, error};

/// Where lifecycle events are published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSettings {
    /// `EVENT_BUS`: an EventBridge bus's name or ARN (`default`: the account's default
    /// bus); unset publishes nothing in Lambda (the local server always logs them).
    pub bus: Option<String>,
    /// `EVENT_SOURCE`: the events' `source`, what rules match on.
    pub source: String,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            bus: None,
            source: "blockauth".into(),
        }
    }
}

impl Section for EventSettings {
    const NAMES: &'static [&'static str] = &["EVENT_BUS", "EVENT_SOURCE"];

    fn read(&mut self, values: &Values) -> Result<(), SettingsError> {
        if let Some(v) = values.get("EVENT_BUS").filter(|v| !v.trim().is_empty()) {
            self.bus = Some(v.trim().to_owned());
        }
        values.text("EVENT_SOURCE", &mut self.source)?;
        // EventBridge refuses a source starting with `aws.` (AWS's own services).
        if self.source.is_empty() || self.source.starts_with("aws.") || self.source.len() > 256 {
            return Err(error(
                "EVENT_SOURCE",
                "expected 1 to 256 characters, not starting with aws.",
            ));
        }
        Ok(())
    }
}

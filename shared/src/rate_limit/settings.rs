//! The rate limits' settings section.

use crate::settings::read::{Section, SettingsError, Values, error, list};

/// The limits' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `REQUEST_LIMIT` requests per `REQUEST_WINDOW` seconds per (identifier, subject,
    /// client network).
    pub request_limit: u32,
    pub request_window: u64,
    /// `NETWORK_REQUEST_LIMIT` requests per `REQUEST_WINDOW` seconds per (subject, client
    /// network) on routes that take no identifier (social sign-in): one budget for everyone
    /// behind that network, so larger.
    pub network_request_limit: u32,
    /// `SEND_LIMIT` messages per `SEND_WINDOW` seconds to one identifier asked for from one
    /// client network, and `SEND_TOTAL_LIMIT` from all networks together (mail bombing).
    pub send_limit: u32,
    pub send_total_limit: u32,
    pub send_window: u64,
    /// `LOGIN_FAILURE_LIMIT` failed password tries per `LOGIN_FAILURE_WINDOW` seconds for
    /// one identifier from one client network, and `LOGIN_FAILURE_TOTAL_LIMIT` from every
    /// network the account never signed in from, together.
    pub login_failure_limit: u32,
    pub login_failure_total_limit: u32,
    pub login_failure_window: u64,
    /// `SMS_ALLOWED_COUNTRIES`: the calling codes (`+1`, `+44`, or longer prefixes) text
    /// messages may go to; empty: any. SMS pumping sends codes to numbers whose operator
    /// pays the attacker per message, mostly in countries a product never serves.
    pub sms_allowed_countries: Vec<String>,
    /// `SMS_MONTHLY_LIMIT`: text messages the whole deployment may send per calendar month
    /// (UTC); 0: no cap. What a pumping attack can cost, whatever else it gets past.
    pub sms_monthly_limit: u32,
}

impl Limits {
    /// Whether a text message may go to `phone` (E.164).
    pub fn sms_allowed(&self, phone: &str) -> bool {
        self.sms_allowed_countries.is_empty()
            || self
                .sms_allowed_countries
                .iter()
                .any(|prefix| phone.starts_with(prefix.as_str()))
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_limit: 3,
            request_window: 30,
            network_request_limit: 30,
            send_limit: 5,
            send_total_limit: 20,
            send_window: 3600,
            login_failure_limit: 20,
            login_failure_total_limit: 100,
            login_failure_window: 3600,
            sms_allowed_countries: Vec::new(),
            sms_monthly_limit: 1000,
        }
    }
}

impl Section for Limits {
    const NAMES: &'static [&'static str] = &[
        "REQUEST_LIMIT",
        "REQUEST_WINDOW",
        "NETWORK_REQUEST_LIMIT",
        "SEND_LIMIT",
        "SEND_TOTAL_LIMIT",
        "SEND_WINDOW",
        "LOGIN_FAILURE_LIMIT",
        "LOGIN_FAILURE_TOTAL_LIMIT",
        "LOGIN_FAILURE_WINDOW",
        "SMS_ALLOWED_COUNTRIES",
        "SMS_MONTHLY_LIMIT",
    ];

    fn read(&mut self, values: &Values) -> Result<(), SettingsError> {
        values.number("REQUEST_LIMIT", &mut self.request_limit, 1)?;
        values.number("REQUEST_WINDOW", &mut self.request_window, 1)?;
        values.number("NETWORK_REQUEST_LIMIT", &mut self.network_request_limit, 1)?;
        values.number("SEND_LIMIT", &mut self.send_limit, 1)?;
        values.number("SEND_TOTAL_LIMIT", &mut self.send_total_limit, 1)?;
        values.number("SEND_WINDOW", &mut self.send_window, 1)?;
        values.number("LOGIN_FAILURE_LIMIT", &mut self.login_failure_limit, 1)?;
        values.number(
            "LOGIN_FAILURE_TOTAL_LIMIT",
            &mut self.login_failure_total_limit,
            1,
        )?;
        values.number("LOGIN_FAILURE_WINDOW", &mut self.login_failure_window, 1)?;
        values.number("SMS_MONTHLY_LIMIT", &mut self.sms_monthly_limit, 0)?;
        if let Some(v) = values.get("SMS_ALLOWED_COUNTRIES") {
            self.sms_allowed_countries = list(v)
                .map(|code| {
                    let digits = code.strip_prefix('+').unwrap_or_default();
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(error(
                            "SMS_ALLOWED_COUNTRIES",
                            &format!("{code:?} is not a calling code such as +44"),
                        ));
                    }
                    Ok(code.to_owned())
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use std::collections::BTreeMap;

    fn with(value: &str) -> Result<Settings, SettingsError> {
        let values = BTreeMap::from([("SMS_ALLOWED_COUNTRIES".to_owned(), value.to_owned())]);
        Settings::from_values(&values)
    }

    #[test]
    fn sms_countries_are_calling_code_prefixes() {
        let limits = with("+1, +44").unwrap().limits;
        assert!(limits.sms_allowed("+14155550123"));
        assert!(limits.sms_allowed("+447700900123"));
        assert!(!limits.sms_allowed("+88216123456"));
        assert!(Limits::default().sms_allowed("+88216123456"));
        for bad in ["44", "+", "+4a", "UK"] {
            assert!(with(bad).is_err(), "{bad}");
        }
    }
}

//! Sign-In with Ethereum messages (EIP-4361): rendered for challenges, and parsed strictly
//! by the EIP's ABNF for logins. Lines are separated by LF; CRLF is accepted. A field that
//! is unknown, repeated or out of order is an error, as is anything after the last field.
//!
//! ```text
//! [scheme "://"] domain " wants you to sign in with your Ethereum account:" LF
//! address LF
//! LF
//! [statement LF]
//! LF
//! "URI: " uri LF
//! "Version: 1" LF
//! "Chain ID: " chain-id LF
//! "Nonce: " nonce LF
//! "Issued At: " date-time
//! [LF "Expiration Time: " date-time]
//! [LF "Not Before: " date-time]
//! [LF "Request ID: " *pchar]
//! [LF "Resources:" *(LF "- " uri)]
//! ```

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::wallet::Address;

const PREAMBLE: &str = " wants you to sign in with your Ethereum account:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiweMessage {
    pub scheme: Option<String>,
    /// The RFC 3986 authority asking for the signature, e.g. `app.example.com`.
    pub domain: String,
    pub address: Address,
    pub statement: Option<String>,
    pub uri: String,
    pub chain_id: u64,
    pub nonce: String,
    pub issued_at: OffsetDateTime,
    pub expiration_time: Option<OffsetDateTime>,
    pub not_before: Option<OffsetDateTime>,
    pub request_id: Option<String>,
    pub resources: Vec<String>,
}

/// Why a text is not an EIP-4361 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Not a valid EIP-4361 message: {}.", self.0)
    }
}

fn fail<T>(reason: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError(reason.into()))
}

impl SiweMessage {
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let text = text.replace("\r\n", "\n");
        if text.contains('\r') {
            return fail("a CR outside a CRLF line break");
        }
        let mut lines = text.split('\n').peekable();
        let mut next = |what: &str| {
            lines
                .next()
                .ok_or_else(|| ParseError(format!("it ends before {what}")))
        };

        let first = next("the first line")?;
        let origin = first
            .strip_suffix(PREAMBLE)
            .ok_or_else(|| ParseError(format!("the first line must end with {PREAMBLE:?}")))?;
        let (scheme, domain) = match origin.split_once("://") {
            Some((scheme, domain)) => (Some(scheme), domain),
            None => (None, origin),
        };
        if let Some(scheme) = scheme
            && !is_scheme(scheme)
        {
            return fail("the scheme is not a URI scheme");
        }
        if !is_authority(domain) {
            return fail("the domain is not an RFC 3986 authority");
        }

        let address_text = next("the address")?;
        let address = Address::parse(address_text)
            .ok()
            .filter(|a| a.checksummed() == address_text)
            .ok_or_else(|| ParseError("the address must be EIP-55 checksummed".into()))?;
        expect_empty(next("the blank line after the address")?)?;
        let statement = match next("the statement")? {
            "" => None,
            line if line.chars().all(is_statement_char) => {
                expect_empty(next("the blank line after the statement")?)?;
                Some(line.to_owned())
            }
            _ => return fail("the statement has a character EIP-4361 does not allow"),
        };

        let uri = field(next("URI")?, "URI")?;
        if !is_uri(uri) {
            return fail("the URI is not an RFC 3986 URI");
        }
        if field(next("Version")?, "Version")? != "1" {
            return fail("the version must be 1");
        }
        let chain_id = field(next("Chain ID")?, "Chain ID")?;
        let chain_id = chain_id
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| chain_id.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| ParseError("the chain ID must be a number".into()))?;
        let nonce = field(next("Nonce")?, "Nonce")?;
        if nonce.len() < 8 || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return fail("the nonce must be at least 8 letters or digits");
        }
        let issued_at = date_time(field(next("Issued At")?, "Issued At")?, "Issued At")?;

        let mut message = SiweMessage {
            scheme: scheme.map(str::to_owned),
            domain: domain.to_owned(),
            address,
            statement,
            uri: uri.to_owned(),
            chain_id,
            nonce: nonce.to_owned(),
            issued_at,
            expiration_time: None,
            not_before: None,
            request_id: None,
            resources: Vec::new(),
        };
        // The optional fields, each at most once and in this order.
        let mut order = 0;
        while let Some(line) = lines.next() {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            let position = ["Expiration Time", "Not Before", "Request ID", "Resources"]
                .iter()
                .position(|known| *known == name)
                .ok_or_else(|| ParseError(format!("unknown line {line:?}")))?;
            if position < order {
                return fail(format!("{name} is repeated or out of order"));
            }
            order = position + 1;
            if name == "Resources" {
                if !value.is_empty() {
                    return fail("Resources: must end its line");
                }
                while let Some(line) = lines.next_if(|l| l.starts_with("- ")) {
                    let resource = &line[2..];
                    if !is_uri(resource) {
                        return fail("a resource is not an RFC 3986 URI");
                    }
                    message.resources.push(resource.to_owned());
                }
                continue;
            }
            let value = value
                .strip_prefix(' ')
                .ok_or_else(|| ParseError(format!("{name}: must be followed by a space")))?;
            match name {
                "Expiration Time" => message.expiration_time = Some(date_time(value, name)?),
                "Not Before" => message.not_before = Some(date_time(value, name)?),
                _ if value.chars().all(is_pchar) => message.request_id = Some(value.to_owned()),
                _ => return fail("the request ID has a character EIP-4361 does not allow"),
            }
        }
        Ok(message)
    }
}

impl fmt::Display for SiweMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = &self.scheme {
            write!(f, "{scheme}://")?;
        }
        writeln!(f, "{}{PREAMBLE}", self.domain)?;
        writeln!(f, "{}", self.address.checksummed())?;
        writeln!(f)?;
        if let Some(statement) = &self.statement {
            writeln!(f, "{statement}")?;
        }
        writeln!(f)?;
        writeln!(f, "URI: {}", self.uri)?;
        writeln!(f, "Version: 1")?;
        writeln!(f, "Chain ID: {}", self.chain_id)?;
        writeln!(f, "Nonce: {}", self.nonce)?;
        write!(f, "Issued At: {}", rfc3339(self.issued_at))?;
        if let Some(at) = self.expiration_time {
            write!(f, "\nExpiration Time: {}", rfc3339(at))?;
        }
        if let Some(at) = self.not_before {
            write!(f, "\nNot Before: {}", rfc3339(at))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, "\nRequest ID: {id}")?;
        }
        if !self.resources.is_empty() {
            write!(f, "\nResources:")?;
            for resource in &self.resources {
                write!(f, "\n- {resource}")?;
            }
        }
        Ok(())
    }
}

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

fn expect_empty(line: &str) -> Result<(), ParseError> {
    if line.is_empty() {
        Ok(())
    } else {
        fail(format!("expected a blank line, got {line:?}"))
    }
}

/// The value of the line `<name>: <value>`.
fn field<'a>(line: &'a str, name: &str) -> Result<&'a str, ParseError> {
    line.strip_prefix(name)
        .and_then(|rest| rest.strip_prefix(": "))
        .ok_or_else(|| ParseError(format!("expected the line {name}: ..., got {line:?}")))
}

fn date_time(text: &str, name: &str) -> Result<OffsetDateTime, ParseError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| ParseError(format!("{name} is not an RFC 3339 date-time")))
}

fn is_unreserved(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~".contains(c)
}

fn is_sub_delim(c: char) -> bool {
    "!$&'()*+,;=".contains(c)
}

/// `reserved / unreserved / " "`: the statement is one line of plain ASCII.
fn is_statement_char(c: char) -> bool {
    is_unreserved(c) || is_sub_delim(c) || ":/?#[]@ ".contains(c)
}

/// RFC 3986 `pchar`, with `%` allowed for percent-encodings.
fn is_pchar(c: char) -> bool {
    is_unreserved(c) || is_sub_delim(c) || ":@%".contains(c)
}

fn is_scheme(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
}

/// An RFC 3986 authority: `[userinfo "@"] host [":" port]`, host a name or a bracketed IP.
pub(crate) fn is_authority(text: &str) -> bool {
    let host_port = match text.rsplit_once('@') {
        Some((user, rest)) if user.chars().all(|c| is_pchar(c) && c != '@') => rest,
        Some(_) => return false,
        None => text,
    };
    let (host_ok, port) = match host_port.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((ip, port)) => (
                !ip.is_empty()
                    && ip
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || ".:".contains(c)),
                port,
            ),
            None => return false,
        },
        None => {
            let (host, port) = host_port.split_at(host_port.find(':').unwrap_or(host_port.len()));
            let host_ok = !host.is_empty()
                && host
                    .chars()
                    .all(|c| is_unreserved(c) || is_sub_delim(c) || c == '%');
            (host_ok, port)
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

/// An absolute RFC 3986 URI: a scheme, `:`, and visible ASCII without spaces.
pub(crate) fn is_uri(text: &str) -> bool {
    text.split_once(':').is_some_and(|(scheme, rest)| {
        is_scheme(scheme)
            && !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_graphic() && !"<>\"{}|\\^`".contains(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "https://example.com wants you to sign in with your Ethereum account:
0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed

Sign in to Example: it's free!

URI: https://example.com/login
Version: 1
Chain ID: 137
Nonce: abcdefgh1234
Issued At: 2026-11-24T10:00:00.123Z
Expiration Time: 2026-11-24T11:00:00+02:00
Not Before: 2026-11-24T09:00:00Z
Request ID: r-1
Resources:
- https://a.example/x
- ipfs://bafybeigdyrzt";

    const MINIMAL: &str = "example.com:3000 wants you to sign in with your Ethereum account:
0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed


URI: http://example.com:3000
Version: 1
Chain ID: 1
Nonce: abcdefgh
Issued At: 2026-11-24T10:00:00Z";

    #[test]
    fn every_field_is_read() {
        let m = SiweMessage::parse(FULL).unwrap();
        assert_eq!(m.scheme.as_deref(), Some("https"));
        assert_eq!(m.domain, "example.com");
        assert_eq!(
            m.statement.as_deref(),
            Some("Sign in to Example: it's free!")
        );
        assert_eq!(m.uri, "https://example.com/login");
        assert_eq!(m.chain_id, 137);
        assert_eq!(m.nonce, "abcdefgh1234");
        assert_eq!(m.issued_at.unix_timestamp(), 1_795_514_400);
        assert_eq!(
            m.expiration_time.map(|t| t.unix_timestamp()),
            Some(1_795_510_800)
        );
        assert_eq!(m.request_id.as_deref(), Some("r-1"));
        assert_eq!(m.resources, ["https://a.example/x", "ipfs://bafybeigdyrzt"]);
        assert_eq!(SiweMessage::parse(&m.to_string()).unwrap(), m);
    }

    #[test]
    fn a_message_without_statement_has_two_blank_lines() {
        let m = SiweMessage::parse(MINIMAL).unwrap();
        assert_eq!(m.statement, None);
        assert_eq!(m.domain, "example.com:3000");
        assert_eq!(m.to_string(), MINIMAL);
    }

    #[test]
    fn crlf_line_breaks_are_accepted() {
        let crlf = FULL.replace('\n', "\r\n");
        assert_eq!(
            SiweMessage::parse(&crlf).unwrap(),
            SiweMessage::parse(FULL).unwrap()
        );
        assert!(SiweMessage::parse(&FULL.replace("Version", "\rVersion")).is_err());
    }

    #[test]
    fn anything_off_grammar_is_refused() {
        let bad = [
            ("unknown field", MINIMAL.replace("Nonce:", "Nonse:")),
            ("extra field", format!("{MINIMAL}\nColor: blue")),
            (
                "duplicate field",
                format!("{MINIMAL}\nRequest ID: a\nRequest ID: b"),
            ),
            (
                "out of order",
                format!(
                    "{MINIMAL}\nNot Before: 2026-11-24T09:00:00Z\nExpiration Time: 2026-11-24T11:00:00Z"
                ),
            ),
            ("trailing line break", format!("{MINIMAL}\n")),
            ("version 2", MINIMAL.replace("Version: 1", "Version: 2")),
            ("short nonce", MINIMAL.replace("abcdefgh", "abc")),
            ("nonce symbols", MINIMAL.replace("abcdefgh", "abcd-efgh")),
            ("chain id", MINIMAL.replace("Chain ID: 1", "Chain ID: one")),
            (
                "chain id sign",
                MINIMAL.replace("Chain ID: 1", "Chain ID: +1"),
            ),
            ("date", MINIMAL.replace("2026-11-24T10:00:00Z", "yesterday")),
            (
                "lowercase address",
                MINIMAL.replace(
                    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
                ),
            ),
            (
                "bad checksum",
                MINIMAL.replace(
                    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                    "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                ),
            ),
            ("no blank line", MINIMAL.replacen("\n\n\n", "\n\n", 1)),
            ("preamble", MINIMAL.replace("wants you", "asks you")),
            (
                "domain",
                MINIMAL.replace("example.com:3000 wants", "exa mple.com wants"),
            ),
            (
                "port",
                MINIMAL.replace("example.com:3000 wants", "example.com:x wants"),
            ),
            (
                "uri",
                MINIMAL.replace("URI: http://example.com:3000", "URI: example"),
            ),
            (
                "statement LF",
                FULL.replace("it's free!", "it's free!\nreally"),
            ),
            ("statement char", FULL.replace("free!", "free\u{0}")),
            ("resource", format!("{MINIMAL}\nResources:\n- not a uri")),
            (
                "truncated",
                MINIMAL[..MINIMAL.find("Nonce").unwrap()].to_owned(),
            ),
            ("empty", String::new()),
        ];
        for (what, text) in bad {
            assert!(SiweMessage::parse(&text).is_err(), "{what} was accepted");
        }
    }
}

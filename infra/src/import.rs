//! `cargo run -- import <export> [--dry-run] [--table NAME]`: reads a BlockAuth/Django
//! database export, either the peer's SQLite file (tables `user` and
//! `blockauth_social_identity`) or `manage.py dumpdata <app>.User blockauth.SocialIdentity`
//! JSON, told apart by the file's first bytes; `identity::moving_in` makes the accounts.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use blockauth::identity::moving_in::{Outcome, PeerSocialLink, PeerUser, Report, peer_time};
use serde_json::Value;

/// How many users are imported at once: each is a few reads or one transaction.
pub const PARALLEL: usize = 8;

/// The peer's users and their social links, from either kind of export.
pub fn read(path: &Path) -> Result<Vec<PeerUser>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (mut users, links) = if bytes.starts_with(b"SQLite format 3\0") {
        read_sqlite(path)?
    } else {
        read_json(&bytes).map_err(|e| format!("{}: {e}", path.display()))?
    };
    let mut at: HashMap<String, usize> = HashMap::new();
    for (i, user) in users.iter().enumerate() {
        at.insert(same_id(&user.id), i);
    }
    for (user_id, link) in links {
        if let Some(user) = at.get(&same_id(&user_id)).and_then(|i| users.get_mut(*i)) {
            user.social.push(link);
        }
    }
    Ok(users)
}

/// A UUID in one form whether SQLite (32 hex digits) or JSON (hyphenated) wrote it.
fn same_id(id: &str) -> String {
    id.trim().replace('-', "").to_ascii_lowercase()
}

type Export = (Vec<PeerUser>, Vec<(String, PeerSocialLink)>);

fn read_json(bytes: &[u8]) -> Result<Export, String> {
    let entries: Vec<Value> = serde_json::from_slice(bytes)
        .map_err(|e| format!("neither SQLite nor dumpdata JSON (a list): {e}"))?;
    let (mut users, mut links) = (Vec::new(), Vec::new());
    for entry in &entries {
        let fields = &entry["fields"];
        let text = |name: &str| fields[name].as_str().map(str::to_owned);
        let pk = match &entry["pk"] {
            Value::String(pk) => pk.clone(),
            other => other.to_string(),
        };
        let model = entry["model"].as_str().unwrap_or_default();
        if model.eq_ignore_ascii_case("blockauth.socialidentity") {
            let user_id = text("user").unwrap_or_default();
            links.push((
                user_id,
                social_link(text("provider"), text("subject"), text("created_at")),
            ));
        } else if fields.get("password").is_some() {
            users.push(PeerUser {
                id: pk,
                password: text("password").unwrap_or_default(),
                last_login: text("last_login").as_deref().and_then(peer_time),
                email: text("email"),
                phone_number: text("phone_number"),
                wallet_address: text("wallet_address"),
                is_verified: fields["is_verified"].as_bool().unwrap_or(false),
                authentication_types: texts(&fields["authentication_types"]),
                social: Vec::new(),
            });
        }
    }
    Ok((users, links))
}

fn social_link(
    provider: Option<String>,
    subject: Option<String>,
    created_at: Option<String>,
) -> PeerSocialLink {
    PeerSocialLink {
        provider: provider.unwrap_or_default(),
        subject: subject.unwrap_or_default(),
        created_at: created_at.as_deref().and_then(peer_time),
    }
}

fn texts(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn read_sqlite(path: &Path) -> Result<Export, String> {
    use rusqlite::{Connection, OpenFlags, types::Value as Sql};
    let fail = |e: rusqlite::Error| format!("{}: {e}", path.display());
    let db = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(fail)?;
    // SQLite keeps what Django wrote: text, or integers for booleans.
    let text = |value: Sql| match value {
        Sql::Text(text) => Some(text),
        Sql::Integer(n) => Some(n.to_string()),
        _ => None,
    };
    let mut users = Vec::new();
    let mut query = db
        .prepare(
            "SELECT id, password, last_login, email, phone_number, wallet_address, \
             is_verified, authentication_types FROM \"user\"",
        )
        .map_err(fail)?;
    let mut rows = query.query([]).map_err(fail)?;
    while let Some(row) = rows.next().map_err(fail)? {
        let column = |i: usize| row.get::<_, Sql>(i).ok().and_then(text);
        let types = column(7)
            .and_then(|json| serde_json::from_str::<Value>(&json).ok())
            .unwrap_or_default();
        users.push(PeerUser {
            id: column(0).unwrap_or_default(),
            password: column(1).unwrap_or_default(),
            last_login: column(2).as_deref().and_then(peer_time),
            email: column(3),
            phone_number: column(4),
            wallet_address: column(5),
            is_verified: column(6).is_some_and(|v| v == "1"),
            authentication_types: texts(&types),
            social: Vec::new(),
        });
    }
    let mut links = Vec::new();
    // The table's name since the package's migration 0005; `social_identity` before it.
    for table in ["blockauth_social_identity", "social_identity"] {
        let sql = format!("SELECT provider, subject, user_id, created_at FROM \"{table}\"");
        let Ok(mut query) = db.prepare(&sql) else {
            continue;
        };
        let mut rows = query.query([]).map_err(fail)?;
        while let Some(row) = rows.next().map_err(fail)? {
            let column = |i: usize| row.get::<_, Sql>(i).ok().and_then(text);
            let user_id = column(2).unwrap_or_default();
            links.push((user_id, social_link(column(0), column(1), column(3))));
        }
        break;
    }
    Ok((users, links))
}

/// The report the command prints: counts, then one line per user not imported (its id and
/// the reason, never a hash). Whether every user was either imported or skipped.
pub fn summary(report: &Report, dry_run: bool) -> (String, bool) {
    let mut imported = 0;
    let mut skipped: Vec<(String, usize)> = Vec::new();
    let mut lines = String::new();
    let mut failed = 0;
    for (id, outcome) in report {
        match outcome {
            Ok(Outcome::Imported) => imported += 1,
            Ok(Outcome::Skipped(skip)) => {
                let reason = match skip {
                    blockauth::identity::moving_in::Skip::Taken(_) => {
                        "an identifier, wallet or social subject belongs to another account"
                            .to_owned()
                    }
                    other => other.to_string(),
                };
                match skipped.iter_mut().find(|(r, _)| *r == reason) {
                    Some((_, n)) => *n += 1,
                    None => skipped.push((reason, 1)),
                }
                let _ = writeln!(lines, "  skipped {id}: {skip}");
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(
                    lines,
                    "  failed {id}: {e} (run again: imported users are skipped)"
                );
            }
        }
    }
    let verb = if dry_run { "would import" } else { "imported" };
    let total: usize = skipped.iter().map(|(_, n)| n).sum();
    let mut text = format!("{verb} {imported}, skipped {total}, failed {failed}\n");
    for (reason, n) in &skipped {
        let _ = writeln!(text, "  {n} {reason}");
    }
    text.push_str(&lines);
    (text, failed == 0)
}

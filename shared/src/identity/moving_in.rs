//! Moving in from BlockAuth/Django: a peer's user, as its database export holds it, made an
//! account here with everything that makes it unique (identifiers, wallet, social links).
//!
//! Each user is created in one transaction (its item and every claim, all conditional on
//! being new), so nothing is half-imported and nothing existing is overwritten. The peer's
//! user id is kept, so a second run finds the same account ("already imported"). Passwords
//! stay Django hashes until the first login verifies and upgrades them
//! (`password::django`). Reading the export (SQLite or `dumpdata` JSON) is the command's
//! (`infra`); this is what a user becomes.

use std::fmt;

use time::PrimitiveDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::task::JoinSet;

use crate::clock;
use crate::error::AuthError;
use crate::identity::identifier::Identifier;
use crate::identity::user::{self, AccountKey, SignInMethod, User};
use crate::social::ProviderIdentity;
use crate::social::settings::ProviderKind;
use crate::store::{Step, Store, TransactError, Transaction};
use crate::wallet::Address;

/// A user of the peer (`BlockUser`: its `user` table or `dumpdata` entry) and its social
/// links (`blockauth.SocialIdentity`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerUser {
    /// A UUID, with or without hyphens (SQLite keeps it as 32 hex digits).
    pub id: String,
    /// Django's `password`: a hash, or `!...` (unusable) or empty.
    pub password: String,
    pub last_login: Option<i64>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub wallet_address: Option<String>,
    pub is_verified: bool,
    pub authentication_types: Vec<String>,
    pub social: Vec<PeerSocialLink>,
}

/// One `SocialIdentity` row: a person at a provider, linked to the user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeerSocialLink {
    /// The peer's provider name (`google`, `apple`, ...): the name of our provider routes.
    pub provider: String,
    pub subject: String,
    pub created_at: Option<i64>,
}

/// Why a peer user was not imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// An account with this id exists (a previous run).
    AlreadyImported,
    /// Our accounts are always verified; an unverified peer user signs up again.
    NotVerified,
    InvalidId,
    InvalidEmail,
    InvalidPhone,
    InvalidWallet,
    /// No email, phone, wallet or social link: no way to sign in.
    NoWayIn,
    /// This identifier, wallet or social subject belongs to another account (its key).
    Taken(String),
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::AlreadyImported => write!(f, "already imported"),
            Skip::NotVerified => write!(f, "not verified: they sign up again"),
            Skip::InvalidId => write!(f, "the id is not a UUID"),
            Skip::InvalidEmail => write!(f, "the email is not valid"),
            Skip::InvalidPhone => write!(f, "the phone number is not E.164"),
            Skip::InvalidWallet => write!(f, "the wallet address is not valid (EIP-55)"),
            Skip::NoWayIn => write!(f, "no email, phone, wallet or social link"),
            Skip::Taken(key) => write!(f, "{key} belongs to another account"),
        }
    }
}

/// What became of one peer user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Imported (or, in a dry run, would be).
    Imported,
    Skipped(Skip),
}

/// The account a peer user becomes, and the keys it claims (each the `AccountKey` form:
/// `email:...`, `phone:...`, `wallet:...`, `social:<provider>:<subject>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    pub user: User,
    pub keys: Vec<String>,
    /// The social links (provider, subject, linked at), each recorded in the account's
    /// partition as the social flow records it.
    pub links: Vec<(String, String, i64)>,
}

/// A key already in its `AccountKey` form, made by the typed keys' own impls.
struct Claimed(String);

impl AccountKey for Claimed {
    fn account_key(&self) -> String {
        self.0.clone()
    }
}

impl PeerUser {
    /// The account this user becomes, or why it is not imported. `now` is the latest
    /// `date_joined` can be: the peer keeps no join date, so it is the earliest of
    /// `last_login`, the social links' `created_at` and now.
    pub fn arrival(&self, now: i64) -> Result<Arrival, Skip> {
        let id = uuid::Uuid::try_parse(self.id.trim()).map_err(|_| Skip::InvalidId)?;
        if !self.is_verified {
            return Err(Skip::NotVerified);
        }
        let present = |field: &Option<String>| {
            field
                .as_deref()
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(str::to_owned)
        };
        let email = match present(&self.email) {
            Some(text) => Some(Identifier::email(&text).map_err(|_| Skip::InvalidEmail)?),
            None => None,
        };
        let phone = match present(&self.phone_number) {
            Some(text) => Some(Identifier::phone(&text).map_err(|_| Skip::InvalidPhone)?),
            None => None,
        };
        let wallet = match present(&self.wallet_address) {
            Some(text) => Some(Address::parse(&text).map_err(|_| Skip::InvalidWallet)?),
            None => None,
        };
        let mut keys: Vec<String> = email
            .iter()
            .chain(&phone)
            .map(|i| i.account_key())
            .collect();
        keys.extend(wallet.as_ref().map(AccountKey::account_key));
        let mut methods = known_methods(&self.authentication_types);
        let mut links = Vec::new();
        for link in &self.social {
            let provider = link.provider.trim().to_ascii_lowercase();
            let identity = ProviderIdentity {
                provider: &provider,
                subject: &link.subject,
            };
            keys.push(identity.account_key());
            let linked_at = link.created_at.unwrap_or(now);
            links.push((provider.clone(), link.subject.clone(), linked_at));
            let kind = ProviderKind::named(&provider.to_ascii_uppercase())
                .unwrap_or(ProviderKind::OpenIdConnect);
            methods.push(SignInMethod::Social(kind.sign_in_name()).name().to_owned());
        }
        if keys.is_empty() {
            return Err(Skip::NoWayIn);
        }
        let mut once = Vec::new();
        for method in methods {
            if !once.contains(&method) {
                once.push(method);
            }
        }
        let date_joined = self
            .social
            .iter()
            .filter_map(|link| link.created_at)
            .chain(self.last_login)
            .chain([now])
            .min()
            .unwrap_or(now);
        let text = |identifier: &Option<Identifier>| match identifier {
            Some(Identifier::Email(text) | Identifier::Phone(text)) => Some(text.clone()),
            None => None,
        };
        // `!...` is Django's unusable password: the account signs in otherwise.
        let password = self.password.trim();
        let password_hash =
            (!password.is_empty() && !password.starts_with('!')).then(|| password.to_owned());
        let user = User {
            id: id.hyphenated().to_string(),
            email: text(&email),
            phone: text(&phone),
            wallet_address: wallet.as_ref().map(Address::checksummed),
            name: None,
            password_hash,
            is_verified: true,
            date_joined,
            last_login: self.last_login,
            authentication_types: once,
            session_epoch: 0,
            mfa_enabled: false,
            version: 0,
        };
        Ok(Arrival { user, keys, links })
    }
}

/// The peer's `authentication_types` that name a way in here (`SignInMethod::names`).
fn known_methods(types: &[String]) -> Vec<String> {
    let known = SignInMethod::names();
    types
        .iter()
        .filter(|t| known.contains(&t.as_str()))
        .cloned()
        .collect()
}

impl Arrival {
    /// The one transaction that creates the account: its item and every claim, each
    /// refused if it exists.
    fn transaction(&self) -> Transaction {
        let mut keys = self.keys.iter().map(|key| Claimed(key.clone()));
        let Some(first) = keys.next() else {
            return Transaction::new();
        };
        let steps = keys.fold(self.user.create(&first), |steps, key| {
            steps.step(Step::Claim, user::claim(&key, &self.user.id))
        });
        self.links
            .iter()
            .fold(steps, |steps, (provider, subject, linked_at)| {
                let identity = ProviderIdentity { provider, subject };
                let record = crate::social::record(&identity, &self.user.id, *linked_at);
                steps.step(Step::Claim, record)
            })
    }

    /// Why this account cannot be created, from reads: it exists, or a key belongs to
    /// another account; None when all is free.
    async fn obstacle(&self, store: &Store) -> Result<Option<Skip>, AuthError> {
        if user::get_in(store, &self.user.id).await?.is_some() {
            return Ok(Some(Skip::AlreadyImported));
        }
        for key in &self.keys {
            if user::owner_in(store, &Claimed(key.clone()))
                .await?
                .is_some()
            {
                return Ok(Some(Skip::Taken(key.clone())));
            }
        }
        Ok(None)
    }
}

/// Imports one peer user, or (with `dry_run`) says what would become of it, writing nothing.
pub async fn import(store: &Store, peer: &PeerUser, dry_run: bool) -> Result<Outcome, AuthError> {
    let arrival = match peer.arrival(clock::now()) {
        Ok(arrival) => arrival,
        Err(skip) => return Ok(Outcome::Skipped(skip)),
    };
    if dry_run {
        return Ok(match arrival.obstacle(store).await? {
            Some(skip) => Outcome::Skipped(skip),
            None => Outcome::Imported,
        });
    }
    match store.transact(arrival.transaction()).await {
        Ok(()) => Ok(Outcome::Imported),
        Err(TransactError::Refused(_)) => match arrival.obstacle(store).await? {
            Some(skip) => Ok(Outcome::Skipped(skip)),
            // Refused, yet everything is free now: something raced us; a rerun decides.
            None => Err(AuthError::unavailable(
                "import",
                &"refused, and nothing stands in the way now: run it again",
            )),
        },
        Err(TransactError::Unavailable) => Err(AuthError::Unavailable),
    }
}

/// What became of every peer user: (peer id, outcome), in the export's order, or the
/// error that stopped one (the store failed; a rerun skips what was imported).
pub type Report = Vec<(String, Result<Outcome, AuthError>)>;

/// Imports `peers` with at most `parallel` users in flight at once.
pub async fn import_all(
    store: &Store,
    peers: Vec<PeerUser>,
    dry_run: bool,
    parallel: usize,
) -> Report {
    let mut report: Vec<Option<(String, Result<Outcome, AuthError>)>> =
        (0..peers.len()).map(|_| None).collect();
    let mut running = JoinSet::new();
    let mut pending = peers.into_iter().enumerate();
    loop {
        while running.len() < parallel.max(1) {
            let Some((at, peer)) = pending.next() else {
                break;
            };
            let store = store.clone();
            running.spawn(async move {
                let outcome = import(&store, &peer, dry_run).await;
                // The id in one form, whichever the export wrote.
                let id = uuid::Uuid::try_parse(peer.id.trim())
                    .map_or(peer.id, |id| id.hyphenated().to_string());
                (at, id, outcome)
            });
        }
        match running.join_next().await {
            Some(Ok((at, id, outcome))) => {
                if let Some(slot) = report.get_mut(at) {
                    *slot = Some((id, outcome));
                }
            }
            Some(Err(e)) => tracing::error!(error = %e, "an import task failed"),
            None => break,
        }
    }
    report.into_iter().flatten().collect()
}

/// A date as the peer's export writes it: RFC 3339 in `dumpdata` JSON
/// (`2026-10-01T12:00:00Z`, `...12:00:00.123Z`), or SQLite's naive UTC text
/// (`2026-10-01 12:00:00`, `... 19:57:42.720132`).
pub fn peer_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(at) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Some(at.unix_timestamp());
    }
    // SQLite's form; Django writes microseconds, which a whole second drops.
    let whole = text.split('.').next().unwrap_or(text);
    let format = time::format_description::parse_borrowed::<2>(
        "[year]-[month]-[day] [hour]:[minute]:[second]",
    )
    .ok()?;
    PrimitiveDateTime::parse(whole, &format)
        .ok()
        .map(|at| at.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ada() -> PeerUser {
        PeerUser {
            id: "01a22e08dbe6743684dd7729974fac6f".into(),
            password: "pbkdf2_sha256$1000000$salt$hash".into(),
            last_login: Some(1_790_000_000),
            email: Some(" Ada@Example.com ".into()),
            is_verified: true,
            authentication_types: vec!["EMAIL".into(), "SOMETHING_ELSE".into()],
            ..PeerUser::default()
        }
    }

    #[test]
    fn a_peer_user_keeps_its_id_hash_and_normalised_email() {
        let arrival = ada().arrival(1_800_000_000).unwrap();
        let user = arrival.user;
        assert_eq!(user.id, "01a22e08-dbe6-7436-84dd-7729974fac6f");
        assert_eq!(user.email.as_deref(), Some("ada@example.com"));
        assert_eq!(
            user.password_hash.as_deref(),
            Some("pbkdf2_sha256$1000000$salt$hash")
        );
        assert_eq!(user.authentication_types, ["EMAIL"]);
        assert_eq!(user.date_joined, 1_790_000_000);
        assert!(user.is_verified);
        assert_eq!(arrival.keys, ["email:ada@example.com"]);
    }

    #[test]
    fn wallets_and_social_links_are_claimed_and_named() {
        let peer = PeerUser {
            password: "!unusable".into(),
            last_login: None,
            email: None,
            wallet_address: Some("0x337c1a59da3c795d91344dacaaa362ef73019cac".into()),
            authentication_types: vec!["WALLET".into()],
            social: vec![PeerSocialLink {
                provider: "google".into(),
                subject: "1082".into(),
                created_at: Some(1_700_000_000),
            }],
            ..ada()
        };
        let arrival = peer.arrival(1_800_000_000).unwrap();
        assert_eq!(arrival.user.password_hash, None);
        assert_eq!(
            arrival.user.wallet_address.as_deref(),
            Some("0x337C1a59Da3c795D91344DacAaA362Ef73019cAC")
        );
        assert_eq!(arrival.user.authentication_types, ["WALLET", "GOOGLE"]);
        assert_eq!(arrival.user.date_joined, 1_700_000_000);
        assert_eq!(
            arrival.keys,
            [
                "wallet:0x337c1a59da3c795d91344dacaaa362ef73019cac",
                "social:google:1082"
            ]
        );
    }

    #[test]
    fn what_cannot_be_an_account_here_is_skipped_with_its_reason() {
        let now = 1_800_000_000;
        let skip = |peer: PeerUser| peer.arrival(now).unwrap_err();
        assert_eq!(
            skip(PeerUser {
                is_verified: false,
                ..ada()
            }),
            Skip::NotVerified
        );
        assert_eq!(
            skip(PeerUser {
                id: "7".into(),
                ..ada()
            }),
            Skip::InvalidId
        );
        assert_eq!(
            skip(PeerUser {
                email: Some("not an email".into()),
                ..ada()
            }),
            Skip::InvalidEmail
        );
        assert_eq!(
            skip(PeerUser {
                phone_number: Some("555-0100".into()),
                ..ada()
            }),
            Skip::InvalidPhone
        );
        assert_eq!(
            skip(PeerUser {
                wallet_address: Some("0xnot-an-address".into()),
                ..ada()
            }),
            Skip::InvalidWallet
        );
        assert_eq!(
            skip(PeerUser {
                email: None,
                ..ada()
            }),
            Skip::NoWayIn
        );
    }

    #[test]
    fn both_export_date_forms_are_read() {
        assert_eq!(peer_time("2026-10-01T12:00:00Z"), Some(1_790_856_000));
        assert_eq!(peer_time("2026-10-01T12:00:00.250Z"), Some(1_790_856_000));
        assert_eq!(peer_time("2026-10-01 12:00:00"), Some(1_790_856_000));
        assert_eq!(peer_time("2026-10-01 12:00:00.720132"), Some(1_790_856_000));
        assert_eq!(peer_time("yesterday"), None);
    }
}

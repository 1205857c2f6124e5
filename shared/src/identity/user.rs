//! Users, and the items that make each identifier unique.
//!
//! Items: the user `pk = USER#<id>`, `sk = USER`; one per identifier or wallet address
//! `pk = IDENT#<account key>`, `sk = IDENT`, holding the user id; one per client network the
//! user signed in from in the last 90 days, `pk = USER#<id>`, `sk = NETWORK#<keyed hash>`. Both are written with
//! `attribute_not_exists(pk)` in one transaction, so an identifier or an address can never
//! have two accounts.

use crate::clock;
use crate::context::Context;
use crate::error::AuthError;
use crate::identity::identifier::Identifier;
use crate::social::settings::ProviderKind;
use crate::store::{Expression, Item, Step, Store, Transaction, Value, Write};
#[cfg(feature = "wallet")]
use crate::wallet::Address;

/// The address belongs to another account (found when claiming it, after its code proved it).
pub const EMAIL_TAKEN: AuthError = AuthError::Conflict {
    code: "email_taken",
    detail: "This email address belongs to another account.",
};

/// A conditional write lost to a concurrent change of the same account.
pub const CHANGED_MEANWHILE: AuthError = AuthError::Conflict {
    code: "conflict",
    detail: "The account changed meanwhile. Try again.",
};

pub const SORT_KEY: &str = "USER";
const IDENT_SORT_KEY: &str = "IDENT";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub wallet_address: Option<String>,
    /// The person's name, where a social provider gave it when the account was made.
    pub name: Option<String>,
    /// argon2id PHC string; never leaves the store except to be verified.
    pub password_hash: Option<String>,
    pub is_verified: bool,
    pub date_joined: i64,
    pub last_login: Option<i64>,
    pub authentication_types: Vec<String>,
    /// Sessions (refresh families) carry the epoch they began in; raising it ends them all.
    pub session_epoch: i64,
    /// A second factor (TOTP) is required at every sign-in but a passkey's.
    pub mfa_enabled: bool,
    /// Raised by every `UserChange`, so that deleting the account can require that nothing
    /// (a wallet linked, a passkey added) changed since it read what to free.
    pub version: i64,
}

pub fn partition(user_id: &str) -> String {
    format!("USER#{user_id}")
}

/// What an account is known by, unique across accounts: an identifier or a wallet address.
pub trait AccountKey {
    /// The form used in store keys: `email:ada@example.com`, `wallet:0xab...`.
    fn account_key(&self) -> String;
}

impl AccountKey for Identifier {
    fn account_key(&self) -> String {
        self.key()
    }
}

#[cfg(feature = "wallet")]
impl AccountKey for Address {
    fn account_key(&self) -> String {
        wallet_key(&self.lowercase())
    }
}

fn wallet_key(address: &str) -> String {
    format!("wallet:{}", address.to_ascii_lowercase())
}

fn owner_partition(known_by: &impl AccountKey) -> String {
    format!("IDENT#{}", known_by.account_key())
}

impl User {
    /// A new verified user known by `identifier`, signing in now.
    pub fn new(
        identifier: &Identifier,
        password_hash: Option<String>,
        method: SignInMethod,
    ) -> Self {
        let mut user = Self::signing_up(password_hash, method);
        match identifier {
            Identifier::Email(e) => user.email = Some(e.clone()),
            Identifier::Phone(p) => user.phone = Some(p.clone()),
        }
        user
    }

    /// A new user known by its wallet `address`, signing in now.
    #[cfg(feature = "wallet")]
    pub fn with_wallet(address: &Address) -> Self {
        let mut user = Self::signing_up(None, SignInMethod::Wallet);
        user.wallet_address = Some(address.checksummed());
        user
    }

    /// A new user known only by how it signs in (a provider's identity), signing in now.
    pub fn known_by_sign_in(method: SignInMethod) -> Self {
        Self::signing_up(None, method)
    }

    fn signing_up(password_hash: Option<String>, method: SignInMethod) -> Self {
        let now = clock::now();
        User {
            id: uuid::Uuid::new_v4().to_string(),
            email: None,
            phone: None,
            wallet_address: None,
            name: None,
            password_hash,
            is_verified: true,
            date_joined: now,
            last_login: Some(now),
            authentication_types: vec![method.name().to_owned()],
            session_epoch: 0,
            mfa_enabled: false,
            version: 0,
        }
    }

    /// How messages name this account: its email, else its phone, else its wallet address.
    pub fn known_as(&self) -> &str {
        [&self.email, &self.phone, &self.wallet_address]
            .into_iter()
            .find_map(Option::as_deref)
            .unwrap_or(&self.id)
    }

    /// Where notices to the account's owner go: its email, else its phone.
    pub fn contact(&self) -> Option<Identifier> {
        self.email
            .as_deref()
            .map(Identifier::email)
            .or(self.phone.as_deref().map(Identifier::phone))
            .and_then(Result::ok)
    }

    /// Where failed password tries of this account are counted (`rate_limit::LoginAttempt`):
    /// the key of its email, else of its phone, as `login/basic/` counts them.
    pub fn password_key(&self) -> String {
        let identifier = match (&self.email, &self.phone) {
            (Some(email), _) => Identifier::email(email),
            (None, Some(phone)) => Identifier::phone(phone),
            (None, None) => return format!("user:{}", self.id),
        };
        identifier.map_or_else(|_| format!("user:{}", self.id), |i| i.key())
    }

    /// The public view: never a secret or a hash.
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "email": self.email,
            "phone": self.phone,
            "wallet_address": self.wallet_address,
            "name": self.name,
            "is_verified": self.is_verified,
            "date_joined": clock::rfc3339(self.date_joined),
            "last_login": self.last_login.map(clock::rfc3339),
            "authentication_types": self.authentication_types,
        })
    }

    fn to_item(&self) -> Item {
        let mut item = Item::new(&partition(&self.id), SORT_KEY).with("id", &self.id);
        let optional = [
            ("email", &self.email),
            ("phone", &self.phone),
            ("wallet_address", &self.wallet_address),
            ("name", &self.name),
            ("password_hash", &self.password_hash),
        ];
        for (name, value) in optional {
            if let Some(v) = value {
                item = item.with(name, v);
            }
        }
        item = item
            .with("is_verified", self.is_verified)
            .with("date_joined", self.date_joined)
            .with("authentication_types", self.authentication_types.clone())
            .with("session_epoch", self.session_epoch)
            .with("mfa_enabled", self.mfa_enabled);
        match self.last_login {
            Some(at) => item.with("last_login", at),
            None => item,
        }
    }

    pub(crate) fn from_item(item: &Item) -> Option<Self> {
        Some(User {
            id: item.text("id")?,
            email: item.text("email"),
            phone: item.text("phone"),
            wallet_address: item.text("wallet_address"),
            name: item.text("name"),
            password_hash: item.text("password_hash"),
            is_verified: item.flag("is_verified"),
            date_joined: item.number("date_joined")?,
            last_login: item.number("last_login"),
            authentication_types: item.texts("authentication_types"),
            session_epoch: item.number("session_epoch").unwrap_or(0),
            mfa_enabled: item.flag("mfa_enabled"),
            version: item.number("version").unwrap_or(0),
        })
    }

    /// The writes that create this user known by `known_by`: the `Step::NewUser` and the
    /// `Step::Claim` (which fails if that identifier or address already has an account).
    pub fn create(&self, known_by: &impl AccountKey) -> Transaction {
        Transaction::new()
            .step(Step::NewUser, Write::put_new(self.to_item()))
            .step(Step::Claim, claim(known_by, &self.id))
    }
}

/// The write that makes `known_by` belong to `user_id`; it fails if it belongs to anyone.
pub fn claim(known_by: &impl AccountKey, user_id: &str) -> Write {
    Write::put_new(Item::new(&owner_partition(known_by), IDENT_SORT_KEY).with("user_id", user_id))
}

/// The attribute of an item in a user's partition that names what it makes the user own
/// (a passkey's credential id, a provider's person): deleting the account frees each.
pub const OWNS: &str = "owns";

/// `item`, kept in the user's partition, marked as what makes the user own `known_by`.
pub fn owning(item: Item, known_by: &impl AccountKey) -> Item {
    item.with(OWNS, owner_partition(known_by))
}

/// The write that frees what `item` (marked by `owning`) made `user_id` own, only if it
/// still belongs to `user_id`.
pub fn release_owned(item: &Item, user_id: &str) -> Option<Write> {
    let owner = item.text(OWNS)?;
    owner
        .starts_with("IDENT#")
        .then(|| release_partition(&owner, user_id))
}

/// A write that writes nothing and fails if `known_by` belongs to an account.
pub fn check_free(known_by: &impl AccountKey) -> Write {
    Write::check(
        &owner_partition(known_by),
        IDENT_SORT_KEY,
        Expression::new("attribute_not_exists(pk)"),
    )
}

/// The write that frees `identifier`, only if it still belongs to `user_id`.
pub fn release(known_by: &impl AccountKey, user_id: &str) -> Write {
    release_partition(&owner_partition(known_by), user_id)
}

/// The write that frees the wallet `address` (as a user item holds it), only if it still
/// belongs to `user_id`.
pub fn release_wallet(address: &str, user_id: &str) -> Write {
    release_partition(&format!("IDENT#{}", wallet_key(address)), user_id)
}

fn release_partition(owner: &str, user_id: &str) -> Write {
    Write::delete_if(
        owner,
        IDENT_SORT_KEY,
        Expression::new("user_id = :user").value(":user", user_id),
    )
}

/// How an account signs in, as `authentication_types` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    Email,
    Phone,
    Passwordless,
    Wallet,
    /// A social login provider, by its `authentication_types` name (`GOOGLE`).
    Social(&'static str),
    Passkey,
}

impl SignInMethod {
    /// The methods that are not a social provider's.
    const OWN: [SignInMethod; 5] = [
        SignInMethod::Email,
        SignInMethod::Phone,
        SignInMethod::Passwordless,
        SignInMethod::Wallet,
        SignInMethod::Passkey,
    ];

    /// Every name `authentication_types` may hold.
    pub fn names() -> Vec<&'static str> {
        Self::OWN
            .into_iter()
            .map(SignInMethod::name)
            .chain(social_sign_ins())
            .collect()
    }

    pub fn name(self) -> &'static str {
        match self {
            SignInMethod::Email => "EMAIL",
            SignInMethod::Phone => "PHONE",
            SignInMethod::Passwordless => "PASSWORDLESS",
            SignInMethod::Wallet => "WALLET",
            SignInMethod::Social(name) => name,
            SignInMethod::Passkey => "PASSKEY",
        }
    }

    /// The method `authentication_types` names `name`.
    pub fn named(name: &str) -> Option<Self> {
        Self::OWN
            .into_iter()
            .find(|m| m.name() == name)
            .or_else(|| {
                social_sign_ins()
                    .into_iter()
                    .find(|s| *s == name)
                    .map(SignInMethod::Social)
            })
    }

    /// Password sign-in with `identifier`.
    pub fn password(identifier: &Identifier) -> Self {
        match identifier {
            Identifier::Email(_) => SignInMethod::Email,
            Identifier::Phone(_) => SignInMethod::Phone,
        }
    }
}

/// One attribute of a user that a change sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserField {
    Email(String),
    PasswordHash(String),
    LastLogin(i64),
    /// A sign-in method added to `authentication_types` (kept once).
    Method(SignInMethod),
    /// A sign-in method taken out of `authentication_types`.
    WithoutMethod(SignInMethod),
    /// The second factor required (true) or not.
    Mfa(bool),
}

/// Changes to an existing user, written only if nobody changed its sessions since it was
/// read (so a concurrent password change cannot be undone by a stale write).
#[derive(Debug, Default)]
pub struct UserChange {
    pub set: Vec<UserField>,
    /// End every session (refresh family) begun before this change.
    pub end_sessions: bool,
    /// The user must still have no email (one is being added), so that of two parallel
    /// changes only one can set it.
    pub require_no_email: bool,
    /// How the account's count of passkeys moves, within its limits.
    pub passkeys: PasskeyCount,
    /// A wallet linked or unlinked.
    pub wallet: WalletChange,
}

/// A wallet address attached to or detached from an account (`wallet/link/`,
/// `wallet/unlink/`), held by the write's condition however many requests run at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum WalletChange {
    #[default]
    Unchanged,
    /// This address (EIP-55) attached; refused when the account has one already.
    Linked(String),
    /// This address (EIP-55) detached; refused when it is not the account's, or when it is
    /// the account's last way in.
    Unlinked(String),
}

/// How a change moves an account's count of passkeys (`passkey_count` on its item), so
/// that the limit and the last way in hold however many requests run at once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PasskeyCount {
    #[default]
    Unchanged,
    /// One more, refused when the account has `max`.
    Added { max: u32 },
    /// One fewer, refused when that passkey is the account's last way in.
    Removed,
}

/// The sign-in names of social providers (`SignInMethod::Social`): an account with one has
/// a way in besides its passkeys.
fn social_sign_ins() -> [&'static str; 5] {
    ProviderKind::ALL.map(ProviderKind::sign_in_name)
}

impl User {
    /// Whether the account can sign in without a passkey: a password, an identifier a code
    /// can be sent to (passwordless login, password reset), a wallet, or a social provider.
    /// (`PasskeyCount::Removed` holds the same rule as a condition of the write.)
    pub fn has_way_in_besides_passkeys(&self) -> bool {
        self.wallet_address.is_some() || self.has_way_in_besides_passkeys_and_wallet()
    }

    /// A password, an identifier a code can be sent to, or a social provider.
    pub fn has_way_in_besides_passkeys_and_wallet(&self) -> bool {
        self.password_hash.is_some()
            || self.email.is_some()
            || self.phone.is_some()
            || self
                .authentication_types
                .iter()
                .any(|t| social_sign_ins().contains(&t.as_str()))
    }
}

impl UserChange {
    /// The write (the `Step::UserChange`), and `user` as it will be once it succeeds.
    pub fn apply(self, user: &mut User) -> Write {
        let epoch = user.session_epoch;
        if self.end_sessions {
            user.session_epoch += 1;
        }
        let assigned: Vec<(&str, Value)> = self
            .set
            .into_iter()
            .map(|field| match field {
                UserField::Email(email) => {
                    user.email = Some(email.clone());
                    ("email", email.into())
                }
                UserField::PasswordHash(hash) => {
                    user.password_hash = Some(hash.clone());
                    ("password_hash", hash.into())
                }
                UserField::LastLogin(at) => {
                    user.last_login = Some(at);
                    ("last_login", at.into())
                }
                UserField::Method(method) => {
                    if !user.authentication_types.iter().any(|t| t == method.name()) {
                        user.authentication_types.push(method.name().to_owned());
                    }
                    (
                        "authentication_types",
                        user.authentication_types.clone().into(),
                    )
                }
                UserField::Mfa(on) => {
                    user.mfa_enabled = on;
                    ("mfa_enabled", on.into())
                }
                UserField::WithoutMethod(method) => {
                    user.authentication_types.retain(|t| t != method.name());
                    (
                        "authentication_types",
                        user.authentication_types.clone().into(),
                    )
                }
            })
            .collect();
        let assignments: String = (0..assigned.len())
            .map(|i| format!(", #a{i} = :a{i}"))
            .collect();
        user.version += 1;
        let mut update = Expression::new(format!(
            "SET session_epoch = :next, #version = :version{assignments}"
        ))
        .name("#version", "version")
        .value(":next", user.session_epoch)
        .value(":version", user.version);
        for (i, (name, value)) in assigned.into_iter().enumerate() {
            update = update
                .name(&format!("#a{i}"), name)
                .value(&format!(":a{i}"), value);
        }
        let mut condition = "attribute_exists(pk) AND session_epoch = :epoch".to_owned();
        if self.require_no_email {
            condition.push_str(" AND attribute_not_exists(email)");
        }
        let mut condition = Expression::new(condition).value(":epoch", epoch);
        match self.passkeys {
            PasskeyCount::Unchanged => {}
            PasskeyCount::Added { max } => {
                update = update
                    .appended(", passkey_count = if_not_exists(passkey_count, :zero) + :one")
                    .value(":zero", 0i64)
                    .value(":one", 1i64);
                condition = condition
                    .appended(" AND (attribute_not_exists(passkey_count) OR passkey_count < :max)")
                    .value(":max", max);
            }
            PasskeyCount::Removed => {
                update = update
                    .appended(", passkey_count = passkey_count - :one")
                    .value(":one", 1i64);
                condition = condition
                    .appended(" AND passkey_count >= :one AND (passkey_count > :one")
                    .value(":one", 1i64);
                condition = or_another_way_in(condition, " OR attribute_exists(wallet_address)");
            }
        }
        match self.wallet {
            WalletChange::Unchanged => {}
            WalletChange::Linked(address) => {
                user.wallet_address = Some(address.clone());
                update = update
                    .appended(", wallet_address = :wallet")
                    .value(":wallet", address);
                condition = condition.appended(" AND attribute_not_exists(wallet_address)");
            }
            WalletChange::Unlinked(address) => {
                user.wallet_address = None;
                update = update.appended(" REMOVE wallet_address");
                condition = condition
                    .appended(" AND wallet_address = :wallet AND (")
                    .value(":wallet", address);
                condition =
                    or_another_way_in(condition, "passkey_count > :none").value(":none", 0i64);
            }
        }
        Write::update_if(&partition(&user.id), SORT_KEY, update, condition)
    }
}

/// `condition`, an open parenthesis, continued by: `first`, or a way in besides passkeys and
/// wallets (a password, an email or phone a code can reach, a social provider), closed.
/// (`User::has_way_in_besides_passkeys` says the same of an item read.)
fn or_another_way_in(condition: Expression, first: &str) -> Expression {
    let social: String = (0..social_sign_ins().len())
        .map(|i| format!(" OR contains(authentication_types, :social{i})"))
        .collect();
    let mut condition = condition.appended(&format!(
        "{first} OR attribute_exists(password_hash) OR attribute_exists(email) \
         OR attribute_exists(phone){social})"
    ));
    for (i, name) in social_sign_ins().iter().enumerate() {
        condition = condition.value(&format!(":social{i}"), *name);
    }
    condition
}

/// The user with this id, if it exists.
pub async fn get(ctx: &Context, user_id: &str) -> Result<Option<User>, AuthError> {
    get_in(&ctx.store, user_id).await
}

/// `get` where there is a store but no request context (the import command).
pub async fn get_in(store: &Store, user_id: &str) -> Result<Option<User>, AuthError> {
    Ok(store
        .get(&partition(user_id), SORT_KEY)
        .await?
        .as_ref()
        .and_then(User::from_item))
}

/// The id of the account `known_by` belongs to, if any (one read).
pub async fn owner(ctx: &Context, known_by: &impl AccountKey) -> Result<Option<String>, AuthError> {
    owner_in(&ctx.store, known_by).await
}

/// `owner` where there is a store but no request context (the import command).
pub async fn owner_in(
    store: &Store,
    known_by: &impl AccountKey,
) -> Result<Option<String>, AuthError> {
    Ok(store
        .get(&owner_partition(known_by), IDENT_SORT_KEY)
        .await?
        .and_then(|item| item.text("user_id")))
}

/// The user known by `known_by`, if any.
pub async fn find(ctx: &Context, known_by: &impl AccountKey) -> Result<Option<User>, AuthError> {
    match owner(ctx, known_by).await? {
        Some(user_id) => get(ctx, &user_id).await,
        None => Ok(None),
    }
}

/// The user known by `identifier`, and whether it signed in from `network` before. An
/// identifier without an account reads a user id nobody has, so both take the same two
/// reads and their timing tells nobody which it was.
pub async fn find_for_sign_in(
    ctx: &Context,
    identifier: &Identifier,
    network: &str,
) -> Result<(Option<User>, bool), AuthError> {
    let owner = ctx
        .store
        .get(&owner_partition(identifier), IDENT_SORT_KEY)
        .await?;
    let user_id = owner.and_then(|item| item.text("user_id"));
    let pk = partition(user_id.as_deref().unwrap_or(NOBODY));
    let items = ctx
        .store
        .get_many(&[(&pk, SORT_KEY), (&pk, &network_sort_key(ctx, network))])
        .await?;
    let user = items
        .first()
        .and_then(Option::as_ref)
        .and_then(User::from_item);
    let familiar = user.is_some() && items.get(1).is_some_and(Option::is_some);
    Ok((user, familiar))
}

/// A user id that no account has (random UUIDs are never nil).
pub const NOBODY: &str = "00000000-0000-0000-0000-000000000000";

/// The sort-key prefix of the networks an account signed in from.
pub const NETWORK_PREFIX: &str = "NETWORK#";

/// How long a network an account signed in from stays familiar to it.
const FAMILIAR_FOR: i64 = 90 * 24 * 3600;

/// The sort key of a network an account signed in from: a keyed hash, never the address.
fn network_sort_key(ctx: &Context, network: &str) -> String {
    let tag = ctx.keyed_hash(&format!("network\n{network}"));
    // 16 bytes of the tag are plenty for a sort key.
    format!("{NETWORK_PREFIX}{}", &tag[..32])
}

/// The write that remembers that `user_id` signed in from `network`, so that strangers'
/// failed tries from other networks never wall it off (see `rate_limit::LoginAttempt`).
pub fn remember_network(ctx: &Context, user_id: &str, network: &str) -> Write {
    let item = Item::new(&partition(user_id), &network_sort_key(ctx, network))
        .expiring_at(clock::now() + FAMILIAR_FOR);
    Write::put(item)
}

/// Whether `user_id` signed in from `network` within `FAMILIAR_FOR`.
pub async fn knows_network(ctx: &Context, user_id: &str, network: &str) -> Result<bool, AuthError> {
    Ok(ctx
        .store
        .get(&partition(user_id), &network_sort_key(ctx, network))
        .await?
        .is_some())
}

/// Whether `identifier` belongs to an account (one read).
pub async fn exists(ctx: &Context, identifier: &Identifier) -> Result<bool, AuthError> {
    Ok(ctx
        .store
        .get(&owner_partition(identifier), IDENT_SORT_KEY)
        .await?
        .is_some())
}

//! The single DynamoDB table every feature shares, and the few operations on it.
//!
//! Every item has a string partition key `pk` and sort key `sk`; short-lived items carry the
//! TTL attribute `expires_at` (Unix seconds), and every read treats an expired item as absent,
//! because DynamoDB deletes expired items lazily. Uniqueness and single use are conditional
//! writes and transactions, never read-then-write.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put,
    TransactWriteItem, Update, WriteRequest,
};

use crate::clock;
use crate::error::AuthError;

/// The table definition: the local server, the tests and `template.yaml` agree with it.
pub mod table {
    use super::describe;
    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    };

    pub const PARTITION_KEY: &str = "pk";
    pub const SORT_KEY: &str = "sk";
    pub const TTL_ATTRIBUTE: &str = "expires_at";

    /// Creates the table with TTL on, unless it exists.
    pub async fn create_if_missing(client: &Client, name: &str) -> Result<(), String> {
        let key = |attribute: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(attribute)
                .key_type(kind)
                .build()
                .map_err(|e| e.to_string())
        };
        let string = |attribute: &str| {
            AttributeDefinition::builder()
                .attribute_name(attribute)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())
        };
        let created = client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
            .key_schema(key(SORT_KEY, KeyType::Range)?)
            .attribute_definitions(string(PARTITION_KEY)?)
            .attribute_definitions(string(SORT_KEY)?)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e) if e.code() == Some("ResourceInUseException") => return Ok(()),
            Err(e) => return Err(format!("create table {name}: {}", describe(&e))),
        }
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|e| e.to_string())?;
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| format!("enable TTL on {name}: {}", describe(&e)))?;
        Ok(())
    }
}

/// A handle on the table: the client built once per container, and the table's name.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

/// An attribute's value, as the domain writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Number(i64),
    Flag(bool),
    Texts(Vec<String>),
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Value::Text(v.clone())
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Number(v)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::Number(i64::from(v))
    }
}
impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Value::Number(i64::try_from(v).unwrap_or(i64::MAX))
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Flag(v)
    }
}
impl From<Vec<String>> for Value {
    fn from(v: Vec<String>) -> Self {
        Value::Texts(v)
    }
}

impl Value {
    fn attribute(self) -> AttributeValue {
        match self {
            Value::Text(v) => AttributeValue::S(v),
            Value::Number(v) => AttributeValue::N(v.to_string()),
            Value::Flag(v) => AttributeValue::Bool(v),
            Value::Texts(v) => AttributeValue::L(v.into_iter().map(AttributeValue::S).collect()),
        }
    }
}

/// One item: its key and attributes, read or to be written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Item(HashMap<String, AttributeValue>);

impl Item {
    /// A new item at (`pk`, `sk`).
    pub fn new(pk: &str, sk: &str) -> Self {
        Item(key(pk, sk))
    }

    /// The item with `name` set to `value`.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_owned(), value.into().attribute());
        self
    }

    /// The item, deleted by DynamoDB's TTL (and ignored by every read) from `at` on.
    pub fn expiring_at(self, at: i64) -> Self {
        self.with(table::TTL_ATTRIBUTE, at)
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(|v| v.as_s().ok()).cloned()
    }

    pub fn number(&self, name: &str) -> Option<i64> {
        self.0
            .get(name)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
    }

    /// A boolean attribute; false when absent.
    pub fn flag(&self, name: &str) -> bool {
        self.0
            .get(name)
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false)
    }

    /// A list of texts; empty when absent.
    pub fn texts(&self, name: &str) -> Vec<String> {
        self.0
            .get(name)
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default()
    }

    fn is_expired(&self) -> bool {
        self.number(table::TTL_ATTRIBUTE)
            .is_some_and(|at| at <= clock::now())
    }
}

/// A condition or an update in DynamoDB's expression language, with the values of its
/// `:placeholders` and the attribute names of its `#placeholders`.
#[derive(Debug, Clone, Default)]
pub struct Expression {
    text: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    pub fn new(text: impl Into<String>) -> Self {
        Expression {
            text: text.into(),
            ..Expression::default()
        }
    }

    /// `:placeholder` stands for `value`.
    pub fn value(mut self, placeholder: &str, value: impl Into<Value>) -> Self {
        self.values
            .insert(placeholder.to_owned(), value.into().attribute());
        self
    }

    /// The expression with `text` added at its end (its placeholders given after).
    pub fn appended(mut self, text: &str) -> Self {
        self.text.push_str(text);
        self
    }

    /// `#placeholder` stands for the attribute `name` (for reserved words such as `hash`).
    pub fn name(mut self, placeholder: &str, name: &str) -> Self {
        self.names.insert(placeholder.to_owned(), name.to_owned());
        self
    }
}

/// One write: on its own (`Store::write`) or a step of a transaction.
#[derive(Debug, Clone)]
pub enum Write {
    /// Writes the item, replacing what is at its key, if the condition holds (or always).
    Put {
        item: Item,
        condition: Option<Expression>,
    },
    /// Applies `update` (a `SET`/`ADD` expression) to the item at the key, creating it if
    /// absent, if the condition holds (or always).
    Update {
        pk: String,
        sk: String,
        update: Expression,
        condition: Option<Expression>,
    },
    /// Deletes the item at the key, if the condition holds (or always).
    Delete {
        pk: String,
        sk: String,
        condition: Option<Expression>,
    },
    /// Writes nothing; fails the transaction unless the condition holds.
    Check {
        pk: String,
        sk: String,
        condition: Expression,
    },
}

impl Write {
    /// Writes `item`, replacing whatever is at its key.
    pub fn put(item: Item) -> Self {
        Write::Put {
            item,
            condition: None,
        }
    }

    /// Writes `item` only if nothing lives at its key.
    pub fn put_new(item: Item) -> Self {
        Write::put_if(item, Expression::new("attribute_not_exists(pk)"))
    }

    pub fn put_if(item: Item, condition: Expression) -> Self {
        Write::Put {
            item,
            condition: Some(condition),
        }
    }

    pub fn update(pk: &str, sk: &str, update: Expression) -> Self {
        Write::Update {
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            update,
            condition: None,
        }
    }

    pub fn update_if(pk: &str, sk: &str, update: Expression, condition: Expression) -> Self {
        Write::Update {
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            update,
            condition: Some(condition),
        }
    }

    pub fn delete(pk: &str, sk: &str) -> Self {
        Write::Delete {
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            condition: None,
        }
    }

    pub fn delete_if(pk: &str, sk: &str, condition: Expression) -> Self {
        Write::Delete {
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            condition: Some(condition),
        }
    }

    pub fn check(pk: &str, sk: &str, condition: Expression) -> Self {
        Write::Check {
            pk: pk.to_owned(),
            sk: sk.to_owned(),
            condition,
        }
    }

    /// What is written where, and the condition with every placeholder's value.
    fn parts(self) -> Parts {
        let (mut names, mut values) = (HashMap::new(), HashMap::new());
        let mut take = |expression: Expression| {
            names.extend(expression.names);
            values.extend(expression.values);
            expression.text
        };
        let (target, condition) = match self {
            Write::Put { item, condition } => (Target::Put(item.0), condition.map(&mut take)),
            Write::Update {
                pk,
                sk,
                update,
                condition,
            } => {
                let update = take(update);
                (
                    Target::Update(key(&pk, &sk), update),
                    condition.map(&mut take),
                )
            }
            Write::Delete { pk, sk, condition } => {
                (Target::Delete(key(&pk, &sk)), condition.map(&mut take))
            }
            Write::Check { pk, sk, condition } => {
                (Target::Check(key(&pk, &sk)), Some(take(condition)))
            }
        };
        Parts {
            target,
            condition,
            names: some(names),
            values: some(values),
        }
    }

    /// This write as a transaction item on `table`.
    fn transact_item(self, table: &str) -> Result<TransactWriteItem, AuthError> {
        let invalid = |e: BuildError| AuthError::unavailable("dynamodb request", &e);
        let Parts {
            target,
            condition,
            names,
            values,
        } = self.parts();
        let item = TransactWriteItem::builder();
        let item = match target {
            Target::Put(attributes) => item.put(
                with_parts!(
                    Put::builder().table_name(table).set_item(Some(attributes)),
                    condition,
                    names,
                    values
                )
                .build()
                .map_err(invalid)?,
            ),
            Target::Update(key, update) => item.update(
                with_parts!(
                    Update::builder()
                        .table_name(table)
                        .set_key(Some(key))
                        .update_expression(update),
                    condition,
                    names,
                    values
                )
                .build()
                .map_err(invalid)?,
            ),
            Target::Delete(key) => item.delete(
                with_parts!(
                    Delete::builder().table_name(table).set_key(Some(key)),
                    condition,
                    names,
                    values
                )
                .build()
                .map_err(invalid)?,
            ),
            Target::Check(key) => item.condition_check(
                with_parts!(
                    ConditionCheck::builder()
                        .table_name(table)
                        .set_key(Some(key)),
                    condition,
                    names,
                    values
                )
                .build()
                .map_err(invalid)?,
            ),
        };
        Ok(item.build())
    }
}

type Attributes = HashMap<String, AttributeValue>;

/// A write taken apart for the SDK's builders.
struct Parts {
    target: Target,
    condition: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<Attributes>,
}

enum Target {
    Put(Attributes),
    /// The key, and the update expression.
    Update(Attributes, String),
    Delete(Attributes),
    Check(Attributes),
}

/// The condition and placeholders of a write, set on any of the SDK's write builders (each
/// its own type, with the same three setters).
macro_rules! with_parts {
    ($builder:expr, $condition:expr, $names:expr, $values:expr) => {
        $builder
            .set_condition_expression($condition)
            .set_expression_attribute_names($names)
            .set_expression_attribute_values($values)
    };
}
use with_parts;

/// None for an empty map: DynamoDB refuses empty placeholder maps.
fn some<V>(map: HashMap<String, V>) -> Option<HashMap<String, V>> {
    (!map.is_empty()).then_some(map)
}

/// The named steps of the domain's transactions: when a condition fails, the transaction
/// says which steps failed by these names, never by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A one-time code is used up (it must still be the live code that was checked).
    Code,
    /// A Sign-In with Ethereum nonce is used up.
    Nonce,
    /// A new user's item is written.
    NewUser,
    /// An identifier or wallet address is claimed for an account (it must be free).
    Claim,
    /// An identifier must still be free of any account (nothing is written).
    IdentifierFree,
    /// An identifier is released by the account that had it.
    Release,
    /// An existing user is changed (it must exist with the sessions it was read with).
    UserChange,
    /// The user's sessions must not have ended since it was read (nothing is written).
    SessionsUnchanged,
    /// A signup's pending item is written or removed.
    PendingSignup,
    /// A login session (refresh family) is written or moved on.
    Family,
    /// A refresh token is retired (it must not have been used).
    UsedToken,
    /// The client network is remembered for the account.
    Network,
    /// A reserved login attempt is given back.
    LoginRefund,
    /// A passkey credential is written, updated (its counter must have moved forward) or
    /// removed.
    Credential,
    /// An item that made the account own something (a passkey, a social link) is removed
    /// with the account.
    Owned,
    /// A sign-in waits for its second factor, or is completed by it.
    SecondFactor,
    /// A second factor is set up, used (a TOTP step, a backup code) or removed.
    Factor,
}

/// Writes that happen all together or not at all, each under its step's name.
#[derive(Debug, Default)]
pub struct Transaction {
    steps: Vec<(Step, Write)>,
}

impl Transaction {
    pub fn new() -> Self {
        Transaction::default()
    }

    /// The transaction with `write` added as `step`.
    pub fn step(mut self, step: Step, write: Write) -> Self {
        self.steps.push((step, write));
        self
    }

    pub fn push(&mut self, step: Step, write: Write) {
        self.steps.push((step, write));
    }

    /// How many writes it holds.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The transaction with `other`'s steps after its own.
    pub fn and(mut self, other: Transaction) -> Self {
        self.steps.extend(other.steps);
        self
    }

    /// Every write of `writes` added as `step`.
    pub fn steps(mut self, step: Step, writes: impl IntoIterator<Item = Write>) -> Self {
        self.steps.extend(writes.into_iter().map(|w| (step, w)));
        self
    }
}

/// Why a transaction did not happen.
#[derive(Debug)]
pub enum TransactError {
    /// The conditions of these steps failed; nothing was written.
    Refused(Refused),
    /// DynamoDB failed, or the transaction kept conflicting with others.
    Unavailable,
}

/// The steps whose conditions failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(Vec<Step>);

impl Refused {
    /// Whether `step`'s condition failed.
    pub fn by(&self, step: Step) -> bool {
        self.0.contains(&step)
    }
}

impl From<TransactError> for AuthError {
    fn from(_: TransactError) -> Self {
        AuthError::Unavailable
    }
}

/// Conflicting transactions (and unread batch keys) are tried this many times before the
/// request gets 503.
const TRANSACTION_TRIES: u32 = 4;

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
        }
    }

    /// The store of a Lambda container: the table `table` through the AWS configuration
    /// of its environment.
    pub fn from_aws(aws: &crate::aws::SdkConfig, table: impl Into<String>) -> Self {
        let aws = crate::aws::for_service(aws, crate::aws::Service::DynamoDb);
        Store::new(Client::new(&aws), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The item at (`pk`, `sk`), strongly consistent, or None if absent or expired.
    pub async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, AuthError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(out.item.map(Item).filter(|item| !item.is_expired()))
    }

    /// The items at `keys`, strongly consistent, in one BatchGetItem (at most 100 keys),
    /// in the order asked; None where absent or expired.
    pub async fn get_many(&self, keys: &[(&str, &str)]) -> Result<Vec<Option<Item>>, AuthError> {
        let mut wanted: Vec<HashMap<String, AttributeValue>> =
            keys.iter().map(|(pk, sk)| key(pk, sk)).collect();
        let mut found: Vec<Item> = Vec::new();
        for attempt in 1..=TRANSACTION_TRIES {
            let request = KeysAndAttributes::builder()
                .set_keys(Some(wanted))
                .consistent_read(true)
                .build()
                .map_err(|e| AuthError::unavailable("dynamodb request", &e))?;
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| unavailable(&e))?;
            found.extend(
                out.responses
                    .and_then(|mut tables| tables.remove(&self.table))
                    .unwrap_or_default()
                    .into_iter()
                    .map(Item),
            );
            // DynamoDB may leave keys unread under load; ask again for those.
            wanted = out
                .unprocessed_keys
                .and_then(|mut tables| tables.remove(&self.table))
                .map(|left| left.keys)
                .unwrap_or_default();
            if wanted.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
        }
        if !wanted.is_empty() {
            return Err(AuthError::unavailable("dynamodb", &"keys left unprocessed"));
        }
        Ok(keys
            .iter()
            .map(|(pk, sk)| {
                found
                    .iter()
                    .find(|item| {
                        item.text(table::PARTITION_KEY).as_deref() == Some(*pk)
                            && item.text(table::SORT_KEY).as_deref() == Some(*sk)
                    })
                    .filter(|item| !item.is_expired())
                    .cloned()
            })
            .collect())
    }

    /// Every item in partition `pk` whose sort key starts with `prefix` (unexpired).
    pub async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, AuthError> {
        self.query(pk, Some(prefix)).await
    }

    /// Every item in partition `pk` (unexpired).
    pub async fn query_partition(&self, pk: &str) -> Result<Vec<Item>, AuthError> {
        self.query(pk, None).await
    }

    async fn query(&self, pk: &str, prefix: Option<&str>) -> Result<Vec<Item>, AuthError> {
        let condition = match prefix {
            Some(_) => "pk = :pk AND begins_with(sk, :prefix)",
            None => "pk = :pk",
        };
        let mut values = HashMap::from([(":pk".to_owned(), AttributeValue::S(pk.to_owned()))]);
        if let Some(prefix) = prefix {
            values.insert(":prefix".to_owned(), AttributeValue::S(prefix.to_owned()));
        }
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable(&e))?;
            items.extend(
                out.items
                    .unwrap_or_default()
                    .into_iter()
                    .map(Item)
                    .filter(|i| !i.is_expired()),
            );
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Deletes the items at `keys`, unconditionally, 25 to a request (`BatchWriteItem`),
    /// sending again what DynamoDB left unprocessed.
    pub async fn delete_all(&self, keys: &[(String, String)]) -> Result<(), AuthError> {
        for chunk in keys.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|(pk, sk)| {
                    let key = DeleteRequest::builder()
                        .key(table::PARTITION_KEY, AttributeValue::S(pk.clone()))
                        .key(table::SORT_KEY, AttributeValue::S(sk.clone()))
                        .build()
                        .map_err(|e| AuthError::unavailable("dynamodb", &e))?;
                    Ok(WriteRequest::builder().delete_request(key).build())
                })
                .collect::<Result<Vec<_>, AuthError>>()?;
            let mut attempt = 0;
            while !requests.is_empty() {
                if attempt == 5 {
                    return Err(AuthError::unavailable(
                        "dynamodb",
                        &"items left unprocessed",
                    ));
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                attempt += 1;
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| unavailable(&e))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    /// Does one write on its own: Ok(false) when its condition failed and nothing changed.
    /// (A single-item call costs half a transaction's.)
    pub async fn write(&self, write: Write) -> Result<bool, AuthError> {
        let Parts {
            target,
            condition,
            names,
            values,
        } = write.parts();
        let table = &self.table;
        match target {
            Target::Put(item) => written(
                with_parts!(
                    self.client
                        .put_item()
                        .table_name(table)
                        .set_item(Some(item)),
                    condition,
                    names,
                    values
                )
                .send()
                .await,
            ),
            Target::Update(key, update) => written(
                with_parts!(
                    self.client
                        .update_item()
                        .table_name(table)
                        .set_key(Some(key))
                        .update_expression(update),
                    condition,
                    names,
                    values
                )
                .send()
                .await,
            ),
            Target::Delete(key) => written(
                with_parts!(
                    self.client
                        .delete_item()
                        .table_name(table)
                        .set_key(Some(key)),
                    condition,
                    names,
                    values
                )
                .send()
                .await,
            ),
            Target::Check(_) => {
                let why = "a condition check writes nothing on its own";
                Err(AuthError::unavailable("dynamodb request", &why))
            }
        }
    }

    /// Writes an item, replacing any item at its key.
    pub async fn put(&self, item: Item) -> Result<(), AuthError> {
        self.write(Write::put(item)).await.map(drop)
    }

    /// Deletes the item at (`pk`, `sk`), if any.
    pub async fn delete(&self, pk: &str, sk: &str) -> Result<(), AuthError> {
        self.write(Write::delete(pk, sk)).await.map(drop)
    }

    /// Adds one to the counter attribute `hits` of (`pk`, `sk`) if it is under `limit`,
    /// creating it to expire at `until`: atomic, so parallel requests cannot pass the
    /// limit. Ok(false) when the counter is at its limit.
    pub async fn count(
        &self,
        pk: &str,
        sk: &str,
        limit: u32,
        until: i64,
    ) -> Result<bool, AuthError> {
        self.write(Write::update_if(
            pk,
            sk,
            Expression::new("ADD hits :one SET expires_at = :end")
                .value(":one", 1_i64)
                .value(":end", until),
            Expression::new("attribute_not_exists(hits) OR hits < :limit").value(":limit", limit),
        ))
        .await
    }

    /// Runs the transaction all-or-nothing, retrying conflicts with others.
    pub async fn transact(&self, transaction: Transaction) -> Result<(), TransactError> {
        let (steps, writes): (Vec<Step>, Vec<Write>) = transaction.steps.into_iter().unzip();
        let items = writes
            .into_iter()
            .map(|w| w.transact_item(&self.table))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| TransactError::Unavailable)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                error.as_service_error()
            {
                let codes: Vec<&str> = cancelled
                    .cancellation_reasons()
                    .iter()
                    .map(|r| r.code().unwrap_or("None"))
                    .collect();
                let failed: Vec<Step> = codes
                    .iter()
                    .zip(&steps)
                    .filter(|(code, _)| **code == "ConditionalCheckFailed")
                    .map(|(_, step)| *step)
                    .collect();
                if !failed.is_empty() {
                    return Err(TransactError::Refused(Refused(failed)));
                }
                if codes.contains(&"TransactionConflict") && attempt < TRANSACTION_TRIES {
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                    continue;
                }
            }
            if error.code() == Some("TransactionConflictException") && attempt < TRANSACTION_TRIES {
                tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                continue;
            }
            tracing::error!(error = %describe(&error), "transaction failed");
            return Err(TransactError::Unavailable);
        }
    }
}

/// The key attributes of (`pk`, `sk`).
fn key(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (
            table::PARTITION_KEY.to_owned(),
            AttributeValue::S(pk.to_owned()),
        ),
        (table::SORT_KEY.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

/// A single write's outcome: written (true), refused by its condition (false), or 503.
fn written<T, E, R>(result: Result<T, SdkError<E, R>>) -> Result<bool, AuthError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failed(&e) => Ok(false),
        Err(e) => Err(unavailable(&e)),
    }
}

/// Whether a conditional write failed its condition (as opposed to DynamoDB failing).
fn is_condition_failed<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// Logs a DynamoDB failure and answers 503.
fn unavailable<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: &SdkError<E, R>,
) -> AuthError {
    AuthError::unavailable("dynamodb", &describe(error))
}

fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: &SdkError<E, R>,
) -> String {
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(error)),
    }
}

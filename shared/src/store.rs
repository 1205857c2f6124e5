//! The single DynamoDB table every feature shares, and the few operations on it.
//!
//! Every item has a string partition key `pk` and sort key `sk`; short-lived items carry the
//! TTL attribute `expires_at` (Unix seconds), and every read treats an expired item as absent,
//! because DynamoDB deletes expired items lazily. Uniqueness and single use are conditional
//! writes and transactions, never read-then-write.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem};

use crate::clock;
use crate::error::AuthError;

pub type Item = HashMap<String, AttributeValue>;

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

/// Why a transaction did not happen.
#[derive(Debug)]
pub enum TransactError {
    /// A condition failed; `true` marks each item whose condition failed, in order.
    Condition(Vec<bool>),
    /// DynamoDB failed, or the transaction kept conflicting with others.
    Unavailable,
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

    pub fn client(&self) -> &Client {
        &self.client
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
        Ok(out.item.filter(|item| !is_expired(item)))
    }

    /// The items at `keys`, strongly consistent, in one BatchGetItem (at most 100 keys),
    /// in the order asked; None where absent or expired.
    pub async fn get_many(&self, keys: &[(&str, &str)]) -> Result<Vec<Option<Item>>, AuthError> {
        let mut wanted: Vec<Item> = keys.iter().map(|(pk, sk)| key(pk, sk)).collect();
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
                    .unwrap_or_default(),
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
                        text(item, table::PARTITION_KEY).as_deref() == Some(*pk)
                            && text(item, table::SORT_KEY).as_deref() == Some(*sk)
                    })
                    .filter(|item| !is_expired(item))
                    .cloned()
            })
            .collect())
    }

    /// Writes an item, replacing any item at its key.
    pub async fn put(&self, item: Item) -> Result<(), AuthError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    /// Deletes the item at (`pk`, `sk`), if any.
    pub async fn delete(&self, pk: &str, sk: &str) -> Result<(), AuthError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(())
    }

    /// Every item in partition `pk` whose sort key starts with `prefix` (unexpired).
    pub async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, AuthError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| unavailable(&e))?;
            items.extend(
                out.items
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|i| !is_expired(i)),
            );
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Runs the writes as one all-or-nothing transaction, retrying conflicts with others.
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactError> {
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
                let failed: Vec<bool> = codes
                    .iter()
                    .map(|c| *c == "ConditionalCheckFailed")
                    .collect();
                if failed.iter().any(|f| *f) {
                    return Err(TransactError::Condition(failed));
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

    /// A transaction item that writes `item` only if nothing lives at its key.
    pub fn put_new(&self, item: Item) -> TransactWriteItem {
        self.put_if(item, "attribute_not_exists(pk)", HashMap::new())
    }

    /// A transaction item that writes `item` (replacing what is there).
    pub fn put_any(&self, item: Item) -> TransactWriteItem {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build();
        TransactWriteItem::builder().set_put(put.ok()).build()
    }

    /// A transaction item that writes `item` if `condition` holds for what is there.
    pub fn put_if(
        &self,
        item: Item,
        condition: &str,
        values: HashMap<String, AttributeValue>,
    ) -> TransactWriteItem {
        let put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build();
        TransactWriteItem::builder().set_put(put.ok()).build()
    }

    /// A transaction item that deletes (`pk`, `sk`) if `condition` holds (None: always).
    pub fn delete_if(
        &self,
        pk: &str,
        sk: &str,
        condition: Option<&str>,
        values: HashMap<String, AttributeValue>,
    ) -> TransactWriteItem {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build();
        TransactWriteItem::builder().set_delete(delete.ok()).build()
    }

    /// A transaction item that applies `update` to (`pk`, `sk`) if `condition` holds;
    /// `names` are the expression's `#name` placeholders.
    pub fn update_if(
        &self,
        pk: &str,
        sk: &str,
        update: &str,
        condition: Option<&str>,
        names: HashMap<String, String>,
        values: HashMap<String, AttributeValue>,
    ) -> TransactWriteItem {
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .update_expression(update)
            .set_condition_expression(condition.map(str::to_owned))
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build();
        TransactWriteItem::builder().set_update(update.ok()).build()
    }

    /// A transaction item that writes nothing but fails the transaction unless `condition`
    /// holds for (`pk`, `sk`).
    pub fn check_if(
        &self,
        pk: &str,
        sk: &str,
        condition: &str,
        values: HashMap<String, AttributeValue>,
    ) -> TransactWriteItem {
        let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(pk, sk)))
            .condition_expression(condition)
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .build();
        TransactWriteItem::builder()
            .set_condition_check(check.ok())
            .build()
    }
}

/// The key attributes of (`pk`, `sk`).
pub fn key(pk: &str, sk: &str) -> Item {
    HashMap::from([
        (table::PARTITION_KEY.to_owned(), s(pk)),
        (table::SORT_KEY.to_owned(), s(sk)),
    ])
}

/// A string attribute.
pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A number attribute.
pub fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

pub fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

pub fn flag(item: &Item, name: &str) -> bool {
    item.get(name)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

fn is_expired(item: &Item) -> bool {
    number(item, table::TTL_ATTRIBUTE).is_some_and(|at| at <= clock::now())
}

/// Whether a conditional write failed its condition (as opposed to DynamoDB failing).
pub fn is_condition_failed<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error.code() == Some("ConditionalCheckFailedException")
}

/// Logs a DynamoDB failure and answers 503.
pub fn unavailable<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
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

//! `POST /batch` (api-facts A6): up to `batch_max` BatchItemRequests, run one after the other.
//! Each gives a BatchItemResponse with its `bId` and either the entity, a `QueryResponse`, a
//! `CDCResponse`, or a `Fault`; a failing item does not fail the batch (HTTP 200).

use super::api::run_query;
use super::cdc;
use super::entities::{self, EntityDef};
use super::errors::QboError;
use super::operations::Ops;
use serde_json::{json, Map, Value};

/// Longest `bId` when the batch carries a requestid.
pub(crate) const MAX_BID_LEN: usize = 10;

/// Limits of one batch.
pub(crate) struct BatchLimits {
    /// Most items per batch.
    pub max_items: usize,
    /// The request had a `requestid` (bIds are then at most 10 characters).
    pub has_request_id: bool,
    /// CDC look-back limit in days.
    pub cdc_max_days: i64,
}

/// Runs a batch; the answer is the `BatchItemResponse` list.
pub(crate) fn run(
    ops: &mut Ops,
    body: Value,
    limits: &BatchLimits,
) -> Result<Vec<Value>, QboError> {
    let Value::Object(mut body) = body else {
        return Err(QboError::invalid_property(
            "the batch body must be an object with BatchItemRequest",
        ));
    };
    let items = match body.remove("BatchItemRequest") {
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(QboError::invalid_property(
                "BatchItemRequest must be an array",
            ))
        }
        None => return Err(QboError::required("BatchItemRequest")),
    };
    if items.len() > limits.max_items {
        return Err(QboError::validation(
            "2050",
            "Length exceeds limit",
            format!(
                "Too many BatchItemRequest items: {} (the maximum is {})",
                items.len(),
                limits.max_items
            ),
        )
        .element("BatchItemRequest"));
    }
    Ok(items
        .into_iter()
        .map(|item| run_item(ops, item, limits))
        .collect())
}

fn fault_item(bid: &str, error: &QboError) -> Value {
    json!({"Fault": error.fault_json(), "bId": bid})
}

fn run_item(ops: &mut Ops, item: Value, limits: &BatchLimits) -> Value {
    let Value::Object(mut item) = item else {
        return fault_item(
            "",
            &QboError::invalid_property("each BatchItemRequest must be an object"),
        );
    };
    let bid = item
        .get("bId")
        .and_then(|b| {
            b.as_str()
                .map(str::to_string)
                .or_else(|| b.as_i64().map(|n| n.to_string()))
        })
        .unwrap_or_default();
    if bid.is_empty() {
        return fault_item("", &QboError::required("bId"));
    }
    if limits.has_request_id && bid.chars().count() > MAX_BID_LEN {
        return fault_item(&bid, &QboError::too_long("bId", MAX_BID_LEN));
    }
    let result = run_operation(ops, &mut item, limits);
    match result {
        Ok((key, value)) => {
            let mut out = Map::new();
            out.insert(key, value);
            out.insert("bId".into(), json!(bid));
            Value::Object(out)
        }
        Err(e) => fault_item(&bid, &e),
    }
}

fn run_operation(
    ops: &mut Ops,
    item: &mut Map<String, Value>,
    limits: &BatchLimits,
) -> Result<(String, Value), QboError> {
    if let Some(query) = item.get("Query") {
        let sql = query
            .as_str()
            .ok_or_else(|| QboError::invalid_property("Query must be a string"))?;
        return Ok(("QueryResponse".into(), run_query(ops, sql)?));
    }
    if let Some(cdc_query) = item.get("CDCQuery") {
        let entities = cdc_query.get("Entities").and_then(Value::as_str);
        let since = cdc_query.get("ChangedSince").and_then(Value::as_str);
        let (names, since) =
            cdc::parse_request(entities, since, ops.now, ops.tz, limits.cdc_max_days)?;
        return Ok((
            "CDCResponse".into(),
            json!({"QueryResponse": cdc::changes(ops.company, &names, since, ops.tz)}),
        ));
    }
    let operation = item
        .get("operation")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase);
    let options = item
        .get("optionsData")
        .and_then(Value::as_str)
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    let (def, body) = entity_of(item)?;
    let value = match operation.as_deref() {
        Some("delete") => ops.delete(def, body)?,
        Some("void") => ops.void(def, body)?,
        Some("update") if options.contains("void") => ops.void(def, body)?,
        Some("create") | Some("update") | None => ops.save(def, body)?,
        Some(other) => {
            return Err(QboError::unsupported(format!(
                "Batch operation {other} is not supported"
            )))
        }
    };
    Ok((def.name.to_string(), value))
}

fn entity_of(item: &mut Map<String, Value>) -> Result<(&'static EntityDef, Value), QboError> {
    let key = item
        .keys()
        .find(|k| {
            !matches!(k.as_str(), "bId" | "operation" | "optionsData")
                && entities::lookup(k).is_some()
        })
        .cloned()
        .ok_or_else(|| {
            QboError::unsupported(
                "The BatchItemRequest holds no supported entity, Query or CDCQuery",
            )
        })?;
    let def = entities::lookup(&key)
        .ok_or_else(|| QboError::unsupported(format!("Unsupported entity {key}")))?;
    Ok((def, item.remove(&key).unwrap_or(Value::Null)))
}

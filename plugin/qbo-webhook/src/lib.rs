//! QBO webhook bodies (api-facts A8), in both formats, turned into [`WebhookEvent`]s. One reader
//! of the format for both sides: the host's receiver reads the realms to verify and route a
//! delivery, the component's flows read the events to act on them.
//!
//! | format | shape | realm | entity | id | operation | last updated |
//! |---|---|---|---|---|---|---|
//! | legacy | `{"eventNotifications":[{"realmId", "dataChangeEvent":{"entities":[…]}}]}` | `realmId` | `name` | `id` | `operation` (`Create`, `Update`, `Delete`, `Merge`, `Void`, `Emailed`) | `lastUpdated` |
//! | CloudEvents | `[{"specversion","type":"qbo.<entity>.<verb>.v1","intuitaccountid","intuitentityid","time","data"}]` | `intuitaccountid` | from `type` | `intuitentityid` | verb of `type` (`created`, `updated`, …) | `time` |
//!
//! A merge names the Id merged away: `deletedId` on a legacy entity, `data.deletedid` in a
//! CloudEvent. One delivery may hold several realms in either format.
//!
//! Anything else is a [`PayloadError`] naming the field (as a path such as
//! `eventNotifications[0].dataChangeEvent.entities[1].id`). Only what the receiver needs is
//! required; extra keys are ignored. Ids and realm ids are accepted as strings or integers.

use serde::Serialize;
use serde_json::{Map, Value};

/// Which of the two published formats a body uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Format {
    /// `{"eventNotifications": [...]}`.
    Legacy,
    /// A CloudEvents array (a single event object is accepted too).
    CloudEvents,
}

/// What happened to an entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Operation {
    /// Created.
    Create,
    /// Updated (including made inactive).
    Update,
    /// Deleted.
    Delete,
    /// Merged into another (the event names the Id merged away).
    Merge,
    /// Voided.
    Void,
    /// Sent by email.
    Emailed,
}

impl Operation {
    /// The legacy spelling (`Create`, `Update`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "Create",
            Operation::Update => "Update",
            Operation::Delete => "Delete",
            Operation::Merge => "Merge",
            Operation::Void => "Void",
            Operation::Emailed => "Emailed",
        }
    }

    fn from_legacy(value: &str) -> Option<Self> {
        Some(match value {
            "Create" => Operation::Create,
            "Update" => Operation::Update,
            "Delete" => Operation::Delete,
            "Merge" => Operation::Merge,
            "Void" => Operation::Void,
            "Emailed" => Operation::Emailed,
            _ => return None,
        })
    }

    fn from_cloud_event_verb(verb: &str) -> Option<Self> {
        Some(match verb {
            "created" => Operation::Create,
            "updated" => Operation::Update,
            "deleted" => Operation::Delete,
            "merged" => Operation::Merge,
            "voided" => Operation::Void,
            "emailed" => Operation::Emailed,
            _ => return None,
        })
    }
}

/// One change notified by QBO. Webhooks carry ids only; the flow fetches the record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WebhookEvent {
    /// The company (realm id).
    pub realm: String,
    /// The entity name as the API spells it (`Invoice`, `CreditMemo`).
    pub entity: String,
    /// The entity Id.
    pub id: String,
    /// What happened.
    pub operation: Operation,
    /// When (`lastUpdated` / `time`), as sent; absent when the body has none.
    pub last_updated: Option<String>,
    /// For merges: the Id merged away.
    pub deleted_id: Option<String>,
}

/// A parsed body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Parsed {
    /// Its format.
    pub format: Format,
    /// Its events, in body order.
    pub events: Vec<WebhookEvent>,
}

impl Parsed {
    /// The distinct realms, in order of first appearance.
    pub fn realms(&self) -> Vec<&str> {
        let mut realms: Vec<&str> = Vec::new();
        for e in &self.events {
            if !realms.contains(&e.realm.as_str()) {
                realms.push(&e.realm);
            }
        }
        realms
    }
}

/// Why a body could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON at all.
    #[error("the body is not JSON: {0}")]
    Json(String),
    /// A field is missing or has the wrong type.
    #[error("{field}: expected {expected}")]
    Shape {
        /// Where, e.g. `eventNotifications[0].realmId`.
        field: String,
        /// What was expected there.
        expected: &'static str,
    },
    /// A field holds a value outside the documented set.
    #[error("{field}: unknown value {value:?}")]
    UnknownValue {
        /// Where.
        field: String,
        /// What it held.
        value: String,
    },
}

fn shape(field: impl Into<String>, expected: &'static str) -> PayloadError {
    PayloadError::Shape {
        field: field.into(),
        expected,
    }
}

/// Parses raw bytes.
pub fn parse(body: &[u8]) -> Result<Parsed, PayloadError> {
    parse_value(&to_json(body)?)
}

/// Parses bytes into JSON without looking at the shape.
pub fn to_json(body: &[u8]) -> Result<Value, PayloadError> {
    serde_json::from_slice(body).map_err(|e| PayloadError::Json(e.to_string()))
}

/// Parses an already decoded body.
pub fn parse_value(body: &Value) -> Result<Parsed, PayloadError> {
    match body {
        Value::Object(o) if o.contains_key("eventNotifications") => Ok(Parsed {
            format: Format::Legacy,
            events: legacy(o)?,
        }),
        Value::Object(o) if o.contains_key("specversion") => Ok(Parsed {
            format: Format::CloudEvents,
            events: vec![cloud_event(o, "")?],
        }),
        Value::Array(items) => {
            let events = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let at = format!("[{i}]");
                    item.as_object()
                        .ok_or_else(|| shape(at.clone(), "a CloudEvent object"))
                        .and_then(|o| cloud_event(o, &at))
                })
                .collect::<Result<_, _>>()?;
            Ok(Parsed {
                format: Format::CloudEvents,
                events,
            })
        }
        Value::Object(_) => Err(shape(
            "eventNotifications",
            "a legacy body (eventNotifications) or a CloudEvents array",
        )),
        _ => Err(shape(
            "(body)",
            "a JSON object with eventNotifications or a CloudEvents array",
        )),
    }
}

/// Only the realm ids a body names, in order of first appearance: what routing needs to pick
/// the verifier tokens before the signature is checked. Nothing else is read or trusted.
pub fn realms(body: &Value) -> Result<Vec<String>, PayloadError> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |realm: String| {
        if !out.contains(&realm) {
            out.push(realm);
        }
    };
    match body {
        Value::Object(o) if o.contains_key("eventNotifications") => {
            for (i, n) in array(o, "eventNotifications", "")?.iter().enumerate() {
                let at = format!("eventNotifications[{i}]");
                let n = n
                    .as_object()
                    .ok_or_else(|| shape(at.clone(), "an object"))?;
                push(id(n, "realmId", &at)?);
            }
        }
        Value::Object(o) if o.contains_key("specversion") => push(id(o, "intuitaccountid", "")?),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("[{i}]");
                let o = item
                    .as_object()
                    .ok_or_else(|| shape(at.clone(), "a CloudEvent object"))?;
                push(id(o, "intuitaccountid", &at)?);
            }
        }
        other => return parse_value(other).map(|_| Vec::new()),
    }
    Ok(out)
}

/// The sub-body of `body` holding only the events of `realm`, in the same format: what one
/// tenant's inbox row stores when a delivery names several realms.
pub fn body_for_realm(body: &Value, realm: &str) -> Value {
    let names = |v: &Value, key: &str| match v.get(key) {
        Some(Value::String(s)) => s == realm,
        Some(Value::Number(n)) => n.to_string() == realm,
        _ => false,
    };
    match body {
        Value::Object(o) if o.contains_key("eventNotifications") => {
            let kept: Vec<Value> = o
                .get("eventNotifications")
                .and_then(Value::as_array)
                .map(|ns| ns.iter().filter(|n| names(n, "realmId")).cloned().collect())
                .unwrap_or_default();
            serde_json::json!({ "eventNotifications": kept })
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .filter(|e| names(e, "intuitaccountid"))
                .cloned()
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Several bodies of one format as one body of that format (the events in order): what lets a
/// host hand a tenant's pending deliveries to one run, so one CDC pass covers them all. None
/// when the bodies mix the two formats (or one is neither).
pub fn merge(bodies: &[Value]) -> Option<Value> {
    if bodies
        .iter()
        .all(|b| b.get("eventNotifications").is_some_and(Value::is_array))
    {
        let notifications: Vec<Value> = bodies
            .iter()
            .flat_map(|b| {
                b["eventNotifications"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        return Some(serde_json::json!({ "eventNotifications": notifications }));
    }
    let mut events = Vec::new();
    for body in bodies {
        match body {
            Value::Array(items) => events.extend(items.iter().cloned()),
            Value::Object(o) if o.contains_key("specversion") => events.push(body.clone()),
            _ => return None,
        }
    }
    Some(Value::Array(events))
}

fn path(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else if key.starts_with('[') {
        format!("{prefix}{key}")
    } else {
        format!("{prefix}.{key}")
    }
}

fn array<'a>(o: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a [Value], PayloadError> {
    o.get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .ok_or_else(|| shape(path(at, key), "an array"))
}

fn text<'a>(o: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a str, PayloadError> {
    match o.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(shape(path(at, key), "a non-empty string")),
    }
}

/// An id: a non-empty string, or an integer (some senders write realm ids as numbers).
fn id(o: &Map<String, Value>, key: &str, at: &str) -> Result<String, PayloadError> {
    match o.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        _ => Err(shape(path(at, key), "a non-empty string id")),
    }
}

fn optional_text(o: &Map<String, Value>, key: &str) -> Option<String> {
    match o.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn legacy(o: &Map<String, Value>) -> Result<Vec<WebhookEvent>, PayloadError> {
    let mut events = Vec::new();
    for (i, n) in array(o, "eventNotifications", "")?.iter().enumerate() {
        let at = format!("eventNotifications[{i}]");
        let n = n
            .as_object()
            .ok_or_else(|| shape(at.clone(), "an object"))?;
        let realm = id(n, "realmId", &at)?;
        let change_at = path(&at, "dataChangeEvent");
        let change = n
            .get("dataChangeEvent")
            .and_then(Value::as_object)
            .ok_or_else(|| shape(change_at.clone(), "an object"))?;
        for (j, e) in array(change, "entities", &change_at)?.iter().enumerate() {
            let at = format!("{change_at}.entities[{j}]");
            let e = e
                .as_object()
                .ok_or_else(|| shape(at.clone(), "an object"))?;
            let operation = text(e, "operation", &at)?;
            events.push(WebhookEvent {
                realm: realm.clone(),
                entity: text(e, "name", &at)?.to_string(),
                id: id(e, "id", &at)?,
                operation: Operation::from_legacy(operation).ok_or_else(|| {
                    PayloadError::UnknownValue {
                        field: path(&at, "operation"),
                        value: operation.to_string(),
                    }
                })?,
                last_updated: optional_text(e, "lastUpdated"),
                deleted_id: optional_text(e, "deletedId"),
            });
        }
    }
    Ok(events)
}

fn cloud_event(o: &Map<String, Value>, at: &str) -> Result<WebhookEvent, PayloadError> {
    let kind = text(o, "type", at)?;
    let (entity, operation) = cloud_event_type(kind).ok_or_else(|| PayloadError::UnknownValue {
        field: path(at, "type"),
        value: kind.to_string(),
    })?;
    Ok(WebhookEvent {
        realm: id(o, "intuitaccountid", at)?,
        entity,
        id: id(o, "intuitentityid", at)?,
        operation,
        last_updated: optional_text(o, "time"),
        deleted_id: o
            .get("data")
            .and_then(Value::as_object)
            .and_then(|d| optional_text(d, "deletedid").or_else(|| optional_text(d, "deletedId"))),
    })
}

/// `qbo.<entity lowercase>.<verb>.v<N>` → (entity as the API spells it, operation).
fn cloud_event_type(kind: &str) -> Option<(String, Operation)> {
    let mut parts = kind.split('.');
    let (Some("qbo"), Some(entity), Some(verb), Some(version), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let version_ok = version
        .strip_prefix('v')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if entity.is_empty() || !version_ok {
        return None;
    }
    Some((entity_name(entity), Operation::from_cloud_event_verb(verb)?))
}

/// QBO entity names that webhooks report, by their lowercase CloudEvents spelling.
const ENTITIES: &[&str] = &[
    "Account",
    "Bill",
    "BillPayment",
    "Budget",
    "Class",
    "CreditMemo",
    "Currency",
    "Customer",
    "Department",
    "Deposit",
    "Employee",
    "Estimate",
    "Invoice",
    "Item",
    "JournalCode",
    "JournalEntry",
    "Payment",
    "PaymentMethod",
    "Preferences",
    "Purchase",
    "PurchaseOrder",
    "RefundReceipt",
    "SalesReceipt",
    "TaxAgency",
    "TaxCode",
    "TaxRate",
    "Term",
    "TimeActivity",
    "Transfer",
    "Vendor",
    "VendorCredit",
];

/// `creditmemo` → `CreditMemo`. An entity not in the table keeps its letters with the first
/// one upper-cased, so a new entity type still reaches the flow (which decides what to do).
fn entity_name(lower: &str) -> String {
    if let Some(known) = ENTITIES.iter().find(|e| e.eq_ignore_ascii_case(lower)) {
        return (*known).to_string();
    }
    let mut chars = lower.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEGACY: &str = r#"{"eventNotifications":[{"realmId":"1269959970","dataChangeEvent":{"entities":[{"name":"Vendor","id":"40","operation":"Update","lastUpdated":"2016-10-05T03:09:04.000Z"},{"name":"Customer","id":"43","operation":"Create","lastUpdated":"2016-10-05T03:07:04.000Z"}]}}]}"#;

    #[test]
    fn legacy_payload_becomes_events() {
        let parsed = parse(LEGACY.as_bytes()).unwrap();
        assert_eq!(parsed.format, Format::Legacy);
        assert_eq!(
            parsed.events,
            vec![
                WebhookEvent {
                    realm: "1269959970".into(),
                    entity: "Vendor".into(),
                    id: "40".into(),
                    operation: Operation::Update,
                    last_updated: Some("2016-10-05T03:09:04.000Z".into()),
                    deleted_id: None,
                },
                WebhookEvent {
                    realm: "1269959970".into(),
                    entity: "Customer".into(),
                    id: "43".into(),
                    operation: Operation::Create,
                    last_updated: Some("2016-10-05T03:07:04.000Z".into()),
                    deleted_id: None,
                },
            ]
        );
    }

    #[test]
    fn legacy_merge_carries_the_deleted_id_and_offset_timestamps_are_kept() {
        let body = r#"{"eventNotifications":[{"realmId":"1185883450","dataChangeEvent":{"entities":[
            {"name":"Customer","id":"1","operation":"Merge","deletedId":"7","lastUpdated":"2015-10-05T14:42:19-0700"}]}}]}"#;
        let e = &parse(body.as_bytes()).unwrap().events[0];
        assert_eq!(e.operation, Operation::Merge);
        assert_eq!(e.deleted_id.as_deref(), Some("7"));
        assert_eq!(e.last_updated.as_deref(), Some("2015-10-05T14:42:19-0700"));
    }

    #[test]
    fn cloud_events_type_gives_entity_and_operation() {
        let body = r#"[{"specversion":"1.0","id":"88cd52aa-33b6-4351-9aa4-47572edbd068",
            "source":"intuit.dsnBgbseACLLRZNxo2dfc4evmEJdxde58xeeYcZliOU=",
            "type":"qbo.invoice.updated.v1","datacontenttype":"application/json",
            "time":"2025-09-10T21:31:25.179851517Z","intuitentityid":"1234","intuitaccountid":"310687","data":{}}]"#;
        let parsed = parse(body.as_bytes()).unwrap();
        assert_eq!(parsed.format, Format::CloudEvents);
        assert_eq!(
            parsed.events,
            vec![WebhookEvent {
                realm: "310687".into(),
                entity: "Invoice".into(),
                id: "1234".into(),
                operation: Operation::Update,
                last_updated: Some("2025-09-10T21:31:25.179851517Z".into()),
                deleted_id: None,
            }]
        );
    }

    #[test]
    fn cloud_events_compound_entity_names_merges_and_missing_data() {
        let body = r#"[
            {"specversion":"1.0","type":"qbo.creditmemo.merged.v1","intuitentityid":"5","intuitaccountid":"1","data":{"deletedid":"27"}},
            {"specversion":"1.0","type":"qbo.salesreceipt.updated.v1","intuitentityid":"6","intuitaccountid":"2"},
            {"specversion":"1.0","type":"qbo.invoice.voided.v1","intuitentityid":"7","intuitaccountid":"1","data":{}},
            {"specversion":"1.0","type":"qbo.employee.created.v1","intuitentityid":"8","intuitaccountid":"2","data":{"alternative_ids":[{"id":"x","namespace":"Intuit.y"}]}}
        ]"#;
        let parsed = parse(body.as_bytes()).unwrap();
        let summary: Vec<(&str, &str, Operation, Option<&str>)> = parsed
            .events
            .iter()
            .map(|e| {
                (
                    e.realm.as_str(),
                    e.entity.as_str(),
                    e.operation,
                    e.deleted_id.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("1", "CreditMemo", Operation::Merge, Some("27")),
                ("2", "SalesReceipt", Operation::Update, None),
                ("1", "Invoice", Operation::Void, None),
                ("2", "Employee", Operation::Create, None),
            ]
        );
        assert_eq!(parsed.realms(), vec!["1", "2"]);
    }

    #[test]
    fn a_single_cloud_event_object_is_accepted() {
        let body = r#"{"specversion":"1.0","type":"qbo.customer.created.v1","intuitentityid":"5","intuitaccountid":"9"}"#;
        let parsed = parse(body.as_bytes()).unwrap();
        assert_eq!(parsed.events[0].entity, "Customer");
    }

    #[test]
    fn realms_reads_only_realm_ids() {
        let v = to_json(LEGACY.as_bytes()).unwrap();
        assert_eq!(realms(&v).unwrap(), vec!["1269959970"]);
        let v =
            to_json(br#"[{"intuitaccountid":"1"},{"intuitaccountid":2},{"intuitaccountid":"1"}]"#)
                .unwrap();
        assert_eq!(realms(&v).unwrap(), vec!["1", "2"]);
        let v = to_json(br#"{"stuff":"5"}"#).unwrap();
        assert_eq!(
            realms(&v),
            Err(PayloadError::Shape {
                field: "eventNotifications".into(),
                expected: "a legacy body (eventNotifications) or a CloudEvents array"
            })
        );
    }

    #[test]
    fn errors_name_the_field() {
        let missing_id = r#"{"eventNotifications":[{"realmId":"1","dataChangeEvent":{"entities":[{"name":"Customer","id":"1","operation":"Create"},{"name":"Customer","operation":"Create"}]}}]}"#;
        assert_eq!(
            parse(missing_id.as_bytes()).unwrap_err().to_string(),
            "eventNotifications[0].dataChangeEvent.entities[1].id: expected a non-empty string id"
        );
        let bad_op = r#"{"eventNotifications":[{"realmId":"1","dataChangeEvent":{"entities":[{"name":"Customer","id":"1","operation":"Explode"}]}}]}"#;
        assert_eq!(
            parse(bad_op.as_bytes()).unwrap_err(),
            PayloadError::UnknownValue {
                field: "eventNotifications[0].dataChangeEvent.entities[0].operation".into(),
                value: "Explode".into()
            }
        );
        let bad_type = r#"[{"type":"qbo.invoice.v1","intuitentityid":"1","intuitaccountid":"1"}]"#;
        assert_eq!(
            parse(bad_type.as_bytes()).unwrap_err().to_string(),
            "[0].type: unknown value \"qbo.invoice.v1\""
        );
        let no_realm = r#"[{"type":"qbo.invoice.created.v1","intuitentityid":"1"}]"#;
        assert_eq!(
            parse(no_realm.as_bytes()).unwrap_err().to_string(),
            "[0].intuitaccountid: expected a non-empty string id"
        );
        assert!(matches!(parse(b"{not json"), Err(PayloadError::Json(_))));
        assert!(matches!(parse(b"42"), Err(PayloadError::Shape { .. })));
        let no_change = r#"{"eventNotifications":[{"realmId":"1"}]}"#;
        assert_eq!(
            parse(no_change.as_bytes()).unwrap_err().to_string(),
            "eventNotifications[0].dataChangeEvent: expected an object"
        );
    }

    #[test]
    fn body_for_realm_keeps_only_that_realms_events() {
        let legacy = to_json(
            br#"{"eventNotifications":[{"realmId":"1","dataChangeEvent":{"entities":[]}},{"realmId":"2","dataChangeEvent":{"entities":[]}}]}"#,
        )
        .unwrap();
        let sub = body_for_realm(&legacy, "2");
        assert_eq!(realms(&sub).unwrap(), vec!["2"]);
        let ce = to_json(
            br#"[{"intuitaccountid":"1","type":"qbo.invoice.created.v1","intuitentityid":"1"},{"intuitaccountid":"2","type":"qbo.invoice.created.v1","intuitentityid":"2"}]"#,
        )
        .unwrap();
        let sub = body_for_realm(&ce, "1");
        assert_eq!(parse_value(&sub).unwrap().events.len(), 1);
    }

    #[test]
    fn bodies_of_one_format_merge_into_one_and_mixed_ones_do_not() {
        let legacy = |id: &str| {
            serde_json::json!({"eventNotifications": [{"realmId": "1", "dataChangeEvent": {"entities": [
                {"name": "Payment", "id": id, "operation": "Create", "lastUpdated": "2026-01-01T00:00:00Z"}]}}]})
        };
        let cloud = |id: &str| {
            serde_json::json!([{"specversion": "1.0", "id": format!("e{id}"), "type": "qbo.payment.created.v1",
                "intuitentityid": id, "intuitaccountid": "1", "data": {}}])
        };
        let merged = merge(&[legacy("5"), legacy("6")]).unwrap();
        let ids: Vec<String> = parse_value(&merged)
            .unwrap()
            .events
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(ids, ["5", "6"]);
        let merged = merge(&[cloud("7"), cloud("8")[0].clone()]).unwrap();
        let parsed = parse_value(&merged).unwrap();
        assert_eq!(parsed.format, Format::CloudEvents);
        assert_eq!(
            parsed
                .events
                .iter()
                .map(|e| e.id.as_str())
                .collect::<Vec<_>>(),
            ["7", "8"]
        );
        assert_eq!(merge(&[legacy("5"), cloud("7")]), None);
    }
}

//! Field helpers shared by the entity rules: cleaning what clients send (python-quickbooks sends
//! `""` and `null` for every unset field), reading references, and checking that a reference names
//! an existing, active object.

use super::errors::QboError;
use super::money;
use super::store::{Company, Record};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};

/// Drops `null`, `""`, and objects or arrays left empty, recursively. The top-level `Line` array
/// is kept even when empty: an empty Line list is meaningful (it removes every line).
pub(crate) fn clean_object(obj: Map<String, Value>) -> Map<String, Value> {
    obj.into_iter()
        .filter_map(|(k, v)| {
            if k == "Line" && matches!(&v, Value::Array(a) if a.is_empty()) {
                return Some((k, v));
            }
            clean(v).map(|v| (k, v))
        })
        .collect()
}

fn clean(value: Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::Object(map) => {
            let cleaned: Map<String, Value> = map
                .into_iter()
                .filter_map(|(k, v)| clean(v).map(|v| (k, v)))
                .collect();
            (!cleaned.is_empty()).then_some(Value::Object(cleaned))
        }
        Value::Array(items) => {
            let cleaned: Vec<Value> = items.into_iter().filter_map(clean).collect();
            (!cleaned.is_empty()).then_some(Value::Array(cleaned))
        }
        other => Some(other),
    }
}

/// A JSON scalar as an Id string (`"12"` or `12` both give "12").
pub(crate) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The Id a reference field holds: `{"value": "1", "name": ...}` (or a bare scalar).
pub(crate) fn ref_id(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::Object(r) => r.get("value").and_then(id_text),
        other => id_text(other),
    }
}

/// The name QBO puts in a reference to `record`.
pub(crate) fn display_name(entity: &str, record: &Record) -> Option<String> {
    let key = match entity {
        "Customer" | "Vendor" | "Employee" => "DisplayName",
        "Item" | "Account" | "Class" | "Department" => "FullyQualifiedName",
        "TaxCode" => return None,
        _ => "Name",
    };
    record
        .str(key)
        .or_else(|| record.str("Name"))
        .map(str::to_string)
}

/// Checks an optional reference: it must name an existing object (else 2500) that is active
/// (else 610). Normalises it to `{"value": id, "name": ...}`.
pub(crate) fn check_ref(
    company: &Company,
    obj: &mut Map<String, Value>,
    key: &str,
    entity: &str,
) -> Result<Option<String>, QboError> {
    if !obj.contains_key(key) {
        return Ok(None);
    }
    let Some(id) = ref_id(obj, key) else {
        return Err(
            QboError::invalid_reference(format!("{key} is missing its value")).element(key),
        );
    };
    let reference = normalised_ref(company, entity, &id, key)?;
    obj.insert(key.to_string(), reference);
    Ok(Some(id))
}

/// Checks a required reference.
pub(crate) fn require_ref(
    company: &Company,
    obj: &mut Map<String, Value>,
    key: &str,
    entity: &str,
) -> Result<String, QboError> {
    check_ref(company, obj, key, entity)?.ok_or_else(|| QboError::required(key))
}

/// `{"value": id, "name": ...}` for an existing, active object.
pub(crate) fn normalised_ref(
    company: &Company,
    entity: &str,
    id: &str,
    key: &str,
) -> Result<Value, QboError> {
    // The pseudo codes TAX and NON exist only in US companies.
    if entity == "TaxCode" && company.profile.is_us() && (id == "TAX" || id == "NON") {
        return Ok(json!({"value": id}));
    }
    let Some(record) = company.get(entity, id) else {
        return Err(QboError::invalid_reference(format!("{entity} assigned to this transaction has been deleted. Before you can modify this transaction, you must restore {entity} (Id={id}).")).element(key));
    };
    if !record.active() {
        return Err(QboError::object_not_found(entity, id).element(key));
    }
    let mut reference = json!({"value": id});
    if let Some(name) = display_name(entity, record) {
        reference["name"] = json!(name);
    }
    Ok(reference)
}

/// An optional decimal field; 2080 when present but not a number.
pub(crate) fn decimal_field(
    obj: &Map<String, Value>,
    key: &str,
) -> Result<Option<Decimal>, QboError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => money::parse_bounded(v)
            .map(Some)
            .ok_or_else(|| QboError::illegal_number(key, &v.to_string())),
    }
}

/// A string field, trimmed, if present and non-empty.
pub(crate) fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A boolean field, accepting `true`/`"true"`.
pub(crate) fn flag(obj: &Map<String, Value>, key: &str) -> Option<bool> {
    match obj.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Sets `key` to `value` when absent.
pub(crate) fn default(obj: &mut Map<String, Value>, key: &str, value: Value) {
    obj.entry(key.to_string()).or_insert(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_drops_what_python_quickbooks_leaves_unset() {
        let obj = json!({"DisplayName": "A", "Title": "", "ParentRef": null, "BillAddr": {"Line1": "", "City": ""},
                         "CurrencyRef": {"value": "USD", "name": ""}, "Line": [], "CustomField": []});
        let cleaned = clean_object(obj.as_object().unwrap().clone());
        assert_eq!(
            Value::Object(cleaned),
            json!({"DisplayName": "A", "CurrencyRef": {"value": "USD"}, "Line": []})
        );
    }

    #[test]
    fn references_accept_strings_and_numbers() {
        let obj = json!({"A": {"value": "12"}, "B": {"value": 7}, "C": "3"});
        let obj = obj.as_object().unwrap();
        assert_eq!(ref_id(obj, "A").as_deref(), Some("12"));
        assert_eq!(ref_id(obj, "B").as_deref(), Some("7"));
        assert_eq!(ref_id(obj, "C").as_deref(), Some("3"));
        assert_eq!(ref_id(obj, "D"), None);
    }
}

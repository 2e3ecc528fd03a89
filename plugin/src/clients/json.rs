//! Reading and writing API JSON without floats: money is read from a number's own text and
//! written as a number built from the decimal's text. The component enables serde_json's
//! `arbitrary_precision`, so the digits on the wire are exactly the decimal's.

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

/// A decimal from a JSON number or numeric string.
pub fn decimal(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => {
            let text = n.to_string();
            Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .ok()
        }
        Value::String(s) => Decimal::from_str(s.trim()).ok(),
        _ => None,
    }
}

/// A JSON number with the decimal's digits.
pub fn number(value: Decimal) -> Value {
    serde_json::from_str(&value.normalize().to_string()).unwrap_or(Value::Null)
}

/// A string field, when present and not null.
pub fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::Bool(b)) => Some(b.to_string()),
        _ => None,
    }
}

/// A non-empty trimmed string field.
pub fn non_empty(value: &Value, key: &str) -> Option<String> {
    text(value, key)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A boolean field.
pub fn flag(value: &Value, key: &str) -> Option<bool> {
    match value.get(key) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
}

/// A date field (`YYYY-MM-DD`, or the date part of a timestamp).
pub fn date(value: &Value, key: &str) -> Option<NaiveDate> {
    let s = text(value, key)?;
    NaiveDate::parse_from_str(s.get(..10).unwrap_or(&s), "%Y-%m-%d").ok()
}

/// A money field.
pub fn money(value: &Value, key: &str) -> Option<Decimal> {
    value.get(key).and_then(decimal)
}

/// Inserts `key` only when `value` is `Some`.
pub fn put<T: Into<Value>>(map: &mut serde_json::Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        map.insert(key.to_string(), v.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_round_trips_through_json_numbers_and_strings() {
        assert_eq!(decimal(&json!(1234.5)), Some(Decimal::new(12345, 1)));
        assert_eq!(decimal(&json!("0.10")), Some(Decimal::new(10, 2)));
        assert_eq!(decimal(&json!(null)), None);
        assert_eq!(number(Decimal::new(12345, 2)).to_string(), "123.45");
        assert_eq!(number(Decimal::new(100, 2)).to_string(), "1");
    }

    #[test]
    fn dates_accept_timestamps() {
        let v = json!({"d": "2026-03-01T10:00:00.000+0000", "e": "2026-03-02", "f": "bad"});
        assert_eq!(date(&v, "d"), NaiveDate::from_ymd_opt(2026, 3, 1));
        assert_eq!(date(&v, "e"), NaiveDate::from_ymd_opt(2026, 3, 2));
        assert_eq!(date(&v, "f"), None);
    }
}

/// A money amount for people: at least two decimal places (QBO's JSON drops trailing zeros).
pub fn display_money(amount: Decimal) -> String {
    let mut d = amount;
    if d.scale() < 2 {
        d.rescale(2);
    }
    d.to_string()
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn amounts_show_cents() {
        assert_eq!(display_money(Decimal::new(166812, 1)), "16681.20");
        assert_eq!(display_money(Decimal::new(1, 3)), "0.001");
    }
}

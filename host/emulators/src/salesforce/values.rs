//! Field values: what a record holds, how JSON input becomes a value of a field's type, and how a
//! value is written back as Salesforce writes it (datetimes `2013-05-20T20:49:32.000+0000`, dates
//! `2013-05-20`, currency and numbers as JSON numbers).
//!
//! Money is `rust_decimal::Decimal` throughout. Request bodies are read by [`parse_body`], which
//! keeps every JSON number's text (as a marked string) so that `12.10` becomes `Decimal 12.10`
//! without passing through a binary float.

use super::errors::SfError;
use super::schema::{FieldDef, FieldType};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::cmp::Ordering;
use std::str::FromStr;

/// A field value.
#[derive(Clone, Debug, PartialEq)]
pub enum Val {
    /// No value.
    Null,
    /// Checkbox.
    Bool(bool),
    /// Text, picklist, id, email, url, phone.
    Text(String),
    /// Currency, number, percent, integer.
    Num(Decimal),
    /// Date.
    Date(NaiveDate),
    /// Date and time (UTC).
    DateTime(DateTime<Utc>),
}

impl Val {
    /// True for `Null` and for empty text (Salesforce stores "" as null).
    pub fn is_null(&self) -> bool {
        matches!(self, Val::Null) || matches!(self, Val::Text(s) if s.is_empty())
    }

    /// The text, if this is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Val::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_num(&self) -> Option<Decimal> {
        match self {
            Val::Num(d) => Some(*d),
            _ => None,
        }
    }

    /// The value as Salesforce writes it in REST JSON for a field of type `ty`.
    pub fn to_json(&self, ty: FieldType) -> Value {
        match self {
            // A checkbox is never null.
            Val::Null if ty == FieldType::Boolean => json!(false),
            Val::Null => Value::Null,
            Val::Bool(b) => json!(b),
            Val::Text(s) => json!(s),
            Val::Num(d) => decimal_to_json(*d, ty == FieldType::Int),
            Val::Date(d) => json!(d.format("%Y-%m-%d").to_string()),
            Val::DateTime(t) => json!(format_datetime(*t)),
        }
    }

    /// Ordering used by SOQL `ORDER BY` and range comparisons: text compares case-insensitively.
    /// `None` for values of different kinds.
    pub fn compare(&self, other: &Val) -> Option<Ordering> {
        match (self, other) {
            (Val::Bool(a), Val::Bool(b)) => Some(a.cmp(b)),
            (Val::Text(a), Val::Text(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
            (Val::Num(a), Val::Num(b)) => Some(a.cmp(b)),
            (Val::Date(a), Val::Date(b)) => Some(a.cmp(b)),
            (Val::DateTime(a), Val::DateTime(b)) => Some(a.cmp(b)),
            (Val::Date(a), Val::DateTime(b)) => Some(day_start(*a).cmp(b)),
            (Val::DateTime(a), Val::Date(b)) => Some(a.cmp(&day_start(*b))),
            _ => None,
        }
    }
}

/// Midnight UTC at the start of `d`.
pub fn day_start(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
}

/// `2013-05-20T20:49:32.000+0000`.
pub fn format_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// A decimal as a JSON number (the API writes currency and doubles as numbers). Integers stay
/// integers when `integer` is set; otherwise the number is written with a fractional part, as
/// Salesforce does (`15000.0`).
pub fn decimal_to_json(d: Decimal, integer: bool) -> Value {
    if integer {
        if let Some(i) = d.trunc().to_i64() {
            return json!(i);
        }
    }
    match d.to_f64().and_then(serde_json::Number::from_f64) {
        Some(n) => Value::Number(n),
        None => json!(d.to_string()),
    }
}

/// Parses a datetime as the API accepts it: RFC 3339 (`Z` or `+hh:mm`), `+hhmm` offsets,
/// optional fractional seconds, or a bare `YYYY-MM-DDThh:mm:ss` taken as UTC.
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

/// Marks a number's text inside a parsed body (see [`parse_body`]).
const NUMBER_MARK: &str = "\u{0}#";

/// Parses a JSON request body, keeping the exact text of every number: numbers come back as
/// strings carrying an internal mark, which [`number_text`] recognises. Anything that is not
/// JSON is a `JSON_PARSER_ERROR`.
pub fn parse_body(bytes: &[u8]) -> Result<Value, SfError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SfError::json_parser("Invalid UTF-8 start byte in request body"))?;
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.char_indices().peekable();
    let mut in_string = false;
    while let Some((_, c)) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some((_, n)) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '-' || c.is_ascii_digit() {
            let mut num = String::from(c);
            while let Some(&(_, n)) = chars.peek() {
                if n.is_ascii_digit() || matches!(n, '.' | 'e' | 'E' | '+' | '-') {
                    num.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            if !is_json_number(&num) {
                return Err(SfError::json_parser(format!(
                    "Unexpected character in number: {num}"
                )));
            }
            out.push('"');
            out.push_str("\\u0000#");
            out.push_str(&num);
            out.push('"');
        } else {
            out.push(c);
        }
    }
    serde_json::from_str(&out).map_err(|e| SfError::json_parser(format!("{e}")))
}

/// True when `s` follows the JSON number grammar `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The text of a JSON number, whether a real `Number` or a number marked by [`parse_body`].
pub fn number_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => s.strip_prefix(NUMBER_MARK).map(str::to_string),
        _ => None,
    }
}

/// Turns marked numbers back into JSON numbers (for echoing a parsed body).
pub fn unmark_numbers(v: &Value) -> Value {
    match v {
        Value::String(_) => match number_text(v) {
            Some(t) => serde_json::from_str(&t).unwrap_or(Value::Null),
            None => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(unmark_numbers).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), unmark_numbers(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A JSON string that is really text (not a marked number).
pub fn plain_text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) if !s.starts_with(NUMBER_MARK) => Some(s),
        _ => None,
    }
}

fn json_kind(v: &Value) -> (&'static str, String) {
    match v {
        Value::Null => ("VALUE_NULL", "null".into()),
        Value::Bool(b) => (if *b { "VALUE_TRUE" } else { "VALUE_FALSE" }, b.to_string()),
        Value::Array(_) => ("START_ARRAY", "[".into()),
        Value::Object(_) => ("START_OBJECT", "{".into()),
        Value::Number(_) | Value::String(_) => match number_text(v) {
            Some(t) if t.contains(['.', 'e', 'E']) => ("VALUE_NUMBER_FLOAT", t),
            Some(t) => ("VALUE_NUMBER_INT", t),
            None => (
                "VALUE_STRING",
                plain_text(v).unwrap_or_default().to_string(),
            ),
        },
    }
}

fn type_error(field: &FieldDef, v: &Value) -> SfError {
    let (kind, text) = json_kind(v);
    SfError::json_parser(format!(
        "Cannot deserialize instance of {} from {kind} value {text} or request may be missing a required field",
        field.field_type.soap_name()
    ))
    .with_fields(vec![field.name.clone()])
}

/// Converts a JSON input value to a value of `field`'s type, with Salesforce's leniency
/// (numeric strings for numbers, `"true"`/`"false"` for checkboxes) and its errors.
pub fn coerce(field: &FieldDef, v: &Value) -> Result<Val, SfError> {
    if v.is_null() {
        // A checkbox is never null: clearing it unchecks it.
        if field.field_type == FieldType::Boolean {
            return Ok(Val::Bool(false));
        }
        return Ok(Val::Null);
    }
    let text_of = |v: &Value| -> Option<String> {
        match v {
            Value::Bool(b) => Some(b.to_string()),
            _ => number_text(v).or_else(|| plain_text(v).map(str::to_string)),
        }
    };
    match field.field_type {
        FieldType::Boolean => match v {
            Value::Bool(b) => Ok(Val::Bool(*b)),
            _ => match plain_text(v).map(|s| s.to_ascii_lowercase()) {
                Some(s) if s == "true" => Ok(Val::Bool(true)),
                Some(s) if s == "false" => Ok(Val::Bool(false)),
                _ => Err(type_error(field, v)),
            },
        },
        FieldType::Currency | FieldType::Double | FieldType::Percent | FieldType::Int => {
            let text = number_text(v).or_else(|| plain_text(v).map(|s| s.trim().to_string()));
            let Some(text) = text else {
                return Err(type_error(field, v));
            };
            if text.is_empty() {
                return Ok(Val::Null);
            }
            let d = Decimal::from_str(&text)
                .or_else(|_| Decimal::from_scientific(&text))
                .map_err(|_| type_error(field, v))?;
            if field.field_type == FieldType::Int && d.fract() != Decimal::ZERO {
                return Err(type_error(field, v));
            }
            let limit = Decimal::from_i128_with_scale(
                10i128.pow(18u32.saturating_sub(field.scale).min(27)),
                0,
            );
            if d.abs() >= limit {
                return Err(SfError::new(
                    400,
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    format!(
                        "{}: value outside of valid range on numeric field: {text}",
                        field.label
                    ),
                )
                .with_fields(vec![field.name.clone()]));
            }
            let d = if d.scale() > field.scale {
                d.round_dp_with_strategy(
                    field.scale,
                    rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                )
            } else {
                d
            };
            Ok(Val::Num(d))
        }
        FieldType::Date => {
            let Some(s) = plain_text(v) else {
                return Err(type_error(field, v));
            };
            if s.is_empty() {
                return Ok(Val::Null);
            }
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .or_else(|| parse_datetime(s).map(|t| t.date_naive()))
                .map(Val::Date)
                .ok_or_else(|| type_error(field, v))
        }
        FieldType::Datetime => {
            let Some(s) = plain_text(v) else {
                return Err(type_error(field, v));
            };
            if s.is_empty() {
                return Ok(Val::Null);
            }
            parse_datetime(s)
                .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(day_start))
                .map(Val::DateTime)
                .ok_or_else(|| type_error(field, v))
        }
        _ => {
            let Some(s) = text_of(v) else {
                return Err(type_error(field, v));
            };
            if s.is_empty() {
                return Ok(Val::Null);
            }
            if field.length > 0 && s.chars().count() > field.length {
                return Err(SfError::new(
                    400,
                    "STRING_TOO_LONG",
                    format!(
                        "{}: data value too large: {} (max length={})",
                        field.label, s, field.length
                    ),
                )
                .with_fields(vec![field.name.clone()]));
            }
            if field.restricted && !field.picklist_values.iter().any(|p| p == &s) {
                return Err(SfError::new(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    format!(
                        "{}: bad value for restricted picklist field: {s}",
                        field.label
                    ),
                )
                .with_fields(vec![field.name.clone()]));
            }
            if field.field_type == FieldType::Email && !valid_email(&s) {
                return Err(SfError::new(
                    400,
                    "INVALID_EMAIL_ADDRESS",
                    format!("{}: invalid email address: {s}", field.label),
                )
                .with_fields(vec![field.name.clone()]));
            }
            Ok(Val::Text(s))
        }
    }
}

fn valid_email(s: &str) -> bool {
    let mut parts = s.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(' ')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_numbers_keep_their_text() {
        let v = parse_body(br#"{"Amount": 12.10, "Name": "x \"1\"", "Q": -3e2, "L": [1, 2.5]}"#)
            .unwrap();
        assert_eq!(number_text(&v["Amount"]).as_deref(), Some("12.10"));
        assert_eq!(v["Name"], "x \"1\"");
        assert_eq!(number_text(&v["Q"]).as_deref(), Some("-3e2"));
        assert_eq!(unmark_numbers(&v["L"]), json!([1, 2.5]));
    }

    #[test]
    fn malformed_bodies_are_parser_errors() {
        for bad in [&b"{"[..], b"{\"a\": 01}", b"{\"a\": 1.}", b"nope", b"\xff"] {
            assert_eq!(parse_body(bad).unwrap_err().code, "JSON_PARSER_ERROR");
        }
    }

    #[test]
    fn datetimes_are_written_in_the_salesforce_form() {
        let t = parse_datetime("2013-05-20T20:49:32Z").unwrap();
        assert_eq!(format_datetime(t), "2013-05-20T20:49:32.000+0000");
        assert_eq!(parse_datetime("2013-05-20T20:49:32.000+0000"), Some(t));
    }

    #[test]
    fn out_of_range_and_absurd_numbers_are_errors_not_panics() {
        let schema = super::super::schema::Schema::standard();
        let amount = schema
            .object("Opportunity")
            .unwrap()
            .field("Amount")
            .unwrap()
            .clone();
        for text in [
            "1e400",
            "-1e-400",
            "99999999999999999999999999999999999",
            "1e17",
            "12345678901234567.5",
        ] {
            let v = parse_body(format!("{{\"a\": {text}}}").as_bytes()).unwrap();
            assert!(coerce(&amount, &v["a"]).is_err(), "{text}");
        }
        let ok = parse_body(b"{\"a\": 9999999999999999.99}").unwrap();
        assert_eq!(
            coerce(&amount, &ok["a"]).unwrap(),
            Val::Num(Decimal::from_str("9999999999999999.99").unwrap())
        );
    }
}

//! Amounts: parsed from JSON numbers or strings into `Decimal` (never binary floating point for
//! arithmetic), written back as JSON numbers the way the QBO JSON API does.

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Number, Value};
use std::str::FromStr;

/// The decimal value of a JSON number or numeric string. A JSON number is read from its shortest
/// text form (`198.99` stays `198.99`), so no binary rounding enters the arithmetic.
pub(crate) fn parse(value: &Value) -> Option<Decimal> {
    match value {
        Value::Number(n) => parse_text(&n.to_string()),
        Value::String(s) => parse_text(s),
        _ => None,
    }
}

/// The decimal value of a numeric text (surrounding spaces ignored).
pub(crate) fn parse_text(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Decimal::from_str(text)
        .or_else(|_| Decimal::from_scientific(text))
        .ok()
}

/// The largest amount accepted in a request (QBO's own ceiling is lower). Bounding inputs keeps
/// every sum and product far from `Decimal`'s overflow.
pub(crate) fn max_amount() -> Decimal {
    Decimal::from(100_000_000_000_000i64)
}

/// `parse`, refusing magnitudes above `max_amount`.
pub(crate) fn parse_bounded(value: &Value) -> Option<Decimal> {
    parse(value).filter(|d| d.abs() <= max_amount())
}

/// Rounds to cents, half away from zero.
pub(crate) fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// A JSON number for `amount`: an integer when the decimal has no fraction digits (`"Qty": 1`),
/// otherwise a float literal (`"Amount": 50.0`, `198.99`), as the QBO JSON API writes them.
pub(crate) fn to_json(amount: Decimal) -> Value {
    if amount.scale() == 0 {
        if let Ok(int) = i64::try_from(amount.mantissa()) {
            return Value::Number(int.into());
        }
    }
    amount
        .to_string()
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .unwrap_or_else(|| Value::String(amount.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_numbers_and_strings_exactly() {
        assert_eq!(
            parse(&json!(198.99)),
            Some(Decimal::from_str("198.99").unwrap())
        );
        assert_eq!(
            parse(&json!("50.00")),
            Some(Decimal::from_str("50.00").unwrap())
        );
        assert_eq!(parse(&json!(1e2)), Some(Decimal::from(100)));
        assert_eq!(parse(&json!("abc")), None);
        assert_eq!(parse(&json!(null)), None);
    }

    #[test]
    fn writes_json_numbers() {
        assert_eq!(to_json(Decimal::from(1)), json!(1));
        assert_eq!(
            to_json(Decimal::from_str("50.00").unwrap()).to_string(),
            "50.0"
        );
        assert_eq!(
            to_json(Decimal::from_str("0.1").unwrap()).to_string(),
            "0.1"
        );
    }
}

//! Money rules, each a named function with a test named after the rule.
//!
//! - Amounts are `Decimal`, never floats.
//! - A line amount is rounded **half up** (away from zero at exactly half a minor unit) to the
//!   currency's minor unit: 2 decimals for most currencies, 0 for JPY/KRW and the other
//!   zero-decimal ISO 4217 currencies, 3 for BHD/KWD/OMR/JOD/TND/IQD/LYD.
//! - Text is parsed strictly: digits with an optional sign and one decimal point; no exponent,
//!   no thousands separators, no NaN or infinity.

use super::FieldError;
use rust_decimal::{Decimal, RoundingStrategy};
use std::str::FromStr;

/// The largest amount (in absolute value) a mapping accepts anywhere in its input, 10^15: far
/// beyond what QBO holds, small enough that sums of any list of amounts stay exact.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// The error for an amount beyond [`MAX_AMOUNT`].
pub fn out_of_range(record: &str, field: &str, amount: Decimal) -> FieldError {
    FieldError::new(
        record,
        field,
        format!("is {amount}; amounts beyond {MAX_AMOUNT} in absolute value are refused"),
    )
}

/// Decimal places of a currency's minor unit (ISO 4217). Unknown codes use 2.
pub fn currency_exponent(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// Rounds half up (away from zero) to `exponent` decimal places: 0.005 -> 0.01, -0.005 -> -0.01.
pub fn round_half_up(amount: Decimal, exponent: u32) -> Decimal {
    let mut rounded =
        amount.round_dp_with_strategy(exponent, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(exponent);
    rounded
}

/// Rounds half up to the minor unit of `currency`.
pub fn round_to_currency(amount: Decimal, currency: &str) -> Decimal {
    round_half_up(amount, currency_exponent(currency))
}

/// Parses decimal text strictly; the error says what is wrong with it.
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("is empty; expected a decimal such as \"1234.50\"".into());
    }
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    let mut dots = 0;
    for c in body.chars() {
        match c {
            '0'..='9' => {}
            '.' => dots += 1,
            _ => return Err(format!("\"{text}\" is not a decimal (unexpected '{c}')")),
        }
    }
    if dots > 1 || body == "." || body.is_empty() {
        return Err(format!("\"{text}\" is not a decimal"));
    }
    Decimal::from_str(t).map_err(|e| format!("\"{text}\" is not a decimal ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn half_a_cent_rounds_up_away_from_zero() {
        assert_eq!(round_half_up(dec!(0.005), 2), dec!(0.01));
        assert_eq!(round_half_up(dec!(0.0049999), 2), dec!(0.00));
        assert_eq!(round_half_up(dec!(-0.005), 2), dec!(-0.01));
        assert_eq!(round_half_up(dec!(2.675), 2), dec!(2.68));
    }

    #[test]
    fn rounding_keeps_the_minor_unit_scale() {
        assert_eq!(round_half_up(dec!(12), 2).to_string(), "12.00");
        assert_eq!(round_to_currency(dec!(1234.5), "JPY").to_string(), "1235");
        assert_eq!(round_to_currency(dec!(1.2345), "KWD").to_string(), "1.235");
    }

    #[test]
    fn zero_decimal_currencies_have_exponent_zero() {
        assert_eq!(currency_exponent("JPY"), 0);
        assert_eq!(currency_exponent("usd"), 2);
        assert_eq!(currency_exponent("XYZ"), 2);
    }

    #[test]
    fn strict_parsing_rejects_floats_text_and_exponents() {
        assert_eq!(parse_decimal("1234.50").unwrap().to_string(), "1234.50");
        assert_eq!(parse_decimal("-10.00").unwrap(), dec!(-10.00));
        for bad in [
            "", "abc", "1e5", "1,000.00", "NaN", "1.2.3", ".", "--1", "inf",
        ] {
            assert!(parse_decimal(bad).is_err(), "{bad} must be rejected");
        }
    }
}

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
    // Compared in place: this runs for every line and total, and an uppercased copy would
    // allocate each time.
    const ZERO: [&str; 17] = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND",
        "VUV", "XAF", "XOF", "XPF",
    ];
    const THREE: [&str; 7] = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"];
    let is = |codes: &[&str]| codes.iter().any(|c| c.eq_ignore_ascii_case(currency));
    if is(&ZERO) {
        0
    } else if is(&THREE) {
        3
    } else {
        2
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

/// `a x b` rounded half up to `exponent` decimal places, as `round_half_up(a * b, exponent)`;
/// `None` when the product is too large to compute.
///
/// Two amounts of money with at most 18 digits each (every real quantity and price) multiply
/// exactly in an `i128` and round with one division; `Decimal`'s 96-bit arithmetic, several times
/// slower in the component, runs only for the rest. The fast path is taken only where
/// `Decimal::checked_mul` is exact too (scale at most 28, mantissa within 96 bits), so both give
/// the same result, which the tests check.
pub fn rounded_product(a: Decimal, b: Decimal, exponent: u32) -> Option<Decimal> {
    small_rounded_product(a, b, exponent)
        .or_else(|| Some(round_half_up(a.checked_mul(b)?, exponent)))
}

fn small_rounded_product(a: Decimal, b: Decimal, exponent: u32) -> Option<Decimal> {
    let product = i128::from(i64::try_from(a.mantissa()).ok()?)
        * i128::from(i64::try_from(b.mantissa()).ok()?);
    let scale = a.scale() + b.scale();
    if scale > 28 || product.unsigned_abs() >= 1 << 96 || exponent > 28 {
        return None;
    }
    let mantissa = if scale <= exponent {
        product.checked_mul(10i128.checked_pow(exponent - scale)?)?
    } else {
        let divisor = 10i128.pow(scale - exponent);
        let (quotient, remainder) = (product / divisor, product % divisor);
        // Half a minor unit or more rounds away from zero.
        if remainder.unsigned_abs() * 2 >= divisor.unsigned_abs() {
            quotient + product.signum()
        } else {
            quotient
        }
    };
    let mut value = Decimal::try_from_i128_with_scale(mantissa, exponent).ok()?;
    // Like the general path: negative unless it rounded to zero.
    value.set_sign_negative(mantissa < 0);
    Some(value)
}

/// Parses decimal text strictly; the error says what is wrong with it.
pub fn parse_decimal(text: &str) -> Result<Decimal, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("is empty; expected a decimal such as \"1234.50\"".into());
    }
    if let Some(value) = small_decimal(t) {
        return Ok(value);
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

/// Decimal text of at most 18 digits, with an optional sign and digits on both sides of any
/// point: the mantissa fits an `i64`, so the value is built in one pass over the bytes (the same
/// value and scale as `Decimal::from_str`, whose general path costs several times more in the
/// component, and every money field of every record goes through here). `None` for anything
/// else, which the strict path then checks.
fn small_decimal(text: &str) -> Option<Decimal> {
    let (negative, digits) = match text.as_bytes() {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        all => (false, all),
    };
    let mut mantissa: i64 = 0;
    let mut count = 0;
    let mut point = None;
    for (i, &b) in digits.iter().enumerate() {
        match b {
            b'0'..=b'9' if count < 18 => {
                count += 1;
                mantissa = mantissa * 10 + i64::from(b - b'0');
            }
            b'.' if point.is_none() && i > 0 && i + 1 < digits.len() => point = Some(i),
            _ => return None,
        }
    }
    if count == 0 {
        return None;
    }
    let scale = point.map_or(0, |p| digits.len() - p - 1);
    let mut value = Decimal::new(mantissa, u32::try_from(scale).ok()?);
    // `Decimal::from_str` gives no negative zero: "-0.00" is 0.00.
    value.set_sign_negative(negative && mantissa != 0);
    Some(value)
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
    fn short_decimals_parse_to_the_same_value_and_scale_as_the_general_parser() {
        let texts = [
            "0",
            "-0",
            "+0",
            "0.00",
            "-0.00",
            "5",
            "+5",
            "-5",
            "1234.50",
            "007.50",
            "0.005",
            "-0.005",
            "999999999999999999",
            "99999999999999999.9",
            "0.000000000000000001",
            "9999999999999999999",
            "1.0000000000000000000001",
            "5.",
            ".5",
            "-.5",
            "12.3456789",
            "1234567890123456.78",
            "-000000000000000000001",
        ];
        for text in texts {
            let expected = Decimal::from_str(text).unwrap();
            let parsed = parse_decimal(text).unwrap();
            assert_eq!(
                (
                    parsed.to_string(),
                    parsed.scale(),
                    parsed.is_sign_negative()
                ),
                (
                    expected.to_string(),
                    expected.scale(),
                    expected.is_sign_negative()
                ),
                "{text}"
            );
        }
        for bad in [
            "", "-", "+", ".", "1.2.3", "1,5", "1e5", "--1", "+-1", " 1 2", "0x10", "١٢",
        ] {
            assert!(parse_decimal(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn products_round_as_the_general_decimal_path_rounds_them() {
        let reference = |a: Decimal, b: Decimal, e: u32| Some(round_half_up(a.checked_mul(b)?, e));
        let values: Vec<Decimal> = [
            "0",
            "-0.001",
            "1",
            "3",
            "0.165",
            "-0.165",
            "0.005",
            "-0.005",
            "1234.50",
            "0.3333",
            "99999999999999.99",
            "-12.345678901",
            "0.0000000000000001",
            "1.5",
            "2.5",
            "-2.5",
            "999999999999999999",
            "79228162514264337593543950335",
            "0.0000000000000000000000000001",
        ]
        .iter()
        .map(|t| Decimal::from_str(t).unwrap())
        .collect();
        for a in &values {
            for b in &values {
                for e in [0, 2, 3] {
                    let (fast, general) = (rounded_product(*a, *b, e), reference(*a, *b, e));
                    assert_eq!(
                        fast.map(|d| (d.to_string(), d.is_sign_negative())),
                        general.map(|d| (d.to_string(), d.is_sign_negative())),
                        "{a} x {b} to {e} places"
                    );
                }
            }
        }
    }

    #[test]
    fn zero_decimal_currencies_have_exponent_zero() {
        assert_eq!(currency_exponent("JPY"), 0);
        assert_eq!(currency_exponent("jpy"), 0);
        assert_eq!(currency_exponent("Kwd"), 3);
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

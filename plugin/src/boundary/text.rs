//! Money and dates as the contract writes them (the reverse of [`super::parse`]): used by every
//! record and output that goes back across the boundary.
//!
//! Both are written digit by digit rather than through `Display`/`strftime`: the formatting
//! machinery was a fifth of the component's time on a 20-line invoice (BENCHMARKS.md). The text
//! is the same, which the tests check against `Decimal::to_string` and chrono's `%Y-%m-%d`.

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

/// Money as the contract writes it: exact decimal text with its scale (as `Decimal::to_string`:
/// `-0.50`, `0.00`, `1234.5000`).
pub fn money_text(amount: Decimal) -> String {
    let Ok(mut mantissa) = u64::try_from(amount.mantissa().unsigned_abs()) else {
        return amount.to_string();
    };
    let scale = amount.scale() as usize;
    // Least significant first; at least one digit before the point.
    let mut digits = [b'0'; 48];
    let mut len = 0;
    while mantissa > 0 {
        digits[len] = b'0' + (mantissa % 10) as u8;
        mantissa /= 10;
        len += 1;
    }
    let len = len.max(scale + 1);
    let mut text = String::with_capacity(len + 2);
    if amount.is_sign_negative() {
        text.push('-');
    }
    for position in (0..len).rev() {
        text.push(char::from(digits[position]));
        if position == scale && scale > 0 {
            text.push('.');
        }
    }
    text
}

/// A date as the contract writes it: `YYYY-MM-DD`.
pub fn date_text(date: NaiveDate) -> String {
    let year = date.year();
    if !(0..=9999).contains(&year) {
        return date.format("%Y-%m-%d").to_string();
    }
    let mut text = String::with_capacity(10);
    for (value, width) in [(year as u32, 4), (date.month(), 2), (date.day(), 2)] {
        if width == 2 {
            text.push('-');
        }
        for place in (0..width).rev() {
            text.push(char::from(b'0' + (value / 10u32.pow(place) % 10) as u8));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn money_is_written_as_decimal_display_writes_it() {
        let mut amounts: Vec<Decimal> = [
            "0",
            "-0",
            "0.00",
            "-0.00",
            "5",
            "-5",
            "0.5",
            "-0.50",
            "1234.5000",
            "0.005",
            "1000000",
            "0.0000000000000000000000000001",
            "18446744073709551615",
            "18446744073709551616",
            "-79228162514264337593543950335",
            "7.9228162514264337593543950335",
        ]
        .iter()
        .map(|t| Decimal::from_str(t).unwrap())
        .collect();
        // A spread of mantissas and every scale.
        for scale in 0..=28 {
            for mantissa in [1i64, 9, 10, 99, 12_345, 1_000_000_007, i64::MAX, -3, -100] {
                amounts.push(Decimal::new(mantissa, scale));
            }
        }
        for amount in amounts {
            assert_eq!(money_text(amount), amount.to_string(), "{amount:?}");
        }
    }

    #[test]
    fn dates_are_written_as_strftime_writes_them() {
        let mut date = NaiveDate::from_ymd_opt(1999, 12, 25).unwrap();
        for _ in 0..800 {
            assert_eq!(date_text(date), date.format("%Y-%m-%d").to_string());
            date = date.succ_opt().unwrap();
        }
        for (y, m, d) in [
            (0, 1, 1),
            (9999, 12, 31),
            (10000, 1, 1),
            (-1, 6, 30),
            (5, 3, 7),
        ] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(date_text(date), date.format("%Y-%m-%d").to_string());
        }
    }
}

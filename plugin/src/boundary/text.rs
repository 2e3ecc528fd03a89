//! Money and dates as the contract writes them (the reverse of [`super::parse`]): used by every
//! record and output that goes back across the boundary.

use chrono::NaiveDate;
use rust_decimal::Decimal;

/// Money as the contract writes it: exact decimal text with its scale.
pub fn money_text(amount: Decimal) -> String {
    amount.to_string()
}

/// A date as the contract writes it: `YYYY-MM-DD`.
pub fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

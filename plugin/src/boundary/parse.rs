//! The parsing context: money and dates from text, every failure recorded with its record and
//! field path.

use crate::model::money::parse_decimal;
use crate::model::{ErrorKind, FieldError, MappingError};
use chrono::NaiveDate;
use rust_decimal::Decimal;

/// A conversion from a WIT record that may hold bad money or dates.
///
/// A bad value is recorded in `p` and replaced by a placeholder (zero, 1970-01-01) so that the
/// rest of the input is still checked; [`Parse::finish`] then refuses the whole input, so a
/// placeholder never reaches a mapping.
pub trait FromWit<W>: Sized {
    /// Converts `w`, recording every bad field in `p`.
    fn from_wit(w: W, p: &mut Parse) -> Self;
}

/// `"<kind> <id>"`, or `None` when the id is blank (the enclosing record is kept).
pub fn record_id(kind: &str, id: &str) -> Option<String> {
    let id = id.trim();
    (!id.is_empty()).then(|| format!("{kind} {id}"))
}

/// Walks one input: knows the current record and field path, and collects every failure.
#[derive(Debug)]
pub struct Parse {
    record: String,
    path: String,
    errors: Vec<FieldError>,
}

impl Parse {
    /// A context for the input of `function` (its WIT name, the record of last resort).
    pub fn new(function: &str) -> Self {
        Self {
            record: function.to_string(),
            path: String::new(),
            errors: Vec::new(),
        }
    }

    /// Converts a whole input of `function`: `Err(invalid-input)` with every bad field, if any.
    pub fn input<W, T: FromWit<W>>(function: &str, w: W) -> Result<T, MappingError> {
        let mut p = Self::new(function);
        let value = T::from_wit(w, &mut p);
        p.finish(value)
    }

    /// `Ok(value)` if nothing failed, else `invalid-input` with every failure in order.
    pub fn finish<T>(self, value: T) -> Result<T, MappingError> {
        if self.errors.is_empty() {
            Ok(value)
        } else {
            Err(MappingError::new(ErrorKind::InvalidInput, self.errors))
        }
    }

    /// The failures recorded so far.
    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// Runs `f` with `record` (from [`record_id`]) as the current record; `None` keeps the
    /// enclosing one.
    pub fn record<T>(&mut self, record: Option<String>, f: impl FnOnce(&mut Self) -> T) -> T {
        match record {
            None => f(self),
            Some(record) => {
                let outer = std::mem::replace(&mut self.record, record);
                let value = f(self);
                self.record = outer;
                value
            }
        }
    }

    /// Runs `f` one path segment deeper (`segment` is a field name).
    fn at<T>(&mut self, segment: &str, f: impl FnOnce(&mut Self) -> T) -> T {
        self.at_index(segment, None, f)
    }

    /// Runs `f` one path segment deeper: `segment`, or `segment[index]` for an item of a list
    /// (written into the path in place: a list of lines would otherwise format a string per item).
    fn at_index<T>(
        &mut self,
        segment: &str,
        index: Option<usize>,
        f: impl FnOnce(&mut Self) -> T,
    ) -> T {
        let len = self.path.len();
        if !self.path.is_empty() {
            self.path.push('.');
        }
        self.path.push_str(segment);
        if let Some(index) = index {
            self.path.push('[');
            let digits = self.path.len();
            let mut rest = index;
            loop {
                self.path
                    .insert(digits, char::from(b'0' + (rest % 10) as u8));
                rest /= 10;
                if rest == 0 {
                    break;
                }
            }
            self.path.push(']');
        }
        let value = f(self);
        self.path.truncate(len);
        value
    }

    /// Converts the nested record in field `name`.
    pub fn field<W, T: FromWit<W>>(&mut self, name: &str, w: W) -> T {
        self.at(name, |p| T::from_wit(w, p))
    }

    /// Converts the optional nested record in field `name`.
    pub fn option<W, T: FromWit<W>>(&mut self, name: &str, w: Option<W>) -> Option<T> {
        w.map(|w| self.field(name, w))
    }

    /// Converts each record of the list in field `name` (paths `name[0]`, `name[1]`, ...).
    pub fn list<W, T: FromWit<W>>(&mut self, name: &str, items: Vec<W>) -> Vec<T> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, w)| self.at_index(name, Some(i), |p| T::from_wit(w, p)))
            .collect()
    }

    /// Records a failure of field `name` (relative to the current path).
    pub fn fail(&mut self, name: &str, reason: impl Into<String>) {
        let reason = reason.into();
        self.at(name, |p| {
            let error = FieldError::new(p.record.clone(), p.path.clone(), reason);
            p.errors.push(error);
        });
    }

    /// Parses the money field `name` (zero, recorded, when it is not a decimal).
    pub fn money(&mut self, name: &str, text: &str) -> Decimal {
        parse_decimal(text).unwrap_or_else(|reason| {
            self.fail(name, reason);
            Decimal::ZERO
        })
    }

    /// Parses the optional money field `name`.
    pub fn opt_money(&mut self, name: &str, text: Option<&str>) -> Option<Decimal> {
        text.map(|text| self.money(name, text))
    }

    /// Parses the date field `name`, strictly `YYYY-MM-DD` (1970-01-01, recorded, when not).
    pub fn date(&mut self, name: &str, text: &str) -> NaiveDate {
        parse_date(text).unwrap_or_else(|reason| {
            self.fail(name, reason);
            NaiveDate::default()
        })
    }

    /// Parses the optional date field `name`.
    pub fn opt_date(&mut self, name: &str, text: Option<&str>) -> Option<NaiveDate> {
        text.map(|text| self.date(name, text))
    }
}

/// Parses a calendar date written exactly `YYYY-MM-DD`; the error says what is wrong with it.
pub fn parse_date(text: &str) -> Result<NaiveDate, String> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(if text.is_empty() {
            "is empty; expected a date such as \"2024-01-31\" (YYYY-MM-DD)".to_string()
        } else {
            format!("\"{text}\" is not a date in the form YYYY-MM-DD")
        });
    }
    // The digits are checked above, so the date is built from them directly; chrono's parser
    // (several times slower in the component) runs only to explain a date that does not exist.
    let number = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0u32, |n, b| n * 10 + u32::from(b - b'0'))
    };
    let year = i32::try_from(number(0..4)).unwrap_or_default();
    NaiveDate::from_ymd_opt(year, number(5..7), number(8..10))
        .map_or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d"), Ok)
        .map_err(|e| format!("\"{text}\" is not a calendar date ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_only_as_yyyy_mm_dd() {
        assert_eq!(
            parse_date("2024-02-29"),
            Ok(NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default())
        );
        for bad in [
            "",
            "2024-13-01",
            "2023-02-29",
            "31/01/2024",
            "2024-1-05",
            " 2024-01-05",
            "2024-01-05T00:00:00Z",
            "+2024-01-5",
            "２０２４-01-05",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn failures_carry_the_record_and_the_full_path() {
        let mut p = Parse::new("build-invoice");
        p.money("amount-tolerance", "x");
        p.record(record_id("Opportunity", "006A"), |p| {
            p.field::<_, ()>("opportunity", Probe("2024-13-01"));
        });
        p.record(record_id("Opportunity", "  "), |p| p.fail("name", "blank"));
        let errors = p.errors().to_vec();
        assert_eq!(errors.len(), 3);
        assert_eq!(
            (errors[0].record_id.as_str(), errors[0].field.as_str()),
            ("build-invoice", "amount-tolerance")
        );
        assert_eq!(
            (errors[1].record_id.as_str(), errors[1].field.as_str()),
            ("Opportunity 006A", "opportunity.close-date")
        );
        assert_eq!(
            (errors[2].record_id.as_str(), errors[2].field.as_str()),
            ("build-invoice", "name")
        );
        let refused = p.finish(()).err().map(|e| e.kind);
        assert_eq!(refused, Some(ErrorKind::InvalidInput));
    }

    struct Probe(&'static str);

    impl FromWit<Probe> for () {
        fn from_wit(w: Probe, p: &mut Parse) -> Self {
            p.date("close-date", w.0);
        }
    }
}

//! Company-local timestamps as QBO writes them: `2015-02-24T18:28:32-08:00` in `MetaData`,
//! `2015-08-10T11:44:02.957-07:00` for the envelope's `time`, `YYYY-MM-DD` for `TxnDate`.
//! Parsing accepts those forms, the `-0800` form, and a bare local date-time (read in the company's
//! offset), which is what python-quickbooks sends as `changedSince`.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// The company's UTC offset (QBO answers in the company's time zone; the emulator uses a fixed one).
pub(crate) fn offset(minutes: i32) -> FixedOffset {
    FixedOffset::east_opt(minutes.saturating_mul(60))
        .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset"))
}

/// A duration of `secs` seconds, clamped to 0..=100 years, so that configuration values can
/// never overflow date arithmetic.
pub(crate) fn bounded_secs(secs: i64) -> Duration {
    Duration::seconds(secs.clamp(0, 100 * 366 * 86_400))
}

/// `MetaData` form: seconds and the company offset.
pub(crate) fn entity_time(at: DateTime<Utc>, tz: FixedOffset) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// Envelope `time` form: milliseconds and the company offset.
pub(crate) fn response_time(at: DateTime<Utc>, tz: FixedOffset) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
        .to_string()
}

/// The company-local calendar date of `at`.
pub(crate) fn local_date(at: DateTime<Utc>, tz: FixedOffset) -> NaiveDate {
    at.with_timezone(&tz).date_naive()
}

/// Parses the date-time forms QBO accepts in queries and `changedSince`.
pub(crate) fn parse_datetime(text: &str, tz: FixedOffset) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(dt) = DateTime::parse_from_str(text, format) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return tz
                .from_local_datetime(&naive)
                .single()
                .map(|dt| dt.with_timezone(&Utc));
        }
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    tz.from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .single()
        .map(|dt| dt.with_timezone(&Utc))
}

/// Parses a `YYYY-MM-DD` date.
pub(crate) fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_the_company_offset() {
        let at = Utc.with_ymd_and_hms(2015, 2, 25, 2, 28, 32).unwrap();
        assert_eq!(entity_time(at, offset(-480)), "2015-02-24T18:28:32-08:00");
        assert_eq!(
            response_time(at, offset(-480)),
            "2015-02-24T18:28:32.000-08:00"
        );
    }

    #[test]
    fn parses_every_accepted_form_to_the_same_instant() {
        let tz = offset(-480);
        let expected = Utc.with_ymd_and_hms(2015, 2, 25, 2, 28, 32).unwrap();
        for text in [
            "2015-02-24T18:28:32-08:00",
            "2015-02-24T18:28:32-0800",
            "2015-02-24T18:28:32",
            "2015-02-25T02:28:32Z",
        ] {
            assert_eq!(parse_datetime(text, tz), Some(expected), "{text}");
        }
        assert!(parse_datetime("yesterday", tz).is_none());
    }
}

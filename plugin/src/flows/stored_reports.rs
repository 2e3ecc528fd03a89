//! Where the `reconcile` and `aging` jobs keep their reports, and reading them back for a host
//! (the `report` export): a host asks by kind and period and never reads the `reports` bucket
//! or decodes its format itself.

use super::state::{State, REPORTS};
use crate::mapping::{AgingReport, ReconcileReport};
use crate::platform::Platform;
use chrono::{Datelike, Months, NaiveDate};

/// The newest reconciliation, whatever its period.
pub const RECONCILE_LATEST: &str = "reconcile/latest";
/// The newest aging report.
pub const AGING_LATEST: &str = "aging/latest";

/// The key of the reconciliation of `start`..=`end`.
pub fn reconcile_key(start: NaiveDate, end: NaiveDate) -> String {
    format!("reconcile/{start}/{end}")
}

/// The key of the aging report as of `as_of`.
pub fn aging_key(as_of: NaiveDate) -> String {
    format!("aging/{as_of}")
}

/// Which report a host asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    Reconcile,
    Aging,
}

/// A stored report.
#[derive(Clone, Debug, PartialEq)]
pub enum Stored {
    Reconcile(ReconcileReport),
    Aging(AgingReport),
}

/// The report of `kind` for `period` (see the `report` export), or the newest one.
pub fn read(
    platform: &Platform<'_>,
    kind: ReportKind,
    period: Option<&str>,
) -> Result<Option<Stored>, String> {
    let key =
        match period.map(str::trim) {
            None | Some("") => match kind {
                ReportKind::Reconcile => RECONCILE_LATEST.to_string(),
                ReportKind::Aging => AGING_LATEST.to_string(),
            },
            Some(p) => match kind {
                ReportKind::Reconcile => {
                    let (start, end) = reconcile_period(p)?;
                    reconcile_key(start, end)
                }
                ReportKind::Aging => aging_key(day(p).ok_or_else(|| {
                    format!("aging period {p:?}: expected an as-of date YYYY-MM-DD")
                })?),
            },
        };
    let state = State::new(platform.kv);
    let unreadable = |e: String| format!("the stored report {key} is unreadable: {e}");
    Ok(match kind {
        ReportKind::Reconcile => state
            .get::<ReconcileReport>(REPORTS, &key)
            .map_err(|e| unreadable(e.to_string()))?
            .map(Stored::Reconcile),
        ReportKind::Aging => state
            .get::<AgingReport>(REPORTS, &key)
            .map_err(|e| unreadable(e.to_string()))?
            .map(Stored::Aging),
    })
}

fn day(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// `YYYY-MM` (the whole month) or `YYYY-MM-DD/YYYY-MM-DD`.
fn reconcile_period(text: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let bad =
        || format!("reconcile period {text:?}: expected a month YYYY-MM or YYYY-MM-DD/YYYY-MM-DD");
    if let Some((a, b)) = text.split_once('/') {
        let (start, end) = (day(a).ok_or_else(bad)?, day(b).ok_or_else(bad)?);
        return if start <= end {
            Ok((start, end))
        } else {
            Err(bad())
        };
    }
    let first = day(&format!("{text}-01")).ok_or_else(bad)?;
    if text.len() != 7 || first.day() != 1 {
        return Err(bad());
    }
    let last = first
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .ok_or_else(bad)?;
    Ok((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::memory::{json, MemoryPlatform};
    use rust_decimal_macros::dec;

    fn report(start: &str, end: &str, total: rust_decimal::Decimal) -> ReconcileReport {
        ReconcileReport {
            period_start: day(start).unwrap(),
            period_end: day(end).unwrap(),
            salesforce_total: total,
            quickbooks_total: total,
            difference: dec!(0),
            matched: Vec::new(),
            discrepancies: Vec::new(),
            months: Vec::new(),
        }
    }

    #[test]
    fn months_and_ranges_name_the_period_a_run_stored() {
        assert_eq!(
            reconcile_period("2024-02").unwrap(),
            (day("2024-02-01").unwrap(), day("2024-02-29").unwrap())
        );
        assert_eq!(
            reconcile_period("2025-12").unwrap().1,
            day("2025-12-31").unwrap()
        );
        assert_eq!(
            reconcile_period("2025-01-01/2025-03-31").unwrap(),
            (day("2025-01-01").unwrap(), day("2025-03-31").unwrap())
        );
        for bad in [
            "2025-13",
            "2025-1",
            "2025-03-31/2025-01-01",
            "March",
            "2025-02-30/2025-03-01",
        ] {
            let e = reconcile_period(bad).unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn a_host_reads_the_newest_or_the_named_period_and_none_before_a_run() {
        // No HTTP: reading a report never calls an API.
        let memory = MemoryPlatform::new("1", |_| json(500, serde_json::json!({})));
        let platform = memory.platform();
        assert_eq!(read(&platform, ReportKind::Reconcile, None), Ok(None));
        let state = State::new(platform.kv);
        let march = report("2025-03-01", "2025-03-31", dec!(10.05));
        let april = report("2025-04-01", "2025-04-30", dec!(7));
        for r in [&march, &april] {
            state
                .put(REPORTS, &reconcile_key(r.period_start, r.period_end), r)
                .unwrap();
        }
        state.put(REPORTS, RECONCILE_LATEST, &april).unwrap();
        assert_eq!(
            read(&platform, ReportKind::Reconcile, None),
            Ok(Some(Stored::Reconcile(april)))
        );
        assert_eq!(
            read(&platform, ReportKind::Reconcile, Some("2025-03")),
            Ok(Some(Stored::Reconcile(march)))
        );
        assert_eq!(
            read(&platform, ReportKind::Reconcile, Some("2025-05")),
            Ok(None)
        );
        assert_eq!(
            read(&platform, ReportKind::Aging, Some("2025-05-01")),
            Ok(None)
        );
        assert!(read(&platform, ReportKind::Aging, Some("May"))
            .unwrap_err()
            .contains("as-of date"));
        platform
            .kv
            .set(REPORTS, AGING_LATEST, b"{not json")
            .unwrap();
        let e = read(&platform, ReportKind::Aging, None).unwrap_err();
        assert!(e.contains("aging/latest"), "{e}");
    }
}

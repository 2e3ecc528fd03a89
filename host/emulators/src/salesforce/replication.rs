//! Get Updated / Get Deleted (api-facts B7): `sobjects/{Type}/updated/?start=&end=` and
//! `.../deleted/?start=&end=`.
//!
//! - `start` and `end` are ISO 8601 datetimes; their seconds are truncated to the minute; a
//!   window is `[start, end)` by `SystemModstamp` (updated, live records) or deletion time.
//! - `end` later than now is clamped to now (truncated); `latestDateCovered` is the end used.
//! - `start` must be within the last 30 days (updated) or 15 days (deleted, the recycle bin
//!   lifetime), and before `end`; otherwise 400 `INVALID_REPLICATION_DATE`.
//! - `earliestDateAvailable` is the oldest point the delete log covers: the later of the org's
//!   start and now − 15 days.

use super::dml::sobject_def;
use super::errors::SfError;
use super::org::Org;
use super::values::{format_datetime, parse_datetime};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{json, Value};

/// Days Get Updated reaches back.
pub const UPDATED_DAYS: i64 = 30;
/// Days Get Deleted reaches back.
pub const DELETED_DAYS: i64 = 15;

fn minute(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(1)).unwrap_or(t)
}

fn bad(message: impl Into<String>) -> SfError {
    SfError::new(400, "INVALID_REPLICATION_DATE", message)
}

fn window(
    org: &Org,
    query: &[(String, String)],
    days: i64,
) -> Result<(DateTime<Utc>, DateTime<Utc>), SfError> {
    let get = |name: &str| -> Result<DateTime<Utc>, SfError> {
        let raw = query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.replace(' ', "+"))
            .ok_or_else(|| {
                SfError::new(
                    400,
                    "MALFORMED_QUERY",
                    format!("Missing required parameter: {name}"),
                )
            })?;
        parse_datetime(&raw).ok_or_else(|| bad(format!("{name}: invalid date format: {raw}")))
    };
    let start = minute(get("start")?);
    let end = minute(get("end")?).min(minute(org.now));
    if start < org.now - Duration::days(days) {
        return Err(bad(format!(
            "startDate cannot be more than {days} days ago"
        )));
    }
    if start >= end {
        return Err(bad("endDate must chronologically follow startDate"));
    }
    Ok((start, end))
}

pub(crate) fn updated(org: &Org, t: &str, query: &[(String, String)]) -> Result<Value, SfError> {
    let schema = org.schema.clone();
    let d = sobject_def(&schema, t)?;
    let (start, end) = window(org, query, UPDATED_DAYS)?;
    let ids: Vec<&str> = org
        .store
        .all(&d.name)
        .filter(|r| r.deleted_at.is_none() && r.modstamp >= start && r.modstamp < end)
        .map(|r| r.id.as_str())
        .collect();
    Ok(json!({"ids": ids, "latestDateCovered": format_datetime(end)}))
}

pub(crate) fn deleted(org: &Org, t: &str, query: &[(String, String)]) -> Result<Value, SfError> {
    let schema = org.schema.clone();
    let d = sobject_def(&schema, t)?;
    let (start, end) = window(org, query, DELETED_DAYS)?;
    let records: Vec<Value> = org
        .store
        .all(&d.name)
        .filter_map(|r| {
            r.deleted_at
                .filter(|at| *at >= start && *at < end)
                .map(|at| json!({"id": r.id, "deletedDate": format_datetime(at)}))
        })
        .collect();
    let earliest = minute(org.started.max(org.now - Duration::days(DELETED_DAYS)));
    Ok(
        json!({"deletedRecords": records, "earliestDateAvailable": format_datetime(earliest), "latestDateCovered": format_datetime(end)}),
    )
}

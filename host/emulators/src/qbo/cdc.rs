//! Change Data Capture (api-facts A7): `GET /cdc?entities=A,B&changedSince=...` lists every object
//! of those entities changed at or after `changedSince` (inactive and voided ones included), with
//! deleted transactions as stubs `{"domain":"QBO","status":"Deleted","Id":..,"MetaData":{"LastUpdatedTime":..}}`.
//! The look-back is at most 30 days, and at most 1000 objects are returned in all, oldest changes first.

use super::entities;
use super::errors::QboError;
use super::operations::{render, Balances};
use super::store::{Company, Record, Tombstone};
use super::timefmt;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{json, Map, Value};

/// At most this many objects in one answer.
pub(crate) const MAX_OBJECTS: usize = 1000;

/// Parses the `entities` list and `changedSince`, and checks the look-back.
pub(crate) fn parse_request(
    entities_param: Option<&str>,
    changed_since: Option<&str>,
    now: DateTime<Utc>,
    tz: FixedOffset,
    max_days: i64,
) -> Result<(Vec<&'static str>, DateTime<Utc>), QboError> {
    let list = entities_param
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| QboError::required("entities"))?;
    let mut names = Vec::new();
    for raw in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let def = entities::lookup(raw).ok_or_else(|| {
            QboError::invalid_query(format!(
                "Entity {raw} is not supported by change data capture"
            ))
        })?;
        if !names.contains(&def.name) {
            names.push(def.name);
        }
    }
    if names.is_empty() {
        return Err(QboError::required("entities"));
    }
    let since_text = changed_since
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| QboError::required("changedSince"))?;
    let since = timefmt::parse_datetime(since_text, tz).ok_or_else(|| {
        QboError::invalid_query(format!(
            "changedSince {since_text} is not a valid date-time"
        ))
    })?;
    if now - since > timefmt::bounded_secs(max_days.saturating_mul(86_400)) {
        return Err(QboError::invalid_query(format!(
            "changedSince cannot be more than {max_days} days in the past"
        )));
    }
    Ok((names, since))
}

/// A change CDC reports.
enum Change<'c> {
    Live(&'c String, &'c Record),
    Deleted(&'c Tombstone),
}

/// The `QueryResponse` list of a CDC answer (`[{}]` when nothing changed).
pub(crate) fn changes(
    company: &Company,
    entity_names: &[&'static str],
    since: DateTime<Utc>,
    tz: FixedOffset,
) -> Vec<Value> {
    let mut found: Vec<(DateTime<Utc>, &'static str, Change)> = Vec::new();
    for name in entity_names {
        for (id, record) in company.list(name) {
            if record.updated_at >= since {
                found.push((record.updated_at, name, Change::Live(id, record)));
            }
        }
        for stone in company
            .tombstones
            .iter()
            .filter(|t| t.entity == *name && t.at >= since)
        {
            found.push((stone.at, name, Change::Deleted(stone)));
        }
    }
    found.sort_by_key(|(at, _, _)| *at);
    found.truncate(MAX_OBJECTS);
    // Only what is answered is rendered.
    let customers = found.iter().filter_map(|(_, name, change)| match change {
        Change::Live(id, _) if *name == "Customer" => Some(id.as_str()),
        _ => None,
    });
    let balances = Balances::of(company, "Customer", customers);
    let mut responses = Vec::new();
    for name in entity_names {
        let objects: Vec<Value> = found
            .iter()
            .filter(|(_, n, _)| n == name)
            .map(|(_, _, change)| match change {
                Change::Live(id, record) => Value::Object(render(name, id, record, &balances)),
                Change::Deleted(stone) => {
                    json!({"domain": "QBO", "status": "Deleted", "Id": stone.id,
                           "MetaData": {"LastUpdatedTime": timefmt::entity_time(stone.at, tz)}})
                }
            })
            .collect();
        if objects.is_empty() {
            continue;
        }
        let mut entry = Map::new();
        entry.insert((*name).to_string(), json!(objects));
        entry.insert("startPosition".into(), json!(1));
        entry.insert("maxResults".into(), json!(objects.len()));
        responses.push(Value::Object(entry));
    }
    if responses.is_empty() {
        responses.push(json!({}));
    }
    responses
}

//! Change Data Capture: every create, update and delete appends a change event in the
//! documented shape (api-facts B9), kept 72 hours on the emulator clock.
//!
//! Subscribers read it over the Pub/Sub API (`pubsub/`: gRPC, Avro payloads, replay ids), as
//! on a real org; there is no REST resource for it. The payloads are kept decoded here (the
//! shape of the Pub/Sub client libraries' output: datetimes as epoch milliseconds, dates as
//! `YYYY-MM-DD`, address fields nested under `BillingAddress` etc., changed-field lists as
//! names) and encoded to Avro when delivered.

use super::dml::Origin;
use super::errors::SfError;
use super::org::Org;
use super::schema::SObjectDef;
use super::store::{event_value, Record};
use super::values::Val;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;

/// How long events are kept.
pub const RETENTION_HOURS: i64 = 72;

/// One stored event.
#[derive(Clone, Debug)]
pub struct ChangeEvent {
    /// Replay id (increasing).
    pub replay_id: u64,
    /// Commit time.
    pub at: DateTime<Utc>,
    /// `Account`, `Opportunity`, ...
    pub entity: String,
    /// The event's UUID (`ProducerEvent.id` on the wire).
    pub uuid: String,
    /// Decoded payload.
    pub payload: Value,
}

/// Where to start reading.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Replay {
    /// Only events committed after now.
    Latest,
    /// Every retained event.
    Earliest,
    /// Events after this replay id.
    After(u64),
}

/// The event log.
#[derive(Debug, Default)]
pub struct EventLog {
    events: VecDeque<ChangeEvent>,
    last_replay: u64,
    purged_through: u64,
    commit_number: u64,
    transaction: Option<(String, u32)>,
}

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of retained events.
    pub fn count(&self) -> usize {
        self.events.len()
    }

    /// Drops the events after the first `n` (all-or-none rollback).
    pub fn truncate(&mut self, n: usize) {
        self.events.truncate(n);
    }

    /// Events share one transaction key until [`EventLog::end_transaction`].
    pub fn begin_transaction(&mut self, key: String) {
        self.transaction = Some((key, 0));
    }

    /// Ends the shared transaction.
    pub fn end_transaction(&mut self) {
        self.transaction = None;
    }

    /// Forgets events older than the retention window.
    pub fn purge(&mut self, now: DateTime<Utc>) {
        let horizon = now - Duration::hours(RETENTION_HOURS);
        while self.events.front().is_some_and(|e| e.at < horizon) {
            if let Some(e) = self.events.pop_front() {
                self.purged_through = e.replay_id;
            }
        }
    }

    /// Events of `entity` (all when `None`) after the replay position, at most `limit`, and
    /// the position to resume from.
    pub fn read(
        &self,
        entity: Option<&str>,
        from: Replay,
        limit: usize,
    ) -> Result<(Vec<&ChangeEvent>, u64), SfError> {
        let after = match from {
            Replay::Latest => return Ok((Vec::new(), self.last_replay)),
            Replay::Earliest => self.purged_through,
            Replay::After(id) if id > self.last_replay => {
                return Err(SfError::new(400, "INVALID_REPLAY_ID", format!("Replay id {id} was never issued")))
            }
            Replay::After(id) if id < self.purged_through => {
                return Err(SfError::new(
                    400,
                    "REPLAY_ID_EXPIRED",
                    format!("Replay id {id} is older than the {RETENTION_HOURS}-hour retention window; resync and subscribe from -1"),
                ))
            }
            Replay::After(id) => id,
        };
        let mut out = Vec::new();
        let mut position = after.max(self.purged_through);
        for e in self.events.iter().filter(|e| e.replay_id > after) {
            if out.len() >= limit {
                break;
            }
            position = e.replay_id;
            if entity.is_none_or(|n| n.eq_ignore_ascii_case(&e.entity)) {
                out.push(e);
            }
        }
        if out.len() < limit {
            position = self.last_replay.max(after);
        }
        Ok((out, position))
    }

    fn push(
        &mut self,
        at: DateTime<Utc>,
        entity: &str,
        mut header: Map<String, Value>,
        body: Map<String, Value>,
    ) {
        self.last_replay += 1;
        self.commit_number += 1;
        let (key, seq) = match &mut self.transaction {
            Some((key, seq)) => {
                *seq += 1;
                (key.clone(), *seq)
            }
            None => (uuid::Uuid::new_v4().to_string(), 1),
        };
        header.insert("entityName".into(), json!(entity));
        header.insert("transactionKey".into(), json!(key));
        header.insert("sequenceNumber".into(), json!(seq));
        header.insert("commitTimestamp".into(), json!(at.timestamp_millis()));
        header.insert("commitNumber".into(), json!(self.commit_number));
        let mut payload = Map::new();
        payload.insert("ChangeEventHeader".into(), Value::Object(header));
        payload.extend(body);
        self.events.push_back(ChangeEvent {
            replay_id: self.last_replay,
            at,
            entity: entity.to_string(),
            uuid: uuid::Uuid::new_v4().to_string(),
            payload: Value::Object(payload),
        });
    }
}

/// `Billing`, `Shipping`, `Mailing` address parts nest under `<prefix>Address`.
pub(crate) fn address_part(name: &str) -> Option<(String, &'static str)> {
    for prefix in ["Billing", "Shipping", "Mailing"] {
        if let Some(rest) = name.strip_prefix(prefix) {
            for part in ["Street", "City", "State", "PostalCode", "Country"] {
                if rest == part {
                    return Some((format!("{prefix}Address"), part));
                }
            }
        }
    }
    None
}

/// Whether a field is left out of change events (api-facts B9).
pub(crate) fn in_events(name: &str) -> bool {
    !matches!(name, "Id" | "IsDeleted" | "SystemModstamp")
}

/// Event body fields: the object's data fields (and audit fields), `include` deciding which
/// carry their value; the rest are null.
fn body_fields(
    def: &SObjectDef,
    record: &Record,
    include: impl Fn(&str) -> bool,
) -> Map<String, Value> {
    let mut out = Map::new();
    for f in def.fields.iter().filter(|f| in_events(&f.name)) {
        let v = if include(&f.name) {
            event_value(&record.get(&f.name), f.field_type)
        } else {
            Value::Null
        };
        match address_part(&f.name) {
            Some((compound, part)) => {
                let entry = out.entry(compound).or_insert_with(|| json!({}));
                if let Value::Object(m) = entry {
                    m.insert(part.into(), v);
                }
            }
            None => {
                out.insert(f.name.clone(), v);
            }
        }
    }
    // An address whose parts are all null is itself null.
    for (_, v) in out.iter_mut() {
        if let Value::Object(m) = v {
            if m.values().all(Value::is_null) {
                *v = Value::Null;
            }
        }
    }
    out
}

fn changed_name(name: &str) -> String {
    match address_part(name) {
        Some((compound, part)) => format!("{compound}.{part}"),
        None => name.to_string(),
    }
}

impl Org {
    fn header(&self, record_id: &str, change_type: &str, origin: &Origin) -> Map<String, Value> {
        let mut h = Map::new();
        h.insert("recordIds".into(), json!([record_id]));
        h.insert("changeType".into(), json!(change_type));
        h.insert("changeOrigin".into(), json!(origin.change_origin));
        h.insert("commitUser".into(), json!(self.acting_user(origin)));
        h.insert("nulledFields".into(), json!([]));
        h.insert("diffFields".into(), json!([]));
        h.insert("changedFields".into(), json!([]));
        h
    }

    pub(crate) fn emit_create(&mut self, def: &SObjectDef, record: &Record, origin: &Origin) {
        let header = self.header(&record.id, "CREATE", origin);
        let body = body_fields(def, record, |_| true);
        self.events.push(self.now, &def.name, header, body);
    }

    pub(crate) fn emit_update(
        &mut self,
        def: &SObjectDef,
        old: &Record,
        new: &Record,
        origin: &Origin,
    ) {
        let mut changed: Vec<String> = def
            .data_fields()
            .filter(|f| old.get(&f.name) != new.get(&f.name))
            .map(|f| f.name.clone())
            .collect();
        let nulled: Vec<String> = changed
            .iter()
            .filter(|n| new.get(n) == Val::Null)
            .map(|n| changed_name(n))
            .collect();
        changed.push("LastModifiedDate".into());
        let mut header = self.header(&new.id, "UPDATE", origin);
        header.insert(
            "changedFields".into(),
            json!(changed.iter().map(|n| changed_name(n)).collect::<Vec<_>>()),
        );
        header.insert("nulledFields".into(), json!(nulled));
        let body = body_fields(def, new, |n| changed.iter().any(|c| c == n));
        self.events.push(self.now, &def.name, header, body);
    }

    pub(crate) fn emit_delete(&mut self, sobject: &str, id: &str, origin: &Origin) {
        let header = self.header(id, "DELETE", origin);
        self.events.push(self.now, sobject, header, Map::new());
    }
}

/// The entity a channel names: `None` for `/data/ChangeEvents`.
pub fn channel_entity(org: &Org, channel: &str) -> Result<Option<String>, SfError> {
    if channel.is_empty() || channel.eq_ignore_ascii_case("/data/ChangeEvents") {
        return Ok(None);
    }
    let rest = channel.strip_prefix("/data/").unwrap_or(channel);
    let name = if let Some(base) = rest.strip_suffix("__ChangeEvent") {
        format!("{base}__c")
    } else {
        rest.strip_suffix("ChangeEvent")
            .unwrap_or_default()
            .to_string()
    };
    org.schema
        .object(&name)
        .map(|o| Some(o.name.clone()))
        .ok_or_else(|| SfError::new(404, "NOT_FOUND", format!("Unknown channel: {channel}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(log: &mut EventLog, at: DateTime<Utc>, entity: &str) {
        log.push(at, entity, Map::new(), Map::new());
    }

    #[test]
    fn replay_reads_after_an_id_and_expires_old_ids() {
        let mut log = EventLog::new();
        let t0 = Utc::now();
        push(&mut log, t0, "Account");
        push(&mut log, t0, "Opportunity");
        push(&mut log, t0 + Duration::hours(80), "Account");
        let (all, latest) = log.read(None, Replay::Earliest, 10).unwrap();
        assert_eq!((all.len(), latest), (3, 3));
        let (after1, _) = log.read(Some("Account"), Replay::After(1), 10).unwrap();
        assert_eq!(
            after1.iter().map(|e| e.replay_id).collect::<Vec<_>>(),
            vec![3]
        );
        log.purge(t0 + Duration::hours(80));
        assert_eq!(
            log.read(None, Replay::After(1), 10).unwrap_err().code,
            "REPLAY_ID_EXPIRED"
        );
        assert_eq!(log.read(None, Replay::After(2), 10).unwrap().0.len(), 1);
        assert_eq!(log.read(None, Replay::Latest, 10).unwrap().1, 3);
    }
}

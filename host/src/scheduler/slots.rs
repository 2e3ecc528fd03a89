//! The last cron slot fired per tenant and job (`cron_slots`), so that slots missed while the
//! host was down are noticed at start and run once, not once per missed slot.

use super::runs::{parse_stamp, stamp};
use crate::db::Database;
use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS cron_slots (
    tenant    TEXT NOT NULL,
    job       TEXT NOT NULL,
    last_slot TEXT NOT NULL,
    PRIMARY KEY (tenant, job)
) WITHOUT ROWID;
";

/// The `cron_slots` table. Cloning shares the store.
#[derive(Clone)]
pub struct CronSlots {
    db: Database,
}

impl CronSlots {
    /// Opens the table in `db`.
    pub fn new(db: Database) -> Result<Self> {
        db.lock().execute_batch(SCHEMA)?;
        Ok(Self { db })
    }

    /// The last slot fired, if any.
    pub fn last(&self, tenant: &str, job: &str) -> Result<Option<DateTime<Utc>>> {
        let s: Option<String> = self
            .db
            .lock()
            .query_row(
                "SELECT last_slot FROM cron_slots WHERE tenant = ?1 AND job = ?2",
                params![tenant, job],
                |row| row.get(0),
            )
            .optional()?;
        Ok(s.as_deref().and_then(parse_stamp))
    }

    /// Records `slot` as fired.
    pub fn set(&self, tenant: &str, job: &str, slot: DateTime<Utc>) -> Result<()> {
        self.db.lock().execute(
            "INSERT INTO cron_slots (tenant, job, last_slot) VALUES (?1, ?2, ?3) ON CONFLICT (tenant, job) DO UPDATE SET last_slot = excluded.last_slot",
            params![tenant, job, stamp(slot)],
        )?;
        Ok(())
    }
}

/// The latest slot of `cron` in `(after, now]`, if any: what fires now, however many slots
/// were missed.
pub fn latest_due(
    cron: &super::spec::Cron,
    after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let first = cron.after(&after).next()?;
    if first > now {
        return None;
    }
    // Walk to the last slot not after now; bounded so that a per-second schedule after a long
    // downtime costs little: beyond 100 000 slots, `now` itself stands for the latest one.
    let mut latest = first;
    for slot in cron.after(&first).take(100_000) {
        if slot > now {
            return Some(latest);
        }
        latest = slot;
    }
    Some(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn many_missed_slots_give_one_latest_slot() {
        let cron = super::super::spec::Cron::from_str("0 * * * * *").unwrap();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:30Z")
            .unwrap()
            .with_timezone(&Utc);
        let now = t0 + chrono::Duration::minutes(90);
        let slot = latest_due(&cron, t0, now).unwrap();
        assert_eq!(slot.to_rfc3339(), "2026-01-01T01:30:00+00:00");
        assert_eq!(latest_due(&cron, slot, now), None);
    }

    #[test]
    fn slots_round_trip() {
        let slots = CronSlots::new(Database::in_memory().unwrap()).unwrap();
        assert!(slots.last("a", "poll").unwrap().is_none());
        let t = Utc::now();
        slots.set("a", "poll", t).unwrap();
        let back = slots.last("a", "poll").unwrap().unwrap();
        assert!((back - t).num_milliseconds().abs() <= 1);
    }
}

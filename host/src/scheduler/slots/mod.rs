//! The last cron slot fired per tenant and job (`cron_slots`), so that slots missed while the
//! host was down are noticed at start and run once, not once per missed slot.
//!
//! Hosts sharing a store tick the same cron jobs: a slot is *taken* ([`CronSlots::take`]) by
//! moving the recorded slot forward only if it is behind, one atomic statement, so of two hosts
//! asking for the same (tenant, job, slot) exactly one gets it and runs the job. The rows live
//! in the store (`SlotStore`): `sqlite.rs` for the embedded file, `postgres.rs` for a database
//! shared by many hosts.

mod postgres;
mod sqlite;

use super::runs::{parse_stamp, stamp};
use crate::db::{Backend, Database};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// Where the `cron_slots` rows are kept: one implementation per backend. Slots are [`stamp`]s,
/// fixed width, so their text order is their time order.
pub(crate) trait SlotStore: Send + Sync {
    /// The last slot recorded, if any.
    fn last(&self, tenant: &str, job: &str) -> Result<Option<String>>;
    /// Records `slot`, whatever was recorded before.
    fn set(&self, tenant: &str, job: &str, slot: String) -> Result<()>;
    /// Records `slot` if nothing is recorded yet; true when it did.
    fn init(&self, tenant: &str, job: &str, slot: String) -> Result<bool>;
    /// Records `slot` if nothing or an earlier slot is recorded, atomically; true when it did.
    fn take(&self, tenant: &str, job: &str, slot: String) -> Result<bool>;
}

/// The `cron_slots` table. Cloning shares the store.
#[derive(Clone)]
pub struct CronSlots {
    store: Arc<dyn SlotStore>,
}

impl CronSlots {
    /// The table in `db` (its schema comes from the store's migrations).
    pub fn new(db: Database) -> Result<Self> {
        let store: Arc<dyn SlotStore> = match db.backend() {
            Backend::Sqlite(db) => Arc::new(sqlite::SqliteSlots::new(db.clone())),
            Backend::Postgres(db) => Arc::new(postgres::PostgresSlots::new(db.clone())),
        };
        Ok(Self { store })
    }

    /// The last slot fired, if any.
    pub fn last(&self, tenant: &str, job: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .store
            .last(tenant, job)?
            .as_deref()
            .and_then(parse_stamp))
    }

    /// Records `slot` as fired.
    pub fn set(&self, tenant: &str, job: &str, slot: DateTime<Utc>) -> Result<()> {
        self.store.set(tenant, job, stamp(slot))
    }

    /// Starts counting `job`'s slots from `now` unless a slot is already recorded (by this
    /// host's last run or by another host); true when it was not.
    pub fn init(&self, tenant: &str, job: &str, now: DateTime<Utc>) -> Result<bool> {
        self.store.init(tenant, job, stamp(now))
    }

    /// Takes `slot` for this host: true when it was not fired yet (nothing or an earlier slot
    /// recorded), and it is now recorded; false when this slot or a later one already was.
    pub fn take(&self, tenant: &str, job: &str, slot: DateTime<Utc>) -> Result<bool> {
        self.store.take(tenant, job, stamp(slot))
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
    use crate::db::testing::each_backend;
    use chrono::Duration;
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
        each_backend("slots_round_trip", |db| {
            let slots = CronSlots::new(db).unwrap();
            assert!(slots.last("a", "poll").unwrap().is_none());
            let t = Utc::now();
            slots.set("a", "poll", t).unwrap();
            let back = slots.last("a", "poll").unwrap().unwrap();
            assert!((back - t).num_milliseconds().abs() <= 1);
        });
    }

    #[test]
    fn a_slot_is_taken_once_and_never_behind_a_later_one() {
        each_backend("slots_take", |db| {
            let slots = CronSlots::new(db).unwrap();
            let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc);
            assert!(slots.init("a", "poll", t).unwrap());
            assert!(!slots.init("a", "poll", t + Duration::hours(1)).unwrap());
            assert_eq!(slots.last("a", "poll").unwrap(), Some(t));
            assert!(!slots.take("a", "poll", t).unwrap(), "already recorded");
            assert!(slots.take("a", "poll", t + Duration::minutes(5)).unwrap());
            assert!(!slots.take("a", "poll", t + Duration::minutes(5)).unwrap());
            assert!(!slots.take("a", "poll", t + Duration::minutes(1)).unwrap());
            assert_eq!(
                slots.last("a", "poll").unwrap(),
                Some(t + Duration::minutes(5))
            );
            // Another job, never recorded: its first slot is taken.
            assert!(slots.take("a", "aging", t).unwrap());
        });
    }

    /// Two hosts on one PostgreSQL database (two threads each) ask for the same slot at the
    /// same time, slot after slot, the first one racing to create the row: each slot goes to
    /// exactly one of them.
    #[test]
    fn hosts_racing_for_a_slot_get_it_once() {
        let url = crate::db::throwaway::Cluster::shared().fresh_database("slots_race");
        let hosts: Vec<CronSlots> = (0..2)
            .map(|_| CronSlots::new(Database::connect(&url, None).unwrap()).unwrap())
            .collect();
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let slots: Vec<DateTime<Utc>> = (1..=30).map(|m| t + Duration::minutes(m)).collect();
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let racers: Vec<_> = (0..4)
            .map(|i| {
                let host = hosts[i % 2].clone();
                let (slots, barrier) = (slots.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut won = Vec::new();
                    for slot in slots {
                        barrier.wait();
                        if host.take("acme", "poll", slot).unwrap() {
                            won.push(slot);
                        }
                    }
                    won
                })
            })
            .collect();
        let mut taken: Vec<DateTime<Utc>> =
            racers.into_iter().flat_map(|r| r.join().unwrap()).collect();
        taken.sort();
        assert_eq!(taken, slots, "every slot taken by exactly one racer");
        assert_eq!(
            hosts[0].last("acme", "poll").unwrap(),
            slots.last().copied()
        );
    }
}

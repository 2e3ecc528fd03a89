//! The error ledger (`errors`): every record a run reported as `failed`, by (tenant, job,
//! entity, record id), until a later success resolves it or a person dismisses it. Retryable
//! failures get a next retry with exponential backoff (1 min, 2 min, 4 min ... 6 h, at most
//! [`MAX_ATTEMPTS`] attempts); permanent ones are never re-run automatically (the plugin has
//! notified about them once; a person fixes the record and retries from the CLI).
//!
//! The rows live in the store (`LedgerStore`): `sqlite.rs` for the embedded file, `postgres.rs`
//! for a database shared by many hosts, where claiming due retries skips rows another host has
//! locked, so two hosts never retry the same error at once.

mod postgres;
mod sqlite;

use super::runs::{parse_stamp, stamp};
use crate::db::{Backend, Database};
use crate::runtime::exports::ledgerlink::sync::flows::{Outcome, RunReport};
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Ledger job names starting with this (`webhook:quickbooks`) are not `run-job` names: their
/// errors are listed but never retried automatically.
pub const NOT_A_JOB_PREFIX: &str = "webhook:";

/// After this many failed attempts a retryable error is no longer retried automatically.
pub const MAX_ATTEMPTS: i64 = 10;

/// The record id the component gives a run that stopped as a whole (`<job>:(run)`).
pub const RUN_RECORD: &str = "(run)";

/// The wait before retry number `attempts + 1`.
pub fn backoff(attempts: i64) -> Duration {
    let exp = (attempts.max(1) - 1).min(10) as u32;
    Duration::minutes(1i64 << exp).min(Duration::hours(6))
}

/// One ledger row.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LedgerError {
    /// Row id (what the CLI names).
    pub id: i64,
    /// Tenant.
    pub tenant: String,
    /// The job that reported it.
    pub job: String,
    /// e.g. `Opportunity`.
    pub entity: String,
    /// The source record id.
    pub record_id: String,
    /// The failure code (`mapping`, `6240`, `http-503`, ...).
    pub code: Option<String>,
    /// Why.
    pub detail: String,
    /// Whether the same call may succeed later.
    pub retryable: bool,
    /// Failed attempts so far.
    pub attempts: i64,
    /// First failure.
    pub first_seen: String,
    /// Latest failure.
    pub last_seen: String,
    /// When the scheduler retries it (none: not automatically).
    pub next_retry: Option<String>,
    /// `open`, `resolved` or `dismissed`.
    pub state: String,
}

/// What recording a report changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerUpdate {
    /// Failures recorded (new or again).
    pub failed: usize,
    /// Open errors resolved by a success.
    pub resolved: usize,
    /// Retryable failures that just used their last automatic attempt: `(entity, record id,
    /// detail)`.
    pub exhausted: Vec<(String, String, String)>,
}

/// How a ledger row names its record in a retry's `{"only": [...]}`: `<entity>:<record id>`, so
/// that a job handling several kinds of record (e.g. `sync-quickbooks`: customers, invoices,
/// payments) knows which one is meant.
pub fn only_entry(entity: &str, record_id: &str) -> String {
    if entity.is_empty() {
        record_id.to_string()
    } else {
        format!("{entity}:{record_id}")
    }
}

/// Due retries of one tenant and job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryBatch {
    /// Tenant.
    pub tenant: String,
    /// Job.
    pub job: String,
    /// Records to pass as `{"only": [...]}` ([`only_entry`]).
    pub record_ids: Vec<String>,
}

/// One outcome of a report, as the ledger records it.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) entity: String,
    pub(crate) record_id: String,
    /// A failure (upserted) or a success (resolves).
    pub(crate) failed: bool,
    pub(crate) code: Option<String>,
    pub(crate) detail: String,
    pub(crate) retryable: bool,
}

/// What a failure makes of its ledger row, given the row's `(attempts, state)` if it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) attempts: i64,
    pub(crate) state: String,
    pub(crate) next_retry: Option<String>,
    /// It just used its last automatic attempt.
    pub(crate) exhausted: bool,
}

/// The ledger's rule for a failure of `entry` in `job` at `now`.
pub(crate) fn failure(
    existing: Option<(i64, String)>,
    entry: &Entry,
    job: &str,
    now: DateTime<Utc>,
) -> Failure {
    let (attempts, state) = match existing {
        Some((n, s)) if s == "open" => (n + 1, s),
        // A person dismissed it: keep it dismissed, but keep it current.
        Some((n, s)) if s == "dismissed" => (n + 1, s),
        _ => (1, "open".to_string()),
    };
    let next_retry = (entry.retryable
        && state == "open"
        && attempts < MAX_ATTEMPTS
        && !job.starts_with(NOT_A_JOB_PREFIX))
    .then(|| stamp(now + backoff(attempts)));
    let exhausted = entry.retryable && state == "open" && attempts == MAX_ATTEMPTS;
    Failure {
        attempts,
        state,
        next_retry,
        exhausted,
    }
}

/// When a claimed retry comes round again if this one fails as a whole.
pub(crate) fn reclaimed(attempts: i64, now: DateTime<Utc>) -> String {
    stamp(now + backoff(attempts + 1))
}

/// A due retry the store claimed: `(tenant, job, only entry)`.
pub(crate) type Claimed = (String, String, String);

/// Where the ledger's rows are kept: one implementation per backend. Times are [`stamp`]s.
pub(crate) trait LedgerStore: Send + Sync {
    /// Records `entries` of one run in one transaction: failures upserted by [`failure`],
    /// successes resolving open rows.
    fn record(
        &self,
        tenant: &str,
        job: &str,
        entries: Vec<Entry>,
        now: DateTime<Utc>,
    ) -> Result<LedgerUpdate>;
    /// Resolves the open [`RUN_RECORD`] row of `job`.
    fn resolve_run(&self, tenant: &str, job: &str, now: String) -> Result<usize>;
    /// Claims the due retries (moving each one's next retry to [`reclaimed`]), ordered by
    /// tenant, job and id.
    /// Claims due retries, of `tenants` only when given.
    fn claim_due(&self, now: DateTime<Utc>, tenants: Option<&[String]>) -> Result<Vec<Claimed>>;
    /// Rows of `tenant` and/or in `state` (none: any), newest first.
    fn list(&self, tenant: Option<&str>, state: Option<&str>) -> Result<Vec<LedgerError>>;
    /// One row.
    fn get(&self, id: i64) -> Result<Option<LedgerError>>;
    /// Dismisses row `id`; false when there is none.
    fn dismiss(&self, id: i64, now: String) -> Result<bool>;
    /// Open rows per tenant.
    fn open_counts(&self) -> Result<BTreeMap<String, u64>>;
}

/// The `errors` table. Cloning shares the store.
#[derive(Clone)]
pub struct ErrorLedger {
    store: Arc<dyn LedgerStore>,
}

impl ErrorLedger {
    /// The table in `db` (its schema comes from the store's migrations).
    pub fn new(db: Database) -> Result<Self> {
        let store: Arc<dyn LedgerStore> = match db.backend() {
            Backend::Sqlite(db) => Arc::new(sqlite::SqliteLedger::new(db.clone())),
            Backend::Postgres(db) => Arc::new(postgres::PostgresLedger::new(db.clone())),
        };
        Ok(Self { store })
    }

    /// Records every outcome of a run: failures are upserted, successes resolve.
    pub fn record(
        &self,
        tenant: &str,
        job: &str,
        report: &RunReport,
        now: DateTime<Utc>,
    ) -> Result<LedgerUpdate> {
        let entries = report
            .records
            .iter()
            .filter(|r| !r.record_id.is_empty())
            .map(|r| Entry {
                entity: r.entity.clone(),
                record_id: r.record_id.clone(),
                failed: matches!(r.outcome, Outcome::Failed),
                code: r.code.clone(),
                detail: r.detail.clone(),
                retryable: r.retryable,
            })
            .collect();
        self.store.record(tenant, job, entries, now)
    }

    /// A whole run of `job` finished without stopping early: an open failure of an earlier run
    /// as a whole ([`RUN_RECORD`]) is over, whether or not its own retry has come round.
    pub fn resolve_run(&self, tenant: &str, job: &str, now: DateTime<Utc>) -> Result<usize> {
        self.store.resolve_run(tenant, job, stamp(now))
    }

    /// Open retryable errors whose retry is due, grouped by tenant and job. Their next retry is
    /// moved forward at once (as if the attempt failed), so a retry run that fails as a whole
    /// cannot cause a retry storm; the run's own outcomes then set the real state.
    pub fn claim_due(&self, now: DateTime<Utc>) -> Result<Vec<RetryBatch>> {
        self.claim_due_of(now, None)
    }

    /// [`Self::claim_due`] for `tenants` only (the ones a host serves; `None`: every tenant):
    /// another host's tenants' retries are left for that host.
    pub fn claim_due_of(
        &self,
        now: DateTime<Utc>,
        tenants: Option<&[String]>,
    ) -> Result<Vec<RetryBatch>> {
        let mut batches: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (tenant, job, record_id) in self.store.claim_due(now, tenants)? {
            let ids = batches.entry((tenant, job)).or_default();
            if !ids.contains(&record_id) {
                ids.push(record_id);
            }
        }
        Ok(batches
            .into_iter()
            .map(|((tenant, job), record_ids)| RetryBatch {
                tenant,
                job,
                record_ids,
            })
            .collect())
    }

    /// Errors, newest first, optionally of one tenant and/or in one state.
    pub fn list(&self, tenant: Option<&str>, state: Option<&str>) -> Result<Vec<LedgerError>> {
        self.store.list(tenant, state)
    }

    /// One error.
    pub fn get(&self, id: i64) -> Result<Option<LedgerError>> {
        self.store.get(id)
    }

    /// Dismisses an error: it is never retried again. False when there is no such error.
    pub fn dismiss(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        self.store.dismiss(id, stamp(now))
    }

    /// Open errors per tenant.
    pub fn open_counts(&self) -> Result<BTreeMap<String, u64>> {
        self.store.open_counts()
    }
}

/// When an error's retry is due, parsed.
pub fn next_retry_of(e: &LedgerError) -> Option<DateTime<Utc>> {
    e.next_retry.as_deref().and_then(parse_stamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::each_backend;
    use crate::runtime::exports::ledgerlink::sync::flows::RecordOutcome;

    fn report(outcomes: &[(&str, Outcome, bool)]) -> RunReport {
        RunReport {
            job: "poll".into(),
            records: outcomes
                .iter()
                .map(|(id, outcome, retryable)| RecordOutcome {
                    entity: "Opportunity".into(),
                    record_id: id.to_string(),
                    outcome: *outcome,
                    target_id: None,
                    detail: "x".into(),
                    code: Some(if *retryable { "http-503" } else { "mapping" }.into()),
                    retryable: *retryable,
                })
                .collect(),
            created: 0,
            updated: 0,
            skipped: 0,
            failed: 0,
        }
    }

    #[test]
    fn failures_are_upserted_with_backoff_and_a_success_resolves_them() {
        each_backend("ledger_backoff", |db| {
            let ledger = ErrorLedger::new(db).unwrap();
            let t0 = Utc::now();
            let u = ledger
                .record(
                    "acme",
                    "poll",
                    &report(&[
                        ("006A", Outcome::Failed, true),
                        ("006B", Outcome::Failed, false),
                    ]),
                    t0,
                )
                .unwrap();
            assert_eq!(u.failed, 2);
            let all = ledger.list(Some("acme"), Some("open")).unwrap();
            assert_eq!(all.len(), 2);
            let b = all.iter().find(|e| e.record_id == "006B").unwrap();
            assert_eq!(b.next_retry, None, "permanent failures are not retried");
            // Not due before the backoff; due after; claiming moves the retry forward.
            assert!(ledger.claim_due(t0).unwrap().is_empty());
            let batches = ledger.claim_due(t0 + Duration::minutes(1)).unwrap();
            assert_eq!(
                batches,
                vec![RetryBatch {
                    tenant: "acme".into(),
                    job: "poll".into(),
                    record_ids: vec!["Opportunity:006A".into()]
                }]
            );
            assert!(ledger
                .claim_due(t0 + Duration::minutes(1))
                .unwrap()
                .is_empty());
            // It fails again: attempts 2, backoff 2 min.
            let t1 = t0 + Duration::minutes(1);
            ledger
                .record(
                    "acme",
                    "poll",
                    &report(&[("006A", Outcome::Failed, true)]),
                    t1,
                )
                .unwrap();
            let a = ledger
                .list(None, None)
                .unwrap()
                .into_iter()
                .find(|e| e.record_id == "006A")
                .unwrap();
            assert_eq!(a.attempts, 2);
            assert_eq!(
                next_retry_of(&a),
                parse_stamp(&stamp(t1 + Duration::minutes(2)))
            );
            // Then succeeds.
            let u = ledger
                .record(
                    "acme",
                    "poll",
                    &report(&[("006A", Outcome::Updated, false)]),
                    t1,
                )
                .unwrap();
            assert_eq!(u.resolved, 1);
            assert_eq!(ledger.get(a.id).unwrap().unwrap().state, "resolved");
            assert_eq!(ledger.open_counts().unwrap()["acme"], 1);
            assert!(ledger.dismiss(b.id, t1).unwrap());
            assert!(ledger.open_counts().unwrap().is_empty());
        });
    }

    #[test]
    fn errors_of_a_webhook_without_a_job_are_listed_but_never_retried() {
        each_backend("ledger_webhook", |db| {
            let ledger = ErrorLedger::new(db).unwrap();
            let t0 = Utc::now();
            ledger
                .record(
                    "acme",
                    "webhook:quickbooks",
                    &report(&[("130", Outcome::Failed, true)]),
                    t0,
                )
                .unwrap();
            let e = &ledger.list(None, Some("open")).unwrap()[0];
            assert_eq!(e.next_retry, None);
            assert!(ledger.claim_due(t0 + Duration::days(1)).unwrap().is_empty());
        });
    }

    #[test]
    fn backoff_doubles_up_to_six_hours() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(3), Duration::minutes(4));
        assert_eq!(backoff(40), Duration::hours(6));
    }
}

//! The error ledger (`errors`): every record a run reported as `failed`, by (tenant, job,
//! entity, record id), until a later success resolves it or a person dismisses it. Retryable
//! failures get a next retry with exponential backoff (1 min, 2 min, 4 min ... 6 h, at most
//! [`MAX_ATTEMPTS`] attempts); permanent ones are never re-run automatically (the plugin has
//! notified about them once; a person fixes the record and retries from the CLI).

use super::runs::{parse_stamp, stamp};
use crate::db::Database;
use crate::runtime::exports::ledgerlink::sync::flows::{Outcome, RunReport};
use anyhow::Result;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS errors (
    id         INTEGER PRIMARY KEY,
    tenant     TEXT NOT NULL,
    job        TEXT NOT NULL,
    entity     TEXT NOT NULL,
    record_id  TEXT NOT NULL,
    code       TEXT,
    detail     TEXT NOT NULL,
    retryable  INTEGER NOT NULL,
    attempts   INTEGER NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen  TEXT NOT NULL,
    next_retry TEXT,
    state      TEXT NOT NULL,
    UNIQUE (tenant, job, entity, record_id)
);
CREATE INDEX IF NOT EXISTS errors_due ON errors (state, next_retry);
";

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

/// The `errors` table. Cloning shares the store.
#[derive(Clone)]
pub struct ErrorLedger {
    db: Database,
}

impl ErrorLedger {
    /// Opens the table in `db`.
    pub fn new(db: Database) -> Result<Self> {
        db.lock().execute_batch(SCHEMA)?;
        Ok(Self { db })
    }

    /// Records every outcome of a run: failures are upserted, successes resolve.
    pub fn record(
        &self,
        tenant: &str,
        job: &str,
        report: &RunReport,
        now: DateTime<Utc>,
    ) -> Result<LedgerUpdate> {
        let mut conn = self.db.lock();
        let tx = conn.transaction()?;
        let mut update = LedgerUpdate::default();
        for r in &report.records {
            if r.record_id.is_empty() {
                continue;
            }
            if matches!(r.outcome, Outcome::Failed) {
                let existing: Option<(i64, String)> = tx
                    .query_row(
                        "SELECT attempts, state FROM errors WHERE tenant = ?1 AND job = ?2 AND entity = ?3 AND record_id = ?4",
                        params![tenant, job, r.entity, r.record_id],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                let (attempts, state) = match existing {
                    Some((n, s)) if s == "open" => (n + 1, s),
                    // A person dismissed it: keep it dismissed, but keep it current.
                    Some((n, s)) if s == "dismissed" => (n + 1, s),
                    _ => (1, "open".to_string()),
                };
                let next = (r.retryable
                    && state == "open"
                    && attempts < MAX_ATTEMPTS
                    && !job.starts_with(NOT_A_JOB_PREFIX))
                .then(|| stamp(now + backoff(attempts)));
                tx.execute(
                    "INSERT INTO errors (tenant, job, entity, record_id, code, detail, retryable, attempts, first_seen, last_seen, next_retry, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)
                     ON CONFLICT (tenant, job, entity, record_id) DO UPDATE SET
                        code = excluded.code, detail = excluded.detail, retryable = excluded.retryable,
                        attempts = excluded.attempts, last_seen = excluded.last_seen,
                        next_retry = excluded.next_retry, state = excluded.state,
                        first_seen = CASE WHEN errors.state = 'resolved' THEN excluded.first_seen ELSE errors.first_seen END",
                    params![tenant, job, r.entity, r.record_id, r.code, r.detail, r.retryable, attempts, stamp(now), next, state],
                )?;
                update.failed += 1;
                if r.retryable && state == "open" && attempts == MAX_ATTEMPTS {
                    update.exhausted.push((
                        r.entity.clone(),
                        r.record_id.clone(),
                        r.detail.clone(),
                    ));
                }
            } else {
                update.resolved += tx.execute(
                    "UPDATE errors SET state = 'resolved', next_retry = NULL, last_seen = ?5
                     WHERE tenant = ?1 AND job = ?2 AND entity = ?3 AND record_id = ?4 AND state = 'open'",
                    params![tenant, job, r.entity, r.record_id, stamp(now)],
                )?;
            }
        }
        tx.commit()?;
        Ok(update)
    }

    /// A whole run of `job` finished without stopping early: an open failure of an earlier run
    /// as a whole ([`RUN_RECORD`]) is over, whether or not its own retry has come round.
    pub fn resolve_run(&self, tenant: &str, job: &str, now: DateTime<Utc>) -> Result<usize> {
        Ok(self.db.lock().execute(
            "UPDATE errors SET state = 'resolved', next_retry = NULL, last_seen = ?4
             WHERE tenant = ?1 AND job = ?2 AND record_id = ?3 AND state = 'open'",
            params![tenant, job, RUN_RECORD, stamp(now)],
        )?)
    }

    /// Open retryable errors whose retry is due, grouped by tenant and job. Their next retry is
    /// moved forward at once (as if the attempt failed), so a retry run that fails as a whole
    /// cannot cause a retry storm; the run's own outcomes then set the real state.
    pub fn claim_due(&self, now: DateTime<Utc>) -> Result<Vec<RetryBatch>> {
        let mut conn = self.db.lock();
        let tx = conn.transaction()?;
        let rows: Vec<(i64, String, String, String, i64)> = {
            let mut stmt = tx.prepare(
                "SELECT id, tenant, job, entity, record_id, attempts FROM errors
                 WHERE state = 'open' AND retryable = 1 AND next_retry IS NOT NULL AND next_retry <= ?1
                 ORDER BY tenant, job, id",
            )?;
            let rows = stmt.query_map(params![stamp(now)], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    only_entry(&row.get::<_, String>(3)?, &row.get::<_, String>(4)?),
                    row.get(5)?,
                ))
            })?;
            rows.collect::<Result<_, _>>()?
        };
        let mut batches: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (id, tenant, job, record_id, attempts) in rows {
            tx.execute(
                "UPDATE errors SET next_retry = ?2 WHERE id = ?1",
                params![id, stamp(now + backoff(attempts + 1))],
            )?;
            let ids = batches.entry((tenant, job)).or_default();
            if !ids.contains(&record_id) {
                ids.push(record_id);
            }
        }
        tx.commit()?;
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
        self.select(
            "WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR state = ?2) ORDER BY id DESC",
            params![tenant, state],
        )
    }

    /// One error.
    pub fn get(&self, id: i64) -> Result<Option<LedgerError>> {
        Ok(self
            .select("WHERE id = ?1", params![id])?
            .into_iter()
            .next())
    }

    /// Dismisses an error: it is never retried again. False when there is no such error.
    pub fn dismiss(&self, id: i64, now: DateTime<Utc>) -> Result<bool> {
        Ok(self.db.lock().execute(
            "UPDATE errors SET state = 'dismissed', next_retry = NULL, last_seen = ?2 WHERE id = ?1",
            params![id, stamp(now)],
        )? > 0)
    }

    /// Open errors per tenant.
    pub fn open_counts(&self) -> Result<BTreeMap<String, u64>> {
        let conn = self.db.lock();
        let mut stmt = conn
            .prepare("SELECT tenant, COUNT(*) FROM errors WHERE state = 'open' GROUP BY tenant")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn select(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<LedgerError>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT id, tenant, job, entity, record_id, code, detail, retryable, attempts, first_seen, last_seen, next_retry, state FROM errors {filter}"
        ))?;
        let rows = stmt.query_map(args, |row| {
            Ok(LedgerError {
                id: row.get(0)?,
                tenant: row.get(1)?,
                job: row.get(2)?,
                entity: row.get(3)?,
                record_id: row.get(4)?,
                code: row.get(5)?,
                detail: row.get(6)?,
                retryable: row.get(7)?,
                attempts: row.get(8)?,
                first_seen: row.get(9)?,
                last_seen: row.get(10)?,
                next_retry: row.get(11)?,
                state: row.get(12)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// When an error's retry is due, parsed.
pub fn next_retry_of(e: &LedgerError) -> Option<DateTime<Utc>> {
    e.next_retry.as_deref().and_then(parse_stamp)
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let ledger = ErrorLedger::new(Database::in_memory().unwrap()).unwrap();
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
    }

    #[test]
    fn errors_of_a_webhook_without_a_job_are_listed_but_never_retried() {
        let ledger = ErrorLedger::new(Database::in_memory().unwrap()).unwrap();
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
    }

    #[test]
    fn backoff_doubles_up_to_six_hours() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(3), Duration::minutes(4));
        assert_eq!(backoff(40), Duration::hours(6));
    }
}

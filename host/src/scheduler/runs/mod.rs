//! The `job_runs` table: one row per run of a job for a tenant (what triggered it, when it
//! started and finished, how it ended, a one-line summary). A row still `running` when the host
//! starts belongs to a process that died; it is marked `interrupted`.
//!
//! The table lives in the store (`RunStore`): `sqlite.rs` for the embedded file, `postgres.rs`
//! for a database shared by many hosts.

mod postgres;
mod sqlite;

use crate::db::{Backend, Database};
use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use std::sync::Arc;

/// A timestamp as stored (fixed width, so text order is time order).
pub fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a stored timestamp.
pub fn parse_stamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// One run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct JobRun {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant: String,
    /// Job name.
    pub job: String,
    /// JSON arguments.
    pub args: String,
    /// `cron`, `catch-up`, `run-later`, `retry`, `manual`.
    pub trigger: String,
    /// Start (RFC 3339).
    pub started: String,
    /// End, when it ended.
    pub finished: Option<String>,
    /// `running`, `ok`, `throttled`, `not-available`, `invalid-args`, `failed`, `error`, `interrupted`.
    pub status: String,
    /// One line.
    pub summary: String,
}

/// Where runs are kept: one implementation per backend. Times are stored [`stamp`]s.
pub(crate) trait RunStore: Send + Sync {
    /// Inserts a `running` row; returns its id.
    fn start(
        &self,
        tenant: &str,
        job: &str,
        args: &str,
        trigger: &str,
        started: String,
    ) -> Result<i64>;
    /// Sets the end of run `id`.
    fn finish(&self, id: i64, status: &str, summary: &str, finished: String) -> Result<()>;
    /// Marks every `running` row `interrupted`; returns them as they were, oldest first.
    /// Marks `running` rows interrupted, of `tenants` only when given; returns them as they were.
    fn interrupt_unfinished(
        &self,
        finished: String,
        tenants: Option<&[String]>,
    ) -> Result<Vec<JobRun>>;
    /// The latest run of each job of `tenant`, by job name.
    fn last_per_job(&self, tenant: &str) -> Result<Vec<JobRun>>;
    /// Runs of `tenant` and `job`, newest first.
    fn history(&self, tenant: &str, job: &str, limit: i64) -> Result<Vec<JobRun>>;
    /// One run.
    fn get(&self, id: i64) -> Result<Option<JobRun>>;
    /// The latest start of `job` of `tenant`.
    fn last_started(&self, tenant: &str, job: &str) -> Result<Option<String>>;
}

/// The `job_runs` table. Cloning shares the store.
#[derive(Clone)]
pub struct JobRuns {
    store: Arc<dyn RunStore>,
}

impl JobRuns {
    /// The table in `db` (its schema comes from the store's migrations).
    pub fn new(db: Database) -> Result<Self> {
        let store: Arc<dyn RunStore> = match db.backend() {
            Backend::Sqlite(db) => Arc::new(sqlite::SqliteRuns::new(db.clone())),
            Backend::Postgres(db) => Arc::new(postgres::PostgresRuns::new(db.clone())),
        };
        Ok(Self { store })
    }

    /// Records the start of a run; returns its id.
    pub fn start(
        &self,
        tenant: &str,
        job: &str,
        args: &str,
        trigger: &str,
        now: DateTime<Utc>,
    ) -> Result<i64> {
        self.store.start(tenant, job, args, trigger, stamp(now))
    }

    /// Records the end of run `id`.
    pub fn finish(&self, id: i64, status: &str, summary: &str, now: DateTime<Utc>) -> Result<()> {
        self.store.finish(id, status, summary, stamp(now))
    }

    /// Marks rows left `running` by a dead process as `interrupted`; returns them.
    pub fn interrupt_unfinished(&self, now: DateTime<Utc>) -> Result<Vec<JobRun>> {
        self.store.interrupt_unfinished(stamp(now), None)
    }

    /// [`Self::interrupt_unfinished`] for `tenants` only: the ones a host has just taken on and
    /// no live run holds (another host's runs in progress are left alone).
    pub fn interrupt_unfinished_of(
        &self,
        now: DateTime<Utc>,
        tenants: &[String],
    ) -> Result<Vec<JobRun>> {
        if tenants.is_empty() {
            return Ok(Vec::new());
        }
        self.store.interrupt_unfinished(stamp(now), Some(tenants))
    }

    /// The latest run of each job of `tenant`, by job name.
    pub fn last_per_job(&self, tenant: &str) -> Result<Vec<JobRun>> {
        self.store.last_per_job(tenant)
    }

    /// Runs of `tenant` and `job`, newest first.
    pub fn history(&self, tenant: &str, job: &str, limit: usize) -> Result<Vec<JobRun>> {
        self.store
            .history(tenant, job, i64::try_from(limit).unwrap_or(i64::MAX))
    }

    /// One run.
    pub fn get(&self, id: i64) -> Result<Option<JobRun>> {
        self.store.get(id)
    }

    /// When `job` of `tenant` last started, if ever.
    pub fn last_started(&self, tenant: &str, job: &str) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .store
            .last_started(tenant, job)?
            .as_deref()
            .and_then(parse_stamp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::db::testing::each_backend;

    #[test]
    fn a_run_is_recorded_and_a_dead_processs_run_is_interrupted() {
        each_backend("runs_interrupted", |db| {
            let runs = JobRuns::new(db).unwrap();
            let now = Utc::now();
            let a = runs.start("acme", "poll", "{}", "cron", now).unwrap();
            runs.finish(a, "ok", "poll: 1 created", now).unwrap();
            let b = runs.start("acme", "poll", "{}", "cron", now).unwrap();
            runs.start("acme", "aging", "{}", "cron", now).unwrap();
            let last = runs.last_per_job("acme").unwrap();
            assert_eq!(last.len(), 2);
            assert_eq!(last[1].id, b);
            let interrupted = runs.interrupt_unfinished(now).unwrap();
            assert_eq!(interrupted.len(), 2);
            assert_eq!(runs.get(b).unwrap().unwrap().status, "interrupted");
            assert_eq!(runs.get(a).unwrap().unwrap().status, "ok");
            assert!(runs.last_started("acme", "poll").unwrap().is_some());
            assert!(runs.last_started("acme", "nope").unwrap().is_none());
        });
    }
}

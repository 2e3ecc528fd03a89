//! The `job_runs` table: one row per run of a job for a tenant (what triggered it, when it
//! started and finished, how it ended, a one-line summary). A row still `running` when the host
//! starts belongs to a process that died; it is marked `interrupted`.

use crate::db::Database;
use anyhow::Result;
use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{params, OptionalExtension};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS job_runs (
    id       INTEGER PRIMARY KEY,
    tenant   TEXT NOT NULL,
    job      TEXT NOT NULL,
    args     TEXT NOT NULL,
    trigger  TEXT NOT NULL,
    started  TEXT NOT NULL,
    finished TEXT,
    status   TEXT NOT NULL,
    summary  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS job_runs_by_job ON job_runs (tenant, job, id);
";

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

/// The `job_runs` table. Cloning shares the store.
#[derive(Clone)]
pub struct JobRuns {
    db: Database,
}

impl JobRuns {
    /// Opens the table in `db`.
    pub fn new(db: Database) -> Result<Self> {
        db.lock().execute_batch(SCHEMA)?;
        Ok(Self { db })
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
        let conn = self.db.lock();
        conn.execute(
            "INSERT INTO job_runs (tenant, job, args, trigger, started, status) VALUES (?1, ?2, ?3, ?4, ?5, 'running')",
            params![tenant, job, args, trigger, stamp(now)],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// Records the end of run `id`.
    pub fn finish(&self, id: i64, status: &str, summary: &str, now: DateTime<Utc>) -> Result<()> {
        self.db.lock().execute(
            "UPDATE job_runs SET finished = ?2, status = ?3, summary = ?4 WHERE id = ?1",
            params![id, stamp(now), status, summary],
        )?;
        Ok(())
    }

    /// Marks rows left `running` by a dead process as `interrupted`; returns them.
    pub fn interrupt_unfinished(&self, now: DateTime<Utc>) -> Result<Vec<JobRun>> {
        let rows = self.select("WHERE status = 'running' ORDER BY id", params![])?;
        self.db.lock().execute(
            "UPDATE job_runs SET status = 'interrupted', finished = ?1, summary = 'the host stopped during the run' WHERE status = 'running'",
            params![stamp(now)],
        )?;
        Ok(rows)
    }

    /// The latest run of each job of `tenant`, by job name.
    pub fn last_per_job(&self, tenant: &str) -> Result<Vec<JobRun>> {
        self.select(
            "WHERE id IN (SELECT MAX(id) FROM job_runs WHERE tenant = ?1 GROUP BY job) ORDER BY job",
            params![tenant],
        )
    }

    /// Runs of `tenant` and `job`, newest first.
    pub fn history(&self, tenant: &str, job: &str, limit: usize) -> Result<Vec<JobRun>> {
        self.select(
            "WHERE tenant = ?1 AND job = ?2 ORDER BY id DESC LIMIT ?3",
            params![tenant, job, limit as i64],
        )
    }

    /// One run.
    pub fn get(&self, id: i64) -> Result<Option<JobRun>> {
        Ok(self
            .select("WHERE id = ?1", params![id])?
            .into_iter()
            .next())
    }

    /// When `job` of `tenant` last started, if ever.
    pub fn last_started(&self, tenant: &str, job: &str) -> Result<Option<DateTime<Utc>>> {
        let started: Option<String> = self
            .db
            .lock()
            .query_row(
                "SELECT MAX(started) FROM job_runs WHERE tenant = ?1 AND job = ?2",
                params![tenant, job],
                |row| row.get(0),
            )
            .optional()?
            .flatten();
        Ok(started.as_deref().and_then(parse_stamp))
    }

    fn select(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<JobRun>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT id, tenant, job, args, trigger, started, finished, status, summary FROM job_runs {filter}"
        ))?;
        let rows = stmt.query_map(args, |row| {
            Ok(JobRun {
                id: row.get(0)?,
                tenant: row.get(1)?,
                job: row.get(2)?,
                args: row.get(3)?,
                trigger: row.get(4)?,
                started: row.get(5)?,
                finished: row.get(6)?,
                status: row.get(7)?,
                summary: row.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_recorded_and_a_dead_processs_run_is_interrupted() {
        let runs = JobRuns::new(Database::in_memory().unwrap()).unwrap();
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
    }
}

//! `job_runs` in the SQLite store.

use super::{JobRun, RunStore};
use crate::db::Sqlite;
use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension};

const COLUMNS: &str = "id, tenant, job, args, trigger, started, finished, status, summary";

pub(crate) struct SqliteRuns {
    db: Sqlite,
}

impl SqliteRuns {
    pub(crate) fn new(db: Sqlite) -> Self {
        Self { db }
    }

    fn select(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<JobRun>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM job_runs {filter}"))?;
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

impl RunStore for SqliteRuns {
    fn start(
        &self,
        tenant: &str,
        job: &str,
        args: &str,
        trigger: &str,
        started: String,
    ) -> Result<i64> {
        let conn = self.db.lock();
        conn.execute(
            "INSERT INTO job_runs (tenant, job, args, trigger, started, status) VALUES (?1, ?2, ?3, ?4, ?5, 'running')",
            params![tenant, job, args, trigger, started],
        )
        .context("recording the start of a run")?;
        Ok(conn.last_insert_rowid())
    }

    fn finish(&self, id: i64, status: &str, summary: &str, finished: String) -> Result<()> {
        self.db
            .lock()
            .execute(
                "UPDATE job_runs SET finished = ?2, status = ?3, summary = ?4 WHERE id = ?1",
                params![id, finished, status, summary],
            )
            .context("recording the end of a run")?;
        Ok(())
    }

    fn interrupt_unfinished(
        &self,
        finished: String,
        tenants: Option<&[String]>,
    ) -> Result<Vec<JobRun>> {
        let tenants = crate::db::sqlite::tenant_list(tenants);
        let rows = self.select(
            "WHERE status = 'running' AND (?1 IS NULL OR tenant IN (SELECT value FROM json_each(?1))) ORDER BY id",
            params![tenants],
        )?;
        self.db
            .lock()
            .execute(
                "UPDATE job_runs SET status = 'interrupted', finished = ?1, summary = 'the host stopped during the run' WHERE status = 'running' AND (?2 IS NULL OR tenant IN (SELECT value FROM json_each(?2)))",
                params![finished, tenants],
            )
            .context("marking unfinished runs interrupted")?;
        Ok(rows)
    }

    fn last_per_job(&self, tenant: &str) -> Result<Vec<JobRun>> {
        self.select(
            "WHERE id IN (SELECT MAX(id) FROM job_runs WHERE tenant = ?1 GROUP BY job) ORDER BY job",
            params![tenant],
        )
    }

    fn history(&self, tenant: &str, job: &str, limit: i64) -> Result<Vec<JobRun>> {
        self.select(
            "WHERE tenant = ?1 AND job = ?2 ORDER BY id DESC LIMIT ?3",
            params![tenant, job, limit],
        )
    }

    fn get(&self, id: i64) -> Result<Option<JobRun>> {
        Ok(self
            .select("WHERE id = ?1", params![id])?
            .into_iter()
            .next())
    }

    fn last_started(&self, tenant: &str, job: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .lock()
            .query_row(
                "SELECT MAX(started) FROM job_runs WHERE tenant = ?1 AND job = ?2",
                params![tenant, job],
                |row| row.get(0),
            )
            .optional()
            .context("reading when a job last started")?
            .flatten())
    }
}

//! `job_runs` in the shared PostgreSQL store. Marking unfinished runs `interrupted` is one
//! `UPDATE ... RETURNING`, so two hosts starting together report each row once.

use super::{JobRun, RunStore};
use crate::db::Postgres;
use anyhow::{Context, Result};
use tokio_postgres::Row;

const COLUMNS: &str = "id, tenant, job, args, trigger, started, finished, status, summary";

pub(crate) struct PostgresRuns {
    db: Postgres,
}

fn run(row: &Row) -> Result<JobRun> {
    Ok(JobRun {
        id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        job: row.try_get(2)?,
        args: row.try_get(3)?,
        trigger: row.try_get(4)?,
        started: row.try_get(5)?,
        finished: row.try_get(6)?,
        status: row.try_get(7)?,
        summary: row.try_get(8)?,
    })
}

impl PostgresRuns {
    pub(crate) fn new(db: Postgres) -> Self {
        Self { db }
    }
}

impl RunStore for PostgresRuns {
    fn start(
        &self,
        tenant: &str,
        job: &str,
        args: &str,
        trigger: &str,
        started: String,
    ) -> Result<i64> {
        let (tenant, job, args, trigger) = (
            tenant.to_string(),
            job.to_string(),
            args.to_string(),
            trigger.to_string(),
        );
        self.db.run(move |c| {
            Box::pin(async move {
                let row = c
                    .query_one(
                        "INSERT INTO job_runs (tenant, job, args, trigger, started, status) \
                         VALUES ($1, $2, $3, $4, $5, 'running') RETURNING id",
                        &[&tenant, &job, &args, &trigger, &started],
                    )
                    .await
                    .context("recording the start of a run")?;
                Ok(row.try_get(0)?)
            })
        })
    }

    fn finish(&self, id: i64, status: &str, summary: &str, finished: String) -> Result<()> {
        let (status, summary) = (status.to_string(), summary.to_string());
        self.db.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "UPDATE job_runs SET finished = $2, status = $3, summary = $4 WHERE id = $1",
                    &[&id, &finished, &status, &summary],
                )
                .await
                .context("recording the end of a run")?;
                Ok(())
            })
        })
    }

    fn interrupt_unfinished(
        &self,
        finished: String,
        tenants: Option<&[String]>,
    ) -> Result<Vec<JobRun>> {
        let tenants: Option<Vec<String>> = tenants.map(<[String]>::to_vec);
        // RETURNING gives the new row; the CTE keeps what it was before.
        let sql = format!(
            "WITH before AS (SELECT {COLUMNS} FROM job_runs WHERE status = 'running' \
                 AND ($2::TEXT[] IS NULL OR tenant = ANY($2)) FOR UPDATE), \
             marked AS (UPDATE job_runs r SET status = 'interrupted', finished = $1, \
                 summary = 'the host stopped during the run' \
                 FROM before WHERE r.id = before.id RETURNING r.id) \
             SELECT {COLUMNS} FROM before WHERE id IN (SELECT id FROM marked) ORDER BY id"
        );
        self.db.run(move |c| {
            Box::pin(async move {
                c.query(&sql, &[&finished, &tenants])
                    .await
                    .context("marking unfinished runs interrupted")?
                    .iter()
                    .map(run)
                    .collect()
            })
        })
    }

    fn last_per_job(&self, tenant: &str) -> Result<Vec<JobRun>> {
        let tenant = tenant.to_string();
        let sql = format!(
            "SELECT {COLUMNS} FROM job_runs WHERE id IN \
             (SELECT MAX(id) FROM job_runs WHERE tenant = $1 GROUP BY job) ORDER BY job"
        );
        self.db.run(move |c| {
            Box::pin(async move {
                c.query(&sql, &[&tenant])
                    .await
                    .context("reading the latest run of each job")?
                    .iter()
                    .map(run)
                    .collect()
            })
        })
    }

    fn history(&self, tenant: &str, job: &str, limit: i64) -> Result<Vec<JobRun>> {
        let (tenant, job) = (tenant.to_string(), job.to_string());
        let sql = format!(
            "SELECT {COLUMNS} FROM job_runs WHERE tenant = $1 AND job = $2 ORDER BY id DESC LIMIT $3"
        );
        self.db.run(move |c| {
            Box::pin(async move {
                c.query(&sql, &[&tenant, &job, &limit])
                    .await
                    .context("reading a job's runs")?
                    .iter()
                    .map(run)
                    .collect()
            })
        })
    }

    fn get(&self, id: i64) -> Result<Option<JobRun>> {
        let sql = format!("SELECT {COLUMNS} FROM job_runs WHERE id = $1");
        self.db.run(move |c| {
            Box::pin(async move {
                c.query_opt(&sql, &[&id])
                    .await
                    .context("reading a run")?
                    .as_ref()
                    .map(run)
                    .transpose()
            })
        })
    }

    fn last_started(&self, tenant: &str, job: &str) -> Result<Option<String>> {
        let (tenant, job) = (tenant.to_string(), job.to_string());
        self.db.run(move |c| {
            Box::pin(async move {
                let row = c
                    .query_one(
                        "SELECT MAX(started COLLATE \"C\") FROM job_runs WHERE tenant = $1 AND job = $2",
                        &[&tenant, &job],
                    )
                    .await
                    .context("reading when a job last started")?;
                Ok(row.try_get(0)?)
            })
        })
    }
}

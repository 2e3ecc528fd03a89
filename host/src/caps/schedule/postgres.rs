//! Scheduled runs in the shared PostgreSQL store. A claim selects the due rows `FOR UPDATE SKIP
//! LOCKED` and marks them `claimed` in the same transaction: a row another host is claiming is
//! skipped, not waited for and then taken again. Times compare in the `C` collation (text order
//! is time order whatever the database's locale).

use super::{Row, ScheduleStore};
use crate::db::Postgres;
use anyhow::{Context, Result};

pub(crate) struct PostgresSchedule {
    db: Postgres,
}

impl PostgresSchedule {
    pub(crate) fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Runs one statement with two text arguments; the rows it changed.
    fn write(&self, sql: &'static str, what: &'static str, a: &str, b: String) -> Result<u64> {
        let a = a.to_string();
        self.db
            .run(move |c| Box::pin(async move { c.execute(sql, &[&a, &b]).await.context(what) }))
    }
}

fn row(r: &tokio_postgres::Row) -> Result<Row> {
    Ok((
        r.try_get(0)?,
        r.try_get(1)?,
        r.try_get(2)?,
        r.try_get(3)?,
        r.try_get(4)?,
    ))
}

impl ScheduleStore for PostgresSchedule {
    fn schedule(&self, (id, tenant, job, args, at): Row, created: String) -> Result<()> {
        self.db.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO schedules (id, tenant, job, args, run_at, created) \
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
                    &[&id, &tenant, &job, &args, &at, &created],
                )
                .await
                .context("recording a run-later")?;
                Ok(())
            })
        })
    }

    fn cancel(&self, tenant: &str, id: &str) -> Result<bool> {
        Ok(self.write(
            "UPDATE schedules SET state = 'cancelled' \
             WHERE id = $1 AND tenant = $2 AND state = 'pending'",
            "cancelling a run-later",
            id,
            tenant.to_string(),
        )? > 0)
    }

    fn due(&self, now: String) -> Result<Vec<Row>> {
        self.db.run(move |c| {
            Box::pin(async move {
                c.query(
                    "SELECT id, tenant, job, args, run_at FROM schedules \
                     WHERE state = 'pending' AND run_at COLLATE \"C\" <= $1 \
                     ORDER BY run_at COLLATE \"C\", id",
                    &[&now],
                )
                .await
                .context("reading due run-later rows")?
                .iter()
                .map(row)
                .collect()
            })
        })
    }

    fn complete(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.db.run(move |c| {
            Box::pin(async move {
                c.execute("UPDATE schedules SET state = 'done' WHERE id = $1", &[&id])
                    .await
                    .context("completing a run-later")?;
                Ok(())
            })
        })
    }

    fn pending(&self, tenant: &str) -> Result<u64> {
        let tenant = tenant.to_string();
        self.db.run(move |c| {
            Box::pin(async move {
                let n: i64 = c
                    .query_one(
                        "SELECT COUNT(*) FROM schedules \
                         WHERE tenant = $1 AND state IN ('pending', 'claimed')",
                        &[&tenant],
                    )
                    .await
                    .context("counting pending run-later rows")?
                    .try_get(0)?;
                Ok(n as u64)
            })
        })
    }

    fn claim(&self, now: String, until: String, tenants: Vec<String>) -> Result<Vec<Row>> {
        self.db.run(move |mut c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                let rows = tx
                    .query(
                        "SELECT id, tenant, job, args, run_at FROM schedules \
                         WHERE state IN ('pending', 'claimed') AND run_at COLLATE \"C\" <= $1 \
                           AND tenant = ANY($2) \
                         ORDER BY run_at COLLATE \"C\", id \
                         FOR UPDATE SKIP LOCKED",
                        &[&now, &tenants],
                    )
                    .await
                    .context("reading due run-later rows")?
                    .iter()
                    .map(row)
                    .collect::<Result<Vec<Row>>>()?;
                let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
                if !ids.is_empty() {
                    tx.execute(
                        "UPDATE schedules SET state = 'claimed', run_at = $2 WHERE id = ANY($1)",
                        &[&ids, &until],
                    )
                    .await
                    .context("marking run-later rows claimed")?;
                }
                tx.commit().await.context("claiming due run-later rows")?;
                Ok(rows)
            })
        })
    }

    fn renew(&self, id: &str, until: String) -> Result<bool> {
        Ok(self.write(
            "UPDATE schedules SET run_at = $2 WHERE id = $1 AND state = 'claimed'",
            "renewing a run-later claim",
            id,
            until,
        )? > 0)
    }

    fn release(&self, id: &str, run_at: String) -> Result<bool> {
        Ok(self.write(
            "UPDATE schedules SET state = 'pending', run_at = $2 WHERE id = $1 AND state = 'claimed'",
            "releasing a run-later claim",
            id,
            run_at,
        )? > 0)
    }
}

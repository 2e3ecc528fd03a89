//! Scheduled runs in the SQLite store. A claim is one `IMMEDIATE` transaction, so processes
//! sharing the file take turns.

use super::{Row, ScheduleStore};
use crate::db::Sqlite;
use anyhow::{Context, Result};
use rusqlite::{params, TransactionBehavior};

pub(crate) struct SqliteSchedule {
    db: Sqlite,
}

impl SqliteSchedule {
    pub(crate) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

impl ScheduleStore for SqliteSchedule {
    fn schedule(&self, (id, tenant, job, args, at): Row, created: String) -> Result<()> {
        self.db
            .lock()
            .execute(
                "INSERT OR IGNORE INTO schedules (id, tenant, job, args, run_at, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, tenant, job, args, at, created],
            )
            .context("recording a run-later")?;
        Ok(())
    }

    fn cancel(&self, tenant: &str, id: &str) -> Result<bool> {
        let changed = self
            .db
            .lock()
            .execute(
                "UPDATE schedules SET state = 'cancelled' WHERE id = ?1 AND tenant = ?2 AND state = 'pending'",
                params![id, tenant],
            )
            .context("cancelling a run-later")?;
        Ok(changed > 0)
    }

    fn due(&self, now: String) -> Result<Vec<Row>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, tenant, job, args, run_at FROM schedules WHERE state = 'pending' AND run_at <= ?1 ORDER BY run_at, id",
        )?;
        let rows = stmt.query_map(params![now], row)?;
        rows.collect::<Result<_, _>>()
            .context("reading due run-later rows")
    }

    fn complete(&self, id: &str) -> Result<()> {
        self.db
            .lock()
            .execute(
                "UPDATE schedules SET state = 'done' WHERE id = ?1",
                params![id],
            )
            .context("completing a run-later")?;
        Ok(())
    }

    fn pending(&self, tenant: &str) -> Result<u64> {
        self.db
            .lock()
            .query_row(
                "SELECT COUNT(*) FROM schedules WHERE tenant = ?1 AND state IN ('pending', 'claimed')",
                params![tenant],
                |r| r.get(0),
            )
            .context("counting pending run-later rows")
    }

    fn claim(&self, now: String, until: String, tenants: Vec<String>) -> Result<Vec<Row>> {
        let mut conn = self.db.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<Row> = {
            let mut stmt = tx.prepare_cached(
                "SELECT id, tenant, job, args, run_at FROM schedules
                 WHERE state IN ('pending', 'claimed') AND run_at <= ?1 ORDER BY run_at, id",
            )?;
            let rows = stmt.query_map(params![now], row)?;
            rows.filter(|r| r.as_ref().map_or(true, |r| tenants.contains(&r.1)))
                .collect::<Result<_, _>>()?
        };
        for (id, ..) in &rows {
            tx.execute(
                "UPDATE schedules SET state = 'claimed', run_at = ?2 WHERE id = ?1",
                params![id, until],
            )?;
        }
        tx.commit().context("claiming due run-later rows")?;
        Ok(rows)
    }

    fn renew(&self, id: &str, until: String) -> Result<bool> {
        Ok(self
            .db
            .lock()
            .execute(
                "UPDATE schedules SET run_at = ?2 WHERE id = ?1 AND state = 'claimed'",
                params![id, until],
            )
            .context("renewing a run-later claim")?
            > 0)
    }

    fn release(&self, id: &str, run_at: String) -> Result<bool> {
        Ok(self
            .db
            .lock()
            .execute(
                "UPDATE schedules SET state = 'pending', run_at = ?2 WHERE id = ?1 AND state = 'claimed'",
                params![id, run_at],
            )
            .context("releasing a run-later claim")?
            > 0)
    }
}

//! The error ledger in the SQLite store.

use super::super::runs::stamp;
use super::RUN_RECORD;
use super::{
    failure, only_entry, reclaimed, Claimed, Entry, LedgerError, LedgerStore, LedgerUpdate,
};
use crate::db::Sqlite;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;

pub(crate) struct SqliteLedger {
    db: Sqlite,
}

impl SqliteLedger {
    pub(crate) fn new(db: Sqlite) -> Self {
        Self { db }
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

impl LedgerStore for SqliteLedger {
    fn record(
        &self,
        tenant: &str,
        job: &str,
        entries: Vec<Entry>,
        now: DateTime<Utc>,
    ) -> Result<LedgerUpdate> {
        let mut conn = self.db.lock();
        let tx = conn.transaction()?;
        let mut update = LedgerUpdate::default();
        for r in entries {
            if r.failed {
                let existing: Option<(i64, String)> = tx
                    .query_row(
                        "SELECT attempts, state FROM errors WHERE tenant = ?1 AND job = ?2 AND entity = ?3 AND record_id = ?4",
                        params![tenant, job, r.entity, r.record_id],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .optional()?;
                let f = failure(existing, &r, job, now);
                tx.execute(
                    "INSERT INTO errors (tenant, job, entity, record_id, code, detail, retryable, attempts, first_seen, last_seen, next_retry, state)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)
                     ON CONFLICT (tenant, job, entity, record_id) DO UPDATE SET
                        code = excluded.code, detail = excluded.detail, retryable = excluded.retryable,
                        attempts = excluded.attempts, last_seen = excluded.last_seen,
                        next_retry = excluded.next_retry, state = excluded.state,
                        first_seen = CASE WHEN errors.state = 'resolved' THEN excluded.first_seen ELSE errors.first_seen END",
                    params![tenant, job, r.entity, r.record_id, r.code, r.detail, r.retryable, f.attempts, stamp(now), f.next_retry, f.state],
                )
                .context("recording a failure in the error ledger")?;
                update.failed += 1;
                if f.exhausted {
                    update.exhausted.push((r.entity, r.record_id, r.detail));
                }
            } else {
                update.resolved += tx
                    .execute(
                        "UPDATE errors SET state = 'resolved', next_retry = NULL, last_seen = ?5
                         WHERE tenant = ?1 AND job = ?2 AND entity = ?3 AND record_id = ?4 AND state = 'open'",
                        params![tenant, job, r.entity, r.record_id, stamp(now)],
                    )
                    .context("resolving an error")?;
            }
        }
        tx.commit()
            .context("committing a run's outcomes to the error ledger")?;
        Ok(update)
    }

    fn resolve_run(&self, tenant: &str, job: &str, now: String) -> Result<usize> {
        self.db
            .lock()
            .execute(
                "UPDATE errors SET state = 'resolved', next_retry = NULL, last_seen = ?4
                 WHERE tenant = ?1 AND job = ?2 AND record_id = ?3 AND state = 'open'",
                params![tenant, job, RUN_RECORD, now],
            )
            .context("resolving a run's failure")
    }

    fn claim_due(&self, now: DateTime<Utc>, tenants: Option<&[String]>) -> Result<Vec<Claimed>> {
        let tenants = crate::db::sqlite::tenant_list(tenants);
        let mut conn = self.db.lock();
        let tx = conn.transaction()?;
        let rows: Vec<(i64, String, String, String, i64)> = {
            let mut stmt = tx.prepare(
                "SELECT id, tenant, job, entity, record_id, attempts FROM errors
                 WHERE state = 'open' AND retryable = 1 AND next_retry IS NOT NULL AND next_retry <= ?1
                   AND (?2 IS NULL OR tenant IN (SELECT value FROM json_each(?2)))
                 ORDER BY tenant, job, id",
            )?;
            let rows = stmt.query_map(params![stamp(now), tenants], |row| {
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
        let mut claimed = Vec::with_capacity(rows.len());
        for (id, tenant, job, record_id, attempts) in rows {
            tx.execute(
                "UPDATE errors SET next_retry = ?2 WHERE id = ?1",
                params![id, reclaimed(attempts, now)],
            )?;
            claimed.push((tenant, job, record_id));
        }
        tx.commit().context("claiming due retries")?;
        Ok(claimed)
    }

    fn list(&self, tenant: Option<&str>, state: Option<&str>) -> Result<Vec<LedgerError>> {
        self.select(
            "WHERE (?1 IS NULL OR tenant = ?1) AND (?2 IS NULL OR state = ?2) ORDER BY id DESC",
            params![tenant, state],
        )
    }

    fn get(&self, id: i64) -> Result<Option<LedgerError>> {
        Ok(self
            .select("WHERE id = ?1", params![id])?
            .into_iter()
            .next())
    }

    fn dismiss(&self, id: i64, now: String) -> Result<bool> {
        Ok(self
            .db
            .lock()
            .execute(
                "UPDATE errors SET state = 'dismissed', next_retry = NULL, last_seen = ?2 WHERE id = ?1",
                params![id, now],
            )
            .context("dismissing an error")?
            > 0)
    }

    fn open_counts(&self) -> Result<BTreeMap<String, u64>> {
        let conn = self.db.lock();
        let mut stmt = conn
            .prepare("SELECT tenant, COUNT(*) FROM errors WHERE state = 'open' GROUP BY tenant")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

//! The error ledger in the shared PostgreSQL store. Claiming due retries locks the rows it takes
//! (`FOR UPDATE SKIP LOCKED`) and moves their next retry in the same transaction, so hosts
//! ticking together split the due retries instead of each running them all. Stamps compare in
//! the `C` collation: their text order is their time order whatever the database's locale.

use super::super::runs::stamp;
use super::RUN_RECORD;
use super::{
    failure, only_entry, reclaimed, Claimed, Entry, LedgerError, LedgerStore, LedgerUpdate,
};
use crate::db::Postgres;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

const COLUMNS: &str = "id, tenant, job, entity, record_id, code, detail, retryable, attempts, \
                       first_seen, last_seen, next_retry, state";

pub(crate) struct PostgresLedger {
    db: Postgres,
}

fn ledger_error(row: &Row) -> Result<LedgerError> {
    Ok(LedgerError {
        id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        job: row.try_get(2)?,
        entity: row.try_get(3)?,
        record_id: row.try_get(4)?,
        code: row.try_get(5)?,
        detail: row.try_get(6)?,
        retryable: row.try_get::<_, i64>(7)? != 0,
        attempts: row.try_get(8)?,
        first_seen: row.try_get(9)?,
        last_seen: row.try_get(10)?,
        next_retry: row.try_get(11)?,
        state: row.try_get(12)?,
    })
}

impl PostgresLedger {
    pub(crate) fn new(db: Postgres) -> Self {
        Self { db }
    }

    fn select(
        &self,
        filter: &'static str,
        args: Vec<Box<dyn ToSql + Sync + Send>>,
    ) -> Result<Vec<LedgerError>> {
        self.db.run(move |c| {
            Box::pin(async move {
                let refs: Vec<&(dyn ToSql + Sync)> = args
                    .iter()
                    .map(|a| a.as_ref() as &(dyn ToSql + Sync))
                    .collect();
                c.query(&format!("SELECT {COLUMNS} FROM errors {filter}"), &refs)
                    .await
                    .context("reading the error ledger")?
                    .iter()
                    .map(ledger_error)
                    .collect()
            })
        })
    }
}

impl LedgerStore for PostgresLedger {
    fn record(
        &self,
        tenant: &str,
        job: &str,
        entries: Vec<Entry>,
        now: DateTime<Utc>,
    ) -> Result<LedgerUpdate> {
        let (tenant, job) = (tenant.to_string(), job.to_string());
        self.db.run(move |mut c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                let seen = stamp(now);
                let mut update = LedgerUpdate::default();
                for r in entries {
                    if r.failed {
                        let existing = tx
                            .query_opt(
                                "SELECT attempts, state FROM errors \
                                 WHERE tenant = $1 AND job = $2 AND entity = $3 AND record_id = $4 \
                                 FOR UPDATE",
                                &[&tenant, &job, &r.entity, &r.record_id],
                            )
                            .await
                            .context("reading a ledger row")?
                            .map(|row| -> Result<(i64, String)> {
                                Ok((row.try_get(0)?, row.try_get(1)?))
                            })
                            .transpose()?;
                        let f = failure(existing, &r, &job, now);
                        tx.execute(
                            "INSERT INTO errors (tenant, job, entity, record_id, code, detail, retryable, attempts, first_seen, last_seen, next_retry, state)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11)
                             ON CONFLICT (tenant, job, entity, record_id) DO UPDATE SET
                                code = excluded.code, detail = excluded.detail, retryable = excluded.retryable,
                                attempts = excluded.attempts, last_seen = excluded.last_seen,
                                next_retry = excluded.next_retry, state = excluded.state,
                                first_seen = CASE WHEN errors.state = 'resolved' THEN excluded.first_seen ELSE errors.first_seen END",
                            &[
                                &tenant,
                                &job,
                                &r.entity,
                                &r.record_id,
                                &r.code,
                                &r.detail,
                                &i64::from(r.retryable),
                                &f.attempts,
                                &seen,
                                &f.next_retry,
                                &f.state,
                            ],
                        )
                        .await
                        .context("recording a failure in the error ledger")?;
                        update.failed += 1;
                        if f.exhausted {
                            update.exhausted.push((r.entity, r.record_id, r.detail));
                        }
                    } else {
                        update.resolved += tx
                            .execute(
                                "UPDATE errors SET state = 'resolved', next_retry = NULL, last_seen = $5 \
                                 WHERE tenant = $1 AND job = $2 AND entity = $3 AND record_id = $4 AND state = 'open'",
                                &[&tenant, &job, &r.entity, &r.record_id, &seen],
                            )
                            .await
                            .context("resolving an error")? as usize;
                    }
                }
                tx.commit()
                    .await
                    .context("committing a run's outcomes to the error ledger")?;
                Ok(update)
            })
        })
    }

    fn resolve_run(&self, tenant: &str, job: &str, now: String) -> Result<usize> {
        let (tenant, job) = (tenant.to_string(), job.to_string());
        self.db.run(move |c| {
            Box::pin(async move {
                Ok(c.execute(
                    "UPDATE errors SET state = 'resolved', next_retry = NULL, last_seen = $4 \
                     WHERE tenant = $1 AND job = $2 AND record_id = $3 AND state = 'open'",
                    &[&tenant, &job, &RUN_RECORD, &now],
                )
                .await
                .context("resolving a run's failure")? as usize)
            })
        })
    }

    fn claim_due(&self, now: DateTime<Utc>, tenants: Option<&[String]>) -> Result<Vec<Claimed>> {
        let tenants: Option<Vec<String>> = tenants.map(<[String]>::to_vec);
        self.db.run(move |mut c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                let rows = tx
                    .query(
                        "SELECT id, tenant, job, entity, record_id, attempts FROM errors \
                         WHERE state = 'open' AND retryable = 1 AND next_retry IS NOT NULL \
                           AND next_retry COLLATE \"C\" <= $1 \
                           AND ($2::TEXT[] IS NULL OR tenant = ANY($2)) \
                         ORDER BY tenant, job, id \
                         FOR UPDATE SKIP LOCKED",
                        &[&stamp(now), &tenants],
                    )
                    .await
                    .context("reading due retries")?;
                let mut ids = Vec::with_capacity(rows.len());
                let mut next = Vec::with_capacity(rows.len());
                let mut claimed = Vec::with_capacity(rows.len());
                for row in &rows {
                    let attempts: i64 = row.try_get(5)?;
                    ids.push(row.try_get::<_, i64>(0)?);
                    next.push(reclaimed(attempts, now));
                    claimed.push((
                        row.try_get(1)?,
                        row.try_get(2)?,
                        only_entry(row.try_get(3)?, row.try_get(4)?),
                    ));
                }
                if !ids.is_empty() {
                    tx.execute(
                        "UPDATE errors SET next_retry = v.next \
                         FROM unnest($1::BIGINT[], $2::TEXT[]) AS v(id, next) \
                         WHERE errors.id = v.id",
                        &[&ids, &next],
                    )
                    .await
                    .context("moving claimed retries forward")?;
                }
                tx.commit().await.context("claiming due retries")?;
                Ok(claimed)
            })
        })
    }

    fn list(&self, tenant: Option<&str>, state: Option<&str>) -> Result<Vec<LedgerError>> {
        let (tenant, state) = (tenant.map(str::to_string), state.map(str::to_string));
        self.select(
            "WHERE ($1::TEXT IS NULL OR tenant = $1) AND ($2::TEXT IS NULL OR state = $2) ORDER BY id DESC",
            vec![Box::new(tenant), Box::new(state)],
        )
    }

    fn get(&self, id: i64) -> Result<Option<LedgerError>> {
        Ok(self
            .select("WHERE id = $1", vec![Box::new(id)])?
            .into_iter()
            .next())
    }

    fn dismiss(&self, id: i64, now: String) -> Result<bool> {
        self.db.run(move |c| {
            Box::pin(async move {
                Ok(c.execute(
                    "UPDATE errors SET state = 'dismissed', next_retry = NULL, last_seen = $2 WHERE id = $1",
                    &[&id, &now],
                )
                .await
                .context("dismissing an error")?
                    > 0)
            })
        })
    }

    fn open_counts(&self) -> Result<BTreeMap<String, u64>> {
        self.db.run(|c| {
            Box::pin(async move {
                c.query(
                    "SELECT tenant, COUNT(*) FROM errors WHERE state = 'open' GROUP BY tenant",
                    &[],
                )
                .await
                .context("counting open errors")?
                .iter()
                .map(|row| Ok((row.try_get(0)?, row.try_get::<_, i64>(1)? as u64)))
                .collect()
            })
        })
    }
}

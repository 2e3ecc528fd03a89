//! The inbox in the embedded SQLite file. The one connection's lock serialises every call, so a
//! claim's read and update are one transaction no other claim can interleave with.

use super::{parse_received, InboxItem, InboxState, InboxStore, NewBody, Persisted, COLUMNS};
use crate::db::Sqlite;
use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;

/// [`InboxStore`] over [`Sqlite`].
pub(super) struct SqliteInbox {
    db: Sqlite,
}

impl SqliteInbox {
    pub(super) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

fn item(row: &rusqlite::Row<'_>) -> rusqlite::Result<InboxItem> {
    let received: String = row.get(5)?;
    let state: String = row.get(6)?;
    Ok(InboxItem {
        id: row.get(0)?,
        tenant: row.get(1)?,
        source: row.get(2)?,
        realm: row.get(3)?,
        body: row.get(4)?,
        received: parse_received(&received),
        state: InboxState::parse(&state),
        attempts: row.get(7)?,
        last_error: row.get(8)?,
    })
}

impl InboxStore for SqliteInbox {
    fn persist(&self, new: NewBody<'_>) -> Result<Persisted> {
        // synchronous=FULL: the body is answered 200 right after this.
        let conn = self.db.lock_durable()?;
        let inserted = conn
            .execute(
                "INSERT INTO webhook_inbox (tenant, source, realm, body, body_hash, received)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tenant, source, body_hash) DO NOTHING",
                params![
                    new.tenant,
                    new.source,
                    new.realm,
                    new.body,
                    new.hash,
                    new.received
                ],
            )
            .context("storing a webhook body")?;
        let id: i64 = conn
            .query_row(
                "SELECT id FROM webhook_inbox WHERE tenant = ?1 AND source = ?2 AND body_hash = ?3",
                params![new.tenant, new.source, new.hash],
                |r| r.get(0),
            )
            .context("reading back a stored webhook body")?;
        Ok(Persisted {
            id,
            duplicate: inserted == 0,
        })
    }

    fn claim(
        &self,
        limit: i64,
        now: &str,
        until: &str,
        tenants: Option<&[String]>,
    ) -> Result<Vec<InboxItem>> {
        let tenants = crate::db::sqlite::tenant_list(tenants);
        let mut conn = self.db.lock();
        let tx = conn.transaction().context("starting a webhook claim")?;
        let items = {
            // Tenants take turns (each one's oldest row, then each one's second, ...), so a
            // flood of one tenant's webhooks cannot hold another's back; within a tenant,
            // rows keep their arrival order.
            let mut stmt = tx.prepare(&format!(
                "SELECT {COLUMNS} FROM (
                     SELECT *, ROW_NUMBER() OVER (PARTITION BY tenant ORDER BY id) AS turn
                     FROM webhook_inbox
                     WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until < ?1)
                       AND (?3 IS NULL OR tenant IN (SELECT value FROM json_each(?3))))
                 ORDER BY turn, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![now, limit, tenants], item)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
                .context("reading claimable webhook bodies")?
        };
        for it in &items {
            tx.execute(
                "UPDATE webhook_inbox SET claimed_until = ?1, attempts = attempts + 1 WHERE id = ?2",
                params![until, it.id],
            )
            .context("claiming a webhook body")?;
        }
        tx.commit().context("claiming webhook bodies")?;
        Ok(items
            .into_iter()
            .map(|mut it| {
                it.attempts += 1;
                it
            })
            .collect())
    }

    fn mark_done(&self, id: i64) -> Result<()> {
        self.db
            .lock()
            .execute(
                "UPDATE webhook_inbox SET state = 'done', claimed_until = NULL, last_error = NULL WHERE id = ?1",
                params![id],
            )
            .context("marking a webhook body done")?;
        Ok(())
    }

    fn mark_failed(&self, id: i64, reason: &str) -> Result<()> {
        self.db
            .lock()
            .execute(
                "UPDATE webhook_inbox SET state = 'failed', claimed_until = NULL, last_error = ?2 WHERE id = ?1",
                params![id, reason],
            )
            .context("marking a webhook body failed")?;
        Ok(())
    }

    fn postpone(&self, id: i64, until: &str, reason: &str) -> Result<()> {
        self.db
            .lock()
            .execute(
                "UPDATE webhook_inbox SET claimed_until = ?2, last_error = ?3 WHERE id = ?1 AND state = 'pending'",
                params![id, until, reason],
            )
            .context("postponing a webhook body")?;
        Ok(())
    }

    fn requeue(&self, id: i64) -> Result<bool> {
        let n = self
            .db
            .lock()
            .execute(
                "UPDATE webhook_inbox SET state = 'pending', claimed_until = NULL WHERE id = ?1 AND state = 'failed'",
                params![id],
            )
            .context("requeueing a webhook body")?;
        Ok(n == 1)
    }

    fn get(&self, id: i64) -> Result<Option<InboxItem>> {
        self.db
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM webhook_inbox WHERE id = ?1"),
                params![id],
                item,
            )
            .optional()
            .context("reading a webhook body")
    }

    fn list(&self, tenant: Option<&str>) -> Result<Vec<InboxItem>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM webhook_inbox WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![tenant], item)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .context("listing webhook bodies")
    }

    fn count_by_tenant(&self, state: InboxState) -> Result<BTreeMap<String, u64>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT tenant, COUNT(*) FROM webhook_inbox WHERE state = ?1 GROUP BY tenant",
        )?;
        let rows = stmt.query_map(params![state.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (tenant, n) = row.context("counting webhook bodies")?;
            out.insert(tenant, u64::try_from(n).unwrap_or(0));
        }
        Ok(out)
    }

    fn depth_of(&self, tenant: &str) -> Result<u64> {
        let n: i64 = self
            .db
            .lock()
            .query_row(
                "SELECT COUNT(*) FROM webhook_inbox WHERE state = 'pending' AND tenant = ?1",
                params![tenant],
                |r| r.get(0),
            )
            .context("counting a tenant's pending webhook bodies")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

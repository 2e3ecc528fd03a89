//! The `alerts` table in the embedded SQLite file.

use super::{went_out, Alert, AlertStore, NewAlert, Unnotified};
use crate::db::Sqlite;
use anyhow::{Context, Result};
use rusqlite::params;

/// [`AlertStore`] over [`Sqlite`].
pub(super) struct SqliteAlerts {
    db: Sqlite,
}

impl SqliteAlerts {
    pub(super) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

impl AlertStore for SqliteAlerts {
    fn raise(&self, alert: NewAlert<'_>) -> Result<bool> {
        let added = self
            .db
            .lock()
            .execute(
                "INSERT INTO alerts (tenant, key, kind, message, raised) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (tenant, key) WHERE cleared IS NULL DO NOTHING",
                params![
                    alert.tenant,
                    alert.key,
                    alert.kind.as_str(),
                    alert.message,
                    alert.raised
                ],
            )
            .context("raising an alert")?;
        Ok(added > 0)
    }

    fn clear(&self, tenant: &str, key: &str, at: &str) -> Result<()> {
        self.db
            .lock()
            .execute(
                "UPDATE alerts SET cleared = ?3 WHERE tenant = ?1 AND key = ?2 AND cleared IS NULL",
                params![tenant, key, at],
            )
            .context("clearing an alert")?;
        Ok(())
    }

    fn clear_stale(&self, tenant: &str, at: &str, today: &str) -> Result<()> {
        let conn = self.db.lock();
        // Key `exhausted:<job>\u{1f}<entity>\u{1f}<record>`.
        conn.execute(
            "UPDATE alerts SET cleared = ?2 WHERE tenant = ?1 AND cleared IS NULL AND kind = 'retries-exhausted'
             AND NOT EXISTS (SELECT 1 FROM errors e WHERE e.tenant = alerts.tenant AND e.state = 'open'
                 AND 'exhausted:' || e.job || char(31) || e.entity || char(31) || e.record_id = alerts.key)",
            params![tenant, at],
        )
        .context("clearing alerts of records no longer open")?;
        conn.execute(
            "UPDATE alerts SET cleared = ?2 WHERE tenant = ?1 AND cleared IS NULL AND kind = 'quota-reserve' AND key <> ?3",
            params![tenant, at, today],
        )
        .context("clearing quota alerts of earlier days")?;
        Ok(())
    }

    fn open(&self, tenant: &str) -> Result<Vec<Alert>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT kind, message, raised, notified FROM alerts WHERE tenant = ?1 AND cleared IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map(params![tenant], |r| {
            Ok(Alert {
                kind: r.get(0)?,
                message: r.get(1)?,
                raised: r.get(2)?,
                notified: went_out(r.get::<_, Option<String>>(3)?.as_deref()),
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .context("listing open alerts")
    }

    fn unnotified(&self) -> Result<Vec<Unnotified>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT id, tenant, message FROM alerts WHERE cleared IS NULL AND notified IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Unnotified {
                id: r.get(0)?,
                tenant: r.get(1)?,
                message: r.get(2)?,
            })
        })?;
        rows.collect::<rusqlite::Result<_>>()
            .context("listing alerts to post")
    }

    fn claim_post(&self, id: i64, marker: &str) -> Result<bool> {
        let claimed = self
            .db
            .lock()
            .execute(
                "UPDATE alerts SET notified = ?2 WHERE id = ?1 AND notified IS NULL",
                params![id, marker],
            )
            .context("claiming an alert's post")?;
        Ok(claimed > 0)
    }

    fn set_notified(&self, id: i64, notified: Option<&str>) -> Result<()> {
        self.db
            .lock()
            .execute(
                "UPDATE alerts SET notified = ?2 WHERE id = ?1",
                params![id, notified],
            )
            .context("recording an alert's post")?;
        Ok(())
    }
}

//! The vault's rows in the SQLite store: one process owns the file, so a refresh needs no lock
//! here beyond the broker's own (one refresh per connection at a time). The store's one
//! connection is never held across a token endpoint call: every other part of the host would
//! wait for it.

use super::{BoxFuture, ConnectionState, EventRow, RenewUnderLock, Sealed, VaultStore};
use crate::db::Sqlite;
use anyhow::Result;
use rusqlite::{params, OptionalExtension};

/// The vault over a SQLite store.
#[derive(Clone)]
pub(super) struct SqliteVault {
    db: Sqlite,
}

impl SqliteVault {
    pub(super) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

impl VaultStore for SqliteVault {
    fn key_check(&self) -> Result<Option<Sealed>> {
        Ok(self
            .db
            .lock()
            .query_row(
                "SELECT nonce, ciphertext FROM auth_key_check WHERE id = 1",
                [],
                |r| {
                    Ok(Sealed {
                        nonce: r.get(0)?,
                        ciphertext: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn add_key_check(&self, check: &Sealed) -> Result<bool> {
        let added = self.db.lock().execute(
            "INSERT OR IGNORE INTO auth_key_check (id, nonce, ciphertext) VALUES (1, ?1, ?2)",
            params![check.nonce, check.ciphertext],
        )?;
        Ok(added == 1)
    }

    fn tokens(&self, tenant: &str, connection: &str) -> Result<Option<Sealed>> {
        Ok(self
            .db
            .lock()
            .query_row(
                "SELECT nonce, ciphertext FROM tokens WHERE tenant = ?1 AND connection = ?2",
                params![tenant, connection],
                |r| {
                    Ok(Sealed {
                        nonce: r.get(0)?,
                        ciphertext: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn put_tokens(&self, tenant: &str, connection: &str, sealed: &Sealed, now: &str) -> Result<()> {
        // A rotated refresh token replaces the old one at Intuit: losing it to a power cut
        // would lock the tenant out until someone reconnects.
        let mut conn = self.db.lock_durable()?;
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO tokens (tenant, connection, nonce, ciphertext, updated)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, connection) DO UPDATE
             SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated = excluded.updated",
            params![tenant, connection, sealed.nonce, sealed.ciphertext, now],
        )?;
        tx.execute(
            "INSERT INTO auth_connections (tenant, connection, state, reason, updated)
             VALUES (?1, ?2, ?3, NULL, ?4)
             ON CONFLICT (tenant, connection) DO UPDATE
             SET state = excluded.state, reason = NULL, updated = excluded.updated",
            params![tenant, connection, ConnectionState::Connected.as_str(), now],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn state(&self, tenant: &str, connection: &str) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .db
            .lock()
            .query_row(
                "SELECT state, reason FROM auth_connections WHERE tenant = ?1 AND connection = ?2",
                params![tenant, connection],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    fn mark_needs_reconnect(
        &self,
        tenant: &str,
        connection: &str,
        reason: &str,
        now: &str,
    ) -> Result<bool> {
        let mut conn = self.db.lock();
        let tx = conn.transaction()?;
        let current: Option<String> = tx
            .query_row(
                "SELECT state FROM auth_connections WHERE tenant = ?1 AND connection = ?2",
                params![tenant, connection],
                |r| r.get(0),
            )
            .optional()?;
        if current.as_deref() == Some(ConnectionState::NeedsReconnect.as_str()) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO auth_connections (tenant, connection, state, reason, updated)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, connection) DO UPDATE
             SET state = excluded.state, reason = excluded.reason, updated = excluded.updated",
            params![
                tenant,
                connection,
                ConnectionState::NeedsReconnect.as_str(),
                reason,
                now
            ],
        )?;
        tx.execute(
            "INSERT INTO auth_events (tenant, connection, kind, detail, at)
             VALUES (?1, ?2, 'needs_reconnect', ?3, ?4)",
            params![tenant, connection, reason, now],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn events(&self, tenant: Option<&str>) -> Result<Vec<EventRow>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT tenant, connection, kind, detail, at FROM auth_events
             WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![tenant], |r| {
            Ok(EventRow {
                tenant: r.get(0)?,
                connection: r.get(1)?,
                kind: r.get(2)?,
                detail: r.get(3)?,
                at: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn renew_locked(
        &self,
        tenant: &str,
        connection: &str,
        renew: RenewUnderLock,
    ) -> BoxFuture<Result<()>> {
        let this = self.clone();
        let (tenant, connection) = (tenant.to_string(), connection.to_string());
        Box::pin(async move {
            let current = this.tokens(&tenant, &connection)?;
            if let Some(write) = renew(current).await {
                this.put_tokens(&tenant, &connection, &write.sealed, &write.updated)?;
            }
            Ok(())
        })
    }
}

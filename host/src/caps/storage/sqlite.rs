//! The durable key-value backend on the host's SQLite store.

use super::{KeyValueBackend, LIST_PAGE};
use crate::db::{Database, Sqlite};
use anyhow::{bail, Result};
use rusqlite::{params, OptionalExtension};

/// Key-value state in the `kv` table of the host's SQLite store.
#[derive(Clone)]
pub struct SqliteBackend {
    db: Database,
}

impl SqliteBackend {
    /// A backend over `db`, a SQLite store ([`super::backend_for`] picks the backend of any
    /// store).
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    fn sqlite(&self) -> Result<&Sqlite> {
        match self.db.sqlite() {
            Some(db) => Ok(db),
            None => bail!("the SQLite key-value backend was given a PostgreSQL store"),
        }
    }
}

impl KeyValueBackend for SqliteBackend {
    fn get(&self, tenant: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .sqlite()?
            .lock()
            .prepare_cached("SELECT value FROM kv WHERE tenant = ?1 AND bucket = ?2 AND key = ?3")?
            .query_row(params![tenant, bucket, key], |row| row.get(0))
            .optional()?)
    }

    fn set(&self, tenant: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        self.sqlite()?
            .lock()
            .prepare_cached("INSERT INTO kv (tenant, bucket, key, value) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (tenant, bucket, key) DO UPDATE SET value = excluded.value")?
            .execute(params![tenant, bucket, key, value])?;
        Ok(())
    }

    fn set_fenced(
        &self,
        tenant: &str,
        bucket: &str,
        key: &str,
        value: &[u8],
        fence: &super::Fence,
    ) -> Result<bool> {
        // The hold is checked in the statement that writes: the connection's lock keeps any
        // claim of the tenant by another process out between the two.
        let written = self
            .sqlite()?
            .lock()
            .prepare_cached(
                "INSERT INTO kv (tenant, bucket, key, value)
             SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM tenant_owners
                 WHERE tenant = ?1 AND holder = ?5 AND fence = ?6 AND expires > ?7)
             ON CONFLICT (tenant, bucket, key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![
                tenant,
                bucket,
                key,
                value,
                fence.host,
                fence.token,
                chrono::Utc::now().timestamp_millis()
            ])?;
        Ok(written > 0)
    }

    fn delete_fenced(
        &self,
        tenant: &str,
        bucket: &str,
        key: &str,
        fence: &super::Fence,
    ) -> Result<bool> {
        let db = self.sqlite()?;
        let conn = db.lock();
        let holds = conn
            .prepare_cached(
                "SELECT 1 FROM tenant_owners
                 WHERE tenant = ?1 AND holder = ?2 AND fence = ?3 AND expires > ?4",
            )?
            .exists(params![
                tenant,
                fence.host,
                fence.token,
                chrono::Utc::now().timestamp_millis()
            ])?;
        if holds {
            conn.prepare_cached("DELETE FROM kv WHERE tenant = ?1 AND bucket = ?2 AND key = ?3")?
                .execute(params![tenant, bucket, key])?;
        }
        Ok(holds)
    }

    fn delete(&self, tenant: &str, bucket: &str, key: &str) -> Result<()> {
        self.sqlite()?
            .lock()
            .prepare_cached("DELETE FROM kv WHERE tenant = ?1 AND bucket = ?2 AND key = ?3")?
            .execute(params![tenant, bucket, key])?;
        Ok(())
    }

    fn list_keys(
        &self,
        tenant: &str,
        bucket: &str,
        cursor: u64,
    ) -> Result<(Vec<String>, Option<u64>)> {
        let conn = self.sqlite()?.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT key FROM kv WHERE tenant = ?1 AND bucket = ?2 ORDER BY key LIMIT ?3 OFFSET ?4",
        )?;
        let keys: Vec<String> = stmt
            .query_map(
                params![tenant, bucket, LIST_PAGE as i64 + 1, cursor as i64],
                |row| row.get(0),
            )?
            .collect::<Result<_, _>>()?;
        Ok(super::memory::page(keys, cursor))
    }
}

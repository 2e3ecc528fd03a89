//! The embedded backend: one SQLite file in WAL mode holding every tenant's key-value state and
//! the host's own tables. `synchronous=NORMAL` in WAL mode survives a killed process (kill -9)
//! without losing a committed transaction; only an OS crash or power loss can drop the last few.
//! The writes that must survive power loss too, because the other side has been told they are
//! done (a webhook answered 200, a refresh token rotated by Intuit), go through
//! [`Sqlite::lock_durable`]: `synchronous=FULL`, an fsync of the WAL at their commit.

use anyhow::{Context, Result};
use rusqlite::Connection;
use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

/// `tenants` as one statement parameter, a JSON array that `tenant IN (SELECT value FROM
/// json_each(?))` reads (SQLite binds no lists); `None` (every tenant) stays NULL.
pub fn tenant_list(tenants: Option<&[String]>) -> Option<String> {
    tenants.map(|t| serde_json::Value::from(t.to_vec()).to_string())
}

/// A shared handle to the SQLite store. Cloning shares the connection.
#[derive(Clone)]
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
}

impl Sqlite {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        let conn = Connection::open(path).with_context(|| format!("opening {}", path.display()))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Self::init(conn)
    }

    /// A private in-memory store (tests, `ledgerlink call`).
    pub fn in_memory() -> Result<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> Result<Self> {
        super::migrations::apply_sqlite(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Whether the store has table `name` (one the part of the host that creates it may not
    /// have opened yet).
    pub fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
        conn.prepare_cached("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?
            .exists([name])
    }

    /// The schema version the store is at.
    pub fn schema_version(&self) -> Result<u32> {
        super::migrations::sqlite_version(&self.lock())
    }

    /// The connection, locked. A poisoned lock is recovered: SQLite keeps its own consistency.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The connection, locked, with `synchronous=FULL` until the guard is dropped: what is
    /// committed through it survives power loss, not only a killed process.
    pub fn lock_durable(&self) -> Result<DurableConnection<'_>> {
        let conn = self.lock();
        conn.pragma_update(None, "synchronous", "FULL")
            .context("asking for synchronous=FULL")?;
        Ok(DurableConnection { conn })
    }
}

/// A locked connection at `synchronous=FULL`; back to `NORMAL` when dropped.
pub struct DurableConnection<'a> {
    conn: MutexGuard<'a, Connection>,
}

impl Deref for DurableConnection<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl DerefMut for DurableConnection<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

impl Drop for DurableConnection<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.conn.pragma_update(None, "synchronous", "NORMAL") {
            tracing::error!(error = %e, "could not return the store to synchronous=NORMAL");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synchronous(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_durable_lock_is_full_while_held_and_normal_after() {
        let dir = tempfile::tempdir().unwrap();
        let db = Sqlite::open(&dir.path().join("ledgerlink.db")).unwrap();
        // SQLite's levels: 1 NORMAL, 2 FULL.
        assert_eq!(synchronous(&db.lock()), 1);
        {
            let conn = db.lock_durable().unwrap();
            assert_eq!(synchronous(&conn), 2);
        }
        assert_eq!(synchronous(&db.lock()), 1);
    }
}

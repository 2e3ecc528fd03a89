//! The host's durable store: one SQLite file in WAL mode holding every tenant's key-value state
//! and the host's own tables. `synchronous=NORMAL` in WAL mode survives a killed process (kill -9)
//! without losing a committed transaction; only an OS crash or power loss can drop the last few.

use anyhow::{Context, Result};
use rusqlite::Connection;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS kv (
    tenant TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key    TEXT NOT NULL,
    value  BLOB NOT NULL,
    PRIMARY KEY (tenant, bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS schedules (
    id      TEXT PRIMARY KEY,
    tenant  TEXT NOT NULL,
    job     TEXT NOT NULL,
    args    TEXT NOT NULL,
    run_at  TEXT NOT NULL,
    state   TEXT NOT NULL DEFAULT 'pending',
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS schedules_due ON schedules (state, run_at);
";

/// A shared handle to the store. Cloning shares the connection.
#[derive(Clone)]
pub struct Database {
    conn: Arc<Mutex<Connection>>,
}

impl Database {
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

    fn init(conn: Connection) -> Result<Self> {
        conn.execute_batch(SCHEMA).context("creating the schema")?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The connection, locked. A poisoned lock is recovered: SQLite keeps its own consistency.
    pub fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

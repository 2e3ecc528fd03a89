//! Spent budgets in the SQLite store.

use super::SpentStore;
use crate::db::Sqlite;
use anyhow::Result;
use rusqlite::{params, OptionalExtension};

pub(crate) struct SqliteSpent {
    db: Sqlite,
}

impl SqliteSpent {
    pub(crate) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

impl SpentStore for SqliteSpent {
    fn save(&self, tenant: &str, connection: &str, spent: &str, saved: i64) -> Result<()> {
        self.db.lock().execute(
            "INSERT INTO pacing_spent (tenant, connection, spent, saved) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant, connection) DO UPDATE SET spent = ?3, saved = ?4",
            params![tenant, connection, spent, saved],
        )?;
        Ok(())
    }

    fn load(&self, tenant: &str, connection: &str) -> Result<Option<(String, i64)>> {
        Ok(self
            .db
            .lock()
            .query_row(
                "SELECT spent, saved FROM pacing_spent WHERE tenant = ?1 AND connection = ?2",
                params![tenant, connection],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }
}

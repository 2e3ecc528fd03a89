//! Retention's deletes in the embedded SQLite file.

use super::{RetentionStore, Rule};
use crate::db::Sqlite;
use anyhow::{Context, Result};
use rusqlite::params;

/// [`RetentionStore`] over [`Sqlite`].
pub(super) struct SqliteRetention {
    db: Sqlite,
}

impl SqliteRetention {
    pub(super) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

impl RetentionStore for SqliteRetention {
    fn delete_finished(&self, rule: Rule, cutoff: &str) -> Result<usize> {
        let Rule {
            table,
            finished,
            time,
        } = rule;
        self.db
            .lock()
            .execute(
                &format!("DELETE FROM {table} WHERE {finished} AND {time} < ?1"),
                params![cutoff],
            )
            .with_context(|| format!("purging finished rows of {table}"))
    }
}

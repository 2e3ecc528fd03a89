//! `pubsub_replays` in the embedded SQLite file.

use super::ReplayStore;
use crate::db::Sqlite;
use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension};

/// [`ReplayStore`] over [`Sqlite`].
pub(super) struct SqliteReplays {
    db: Sqlite,
}

impl SqliteReplays {
    pub(super) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

impl ReplayStore for SqliteReplays {
    fn get(&self, tenant: &str, topic: &str) -> Result<Option<Vec<u8>>> {
        self.db
            .lock()
            .query_row(
                "SELECT replay_id FROM pubsub_replays WHERE tenant = ?1 AND topic = ?2",
                params![tenant, topic],
                |r| r.get(0),
            )
            .optional()
            .context("reading a Pub/Sub replay id")
    }

    fn put(&self, tenant: &str, topic: &str, replay_id: &[u8], updated: &str) -> Result<()> {
        self.db
            .lock()
            .execute(
                "INSERT INTO pubsub_replays (tenant, topic, replay_id, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (tenant, topic) DO UPDATE SET replay_id = ?3, updated = ?4",
                params![tenant, topic, replay_id, updated],
            )
            .context("storing a Pub/Sub replay id")?;
        Ok(())
    }

    fn forget(&self, tenant: &str, topic: &str) -> Result<()> {
        self.db
            .lock()
            .execute(
                "DELETE FROM pubsub_replays WHERE tenant = ?1 AND topic = ?2",
                params![tenant, topic],
            )
            .context("forgetting a Pub/Sub replay id")?;
        Ok(())
    }
}

//! The last replay id processed per tenant and topic, kept in the host's store: written only
//! after the component has handled the events up to it, so a restart resumes where handling
//! stopped (events after it are delivered again, which the component's idempotent writes
//! absorb), and forgotten when Salesforce no longer retains it.

use crate::db::Database;
use anyhow::{Context, Result};
use chrono::Utc;
use rusqlite::{params, OptionalExtension};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS pubsub_replays (
    tenant    TEXT NOT NULL,
    topic     TEXT NOT NULL,
    replay_id BLOB NOT NULL,
    updated   TEXT NOT NULL,
    PRIMARY KEY (tenant, topic)
) WITHOUT ROWID;
";

/// Replay ids by tenant and topic.
#[derive(Clone)]
pub struct Replays {
    db: Database,
}

impl Replays {
    /// The table in `db`, created if needed.
    pub fn new(db: Database) -> Result<Self> {
        db.lock()
            .execute_batch(SCHEMA)
            .context("creating pubsub_replays")?;
        Ok(Self { db })
    }

    /// The stored replay id, if any.
    pub fn get(&self, tenant: &str, topic: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .db
            .lock()
            .query_row(
                "SELECT replay_id FROM pubsub_replays WHERE tenant = ?1 AND topic = ?2",
                params![tenant, topic],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Stores `replay_id` as processed.
    pub fn put(&self, tenant: &str, topic: &str, replay_id: &[u8]) -> Result<()> {
        self.db.lock().execute(
            "INSERT INTO pubsub_replays (tenant, topic, replay_id, updated) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant, topic) DO UPDATE SET replay_id = ?3, updated = ?4",
            params![tenant, topic, replay_id, Utc::now().to_rfc3339()],
        )?;
        Ok(())
    }

    /// Forgets the replay id (Salesforce no longer retains it).
    pub fn forget(&self, tenant: &str, topic: &str) -> Result<()> {
        self.db.lock().execute(
            "DELETE FROM pubsub_replays WHERE tenant = ?1 AND topic = ?2",
            params![tenant, topic],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_ids_are_kept_per_tenant_and_topic() {
        let r = Replays::new(Database::in_memory().unwrap()).unwrap();
        assert_eq!(r.get("acme", "/data/AccountChangeEvent").unwrap(), None);
        r.put("acme", "/data/AccountChangeEvent", &[1, 2]).unwrap();
        r.put("acme", "/data/AccountChangeEvent", &[1, 3]).unwrap();
        r.put("zeta", "/data/AccountChangeEvent", &[9]).unwrap();
        assert_eq!(
            r.get("acme", "/data/AccountChangeEvent").unwrap(),
            Some(vec![1, 3])
        );
        r.forget("acme", "/data/AccountChangeEvent").unwrap();
        assert_eq!(r.get("acme", "/data/AccountChangeEvent").unwrap(), None);
        assert_eq!(
            r.get("zeta", "/data/AccountChangeEvent").unwrap(),
            Some(vec![9])
        );
    }
}

//! The last replay id processed per tenant and topic, kept in the host's store: written only
//! after the component has handled the events up to it, so a restart resumes where handling
//! stopped (events after it are delivered again, which the component's idempotent writes
//! absorb), and forgotten when Salesforce no longer retains it.
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | [`Replays`] and `ReplayStore` |
//! | `sqlite.rs` | `pubsub_replays` in the embedded SQLite file |
//! | `postgres.rs` | `pubsub_replays` in a PostgreSQL database |

use crate::db::{Backend, Database};
use anyhow::Result;
use chrono::Utc;
use std::sync::Arc;

mod postgres;
mod sqlite;

/// Replay ids by tenant and topic.
#[derive(Clone)]
pub struct Replays {
    store: Arc<dyn ReplayStore>,
}

/// `pubsub_replays` of one backend: one row per tenant and topic.
pub(crate) trait ReplayStore: Send + Sync {
    /// The stored replay id, if any.
    fn get(&self, tenant: &str, topic: &str) -> Result<Option<Vec<u8>>>;

    /// Inserts or replaces the row, stamped `updated` (RFC 3339).
    fn put(&self, tenant: &str, topic: &str, replay_id: &[u8], updated: &str) -> Result<()>;

    /// Deletes the row, if any.
    fn forget(&self, tenant: &str, topic: &str) -> Result<()>;
}

impl Replays {
    /// The replay ids in `db` (the table comes with the store's migrations).
    pub fn new(db: Database) -> Result<Self> {
        let store: Arc<dyn ReplayStore> = match db.backend() {
            Backend::Sqlite(db) => Arc::new(sqlite::SqliteReplays::new(db.clone())),
            Backend::Postgres(db) => Arc::new(postgres::PostgresReplays::new(db.clone())),
        };
        Ok(Self { store })
    }

    /// The stored replay id, if any.
    pub fn get(&self, tenant: &str, topic: &str) -> Result<Option<Vec<u8>>> {
        self.store.get(tenant, topic)
    }

    /// Stores `replay_id` as processed.
    pub fn put(&self, tenant: &str, topic: &str, replay_id: &[u8]) -> Result<()> {
        self.store
            .put(tenant, topic, replay_id, &Utc::now().to_rfc3339())
    }

    /// Forgets the replay id (Salesforce no longer retains it).
    pub fn forget(&self, tenant: &str, topic: &str) -> Result<()> {
        self.store.forget(tenant, topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::each_backend;

    #[test]
    fn replay_ids_are_kept_per_tenant_and_topic() {
        each_backend("replays", |db| {
            let r = Replays::new(db).unwrap();
            assert_eq!(r.get("acme", "/data/AccountChangeEvent").unwrap(), None);
            r.put("acme", "/data/AccountChangeEvent", &[1, 2]).unwrap();
            r.put("acme", "/data/AccountChangeEvent", &[1, 3]).unwrap();
            r.put("zeta", "/data/AccountChangeEvent", &[9]).unwrap();
            r.put("acme", "/data/ContactChangeEvent", &[0, 255])
                .unwrap();
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
            assert_eq!(
                r.get("acme", "/data/ContactChangeEvent").unwrap(),
                Some(vec![0, 255])
            );
            r.forget("acme", "/data/Nothing").unwrap();
        });
    }
}

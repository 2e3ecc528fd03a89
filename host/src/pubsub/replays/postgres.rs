//! `pubsub_replays` in a PostgreSQL database.

use super::ReplayStore;
use crate::db::Postgres;
use anyhow::{Context, Result};

/// [`ReplayStore`] over [`Postgres`].
pub(super) struct PostgresReplays {
    db: Postgres,
}

impl PostgresReplays {
    pub(super) fn new(db: Postgres) -> Self {
        Self { db }
    }
}

impl ReplayStore for PostgresReplays {
    fn get(&self, tenant: &str, topic: &str) -> Result<Option<Vec<u8>>> {
        let (tenant, topic) = (tenant.to_string(), topic.to_string());
        self.db
            .run(move |client| {
                Box::pin(async move {
                    let row = client
                        .query_opt(
                            "SELECT replay_id FROM pubsub_replays WHERE tenant = $1 AND topic = $2",
                            &[&tenant, &topic],
                        )
                        .await?;
                    Ok(row.map(|r| r.try_get(0)).transpose()?)
                })
            })
            .context("reading a Pub/Sub replay id")
    }

    fn put(&self, tenant: &str, topic: &str, replay_id: &[u8], updated: &str) -> Result<()> {
        let (tenant, topic) = (tenant.to_string(), topic.to_string());
        let (replay_id, updated) = (replay_id.to_vec(), updated.to_string());
        self.db
            .run(move |client| {
                Box::pin(async move {
                    client
                        .execute(
                            "INSERT INTO pubsub_replays (tenant, topic, replay_id, updated)
                             VALUES ($1, $2, $3, $4)
                             ON CONFLICT (tenant, topic)
                             DO UPDATE SET replay_id = EXCLUDED.replay_id, updated = EXCLUDED.updated",
                            &[&tenant, &topic, &replay_id, &updated],
                        )
                        .await?;
                    Ok(())
                })
            })
            .context("storing a Pub/Sub replay id")
    }

    fn forget(&self, tenant: &str, topic: &str) -> Result<()> {
        let (tenant, topic) = (tenant.to_string(), topic.to_string());
        self.db
            .run(move |client| {
                Box::pin(async move {
                    client
                        .execute(
                            "DELETE FROM pubsub_replays WHERE tenant = $1 AND topic = $2",
                            &[&tenant, &topic],
                        )
                        .await?;
                    Ok(())
                })
            })
            .context("forgetting a Pub/Sub replay id")
    }
}

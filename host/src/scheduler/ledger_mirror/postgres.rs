//! What the error mirror sent, in the shared PostgreSQL store.

use super::MirrorStore;
use crate::db::Postgres;
use anyhow::{Context, Result};
use std::collections::BTreeMap;

pub(crate) struct PostgresMirror {
    db: Postgres,
}

impl PostgresMirror {
    pub(crate) fn new(db: Postgres) -> Self {
        Self { db }
    }
}

impl MirrorStore for PostgresMirror {
    fn sent(&self, tenant: &str) -> Result<BTreeMap<i64, String>> {
        let tenant = tenant.to_string();
        self.db.run(move |c| {
            Box::pin(async move {
                c.query(
                    "SELECT m.error_id, m.mirrored FROM error_mirror m \
                     JOIN errors e ON e.id = m.error_id WHERE e.tenant = $1",
                    &[&tenant],
                )
                .await
                .context("reading what the error mirror sent")?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
            })
        })
    }

    fn mark(&self, error_id: i64, fingerprint: &str) -> Result<()> {
        let fingerprint = fingerprint.to_string();
        self.db.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO error_mirror (error_id, mirrored) VALUES ($1, $2) \
                     ON CONFLICT (error_id) DO UPDATE SET mirrored = excluded.mirrored",
                    &[&error_id, &fingerprint],
                )
                .await
                .context("remembering a mirrored error")?;
                Ok(())
            })
        })
    }
}

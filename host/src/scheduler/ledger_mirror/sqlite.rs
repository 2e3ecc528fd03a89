//! What the error mirror sent, in the SQLite store.

use super::MirrorStore;
use crate::db::Sqlite;
use anyhow::{Context, Result};
use rusqlite::params;
use std::collections::BTreeMap;

pub(crate) struct SqliteMirror {
    db: Sqlite,
}

impl SqliteMirror {
    pub(crate) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

impl MirrorStore for SqliteMirror {
    fn sent(&self, tenant: &str) -> Result<BTreeMap<i64, String>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT m.error_id, m.mirrored FROM error_mirror m JOIN errors e ON e.id = m.error_id WHERE e.tenant = ?1",
        )?;
        let rows = stmt.query_map(params![tenant], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<Result<_, _>>()
            .context("reading what the error mirror sent")
    }

    fn mark(&self, error_id: i64, fingerprint: &str) -> Result<()> {
        self.db
            .lock()
            .execute(
                "INSERT INTO error_mirror (error_id, mirrored) VALUES (?1, ?2)
                 ON CONFLICT (error_id) DO UPDATE SET mirrored = excluded.mirrored",
                params![error_id, fingerprint],
            )
            .context("remembering a mirrored error")?;
        Ok(())
    }
}

//! Cron slots in the SQLite store.

use super::SlotStore;
use crate::db::Sqlite;
use anyhow::{Context, Result};
use rusqlite::{params, OptionalExtension};

pub(crate) struct SqliteSlots {
    db: Sqlite,
}

impl SqliteSlots {
    pub(crate) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

impl SlotStore for SqliteSlots {
    fn last(&self, tenant: &str, job: &str) -> Result<Option<String>> {
        self.db
            .lock()
            .query_row(
                "SELECT last_slot FROM cron_slots WHERE tenant = ?1 AND job = ?2",
                params![tenant, job],
                |row| row.get(0),
            )
            .optional()
            .context("reading a job's last cron slot")
    }

    fn set(&self, tenant: &str, job: &str, slot: String) -> Result<()> {
        self.db
            .lock()
            .execute(
                "INSERT INTO cron_slots (tenant, job, last_slot) VALUES (?1, ?2, ?3) ON CONFLICT (tenant, job) DO UPDATE SET last_slot = excluded.last_slot",
                params![tenant, job, slot],
            )
            .context("recording a cron slot")?;
        Ok(())
    }

    fn init(&self, tenant: &str, job: &str, slot: String) -> Result<bool> {
        Ok(self
            .db
            .lock()
            .execute(
                "INSERT INTO cron_slots (tenant, job, last_slot) VALUES (?1, ?2, ?3) ON CONFLICT (tenant, job) DO NOTHING",
                params![tenant, job, slot],
            )
            .context("starting a job's cron slots")?
            > 0)
    }

    fn take(&self, tenant: &str, job: &str, slot: String) -> Result<bool> {
        Ok(self
            .db
            .lock()
            .execute(
                "INSERT INTO cron_slots (tenant, job, last_slot) VALUES (?1, ?2, ?3)
                 ON CONFLICT (tenant, job) DO UPDATE SET last_slot = excluded.last_slot
                 WHERE cron_slots.last_slot < excluded.last_slot",
                params![tenant, job, slot],
            )
            .context("taking a cron slot")?
            > 0)
    }
}

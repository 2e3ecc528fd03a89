//! Tenant leases in the SQLite store: processes of one machine sharing the file.

use super::{LeaseRow, LeaseStore};
use crate::db::Sqlite;
use anyhow::Result;
use rusqlite::{params, OptionalExtension};

pub(crate) struct SqliteLeases {
    db: Sqlite,
}

impl SqliteLeases {
    pub(crate) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

impl LeaseStore for SqliteLeases {
    fn current(&self, tenant: &str) -> Result<Option<LeaseRow>> {
        Ok(self
            .db
            .lock()
            .query_row(
                "SELECT holder, job, acquired, expires FROM tenant_leases WHERE tenant = ?1",
                params![tenant],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?)
    }

    fn take(
        &self,
        tenant: &str,
        holder: &str,
        job: &str,
        now: i64,
        expires: i64,
        dead_holder: Option<&str>,
    ) -> Result<bool> {
        // One statement, so two takers racing on a free or stale row cannot both win: the
        // loser's update matches no row (the winner's expiry is in the future).
        let taken = self.db.lock().execute(
            "INSERT INTO tenant_leases (tenant, holder, job, acquired, expires)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant) DO UPDATE SET holder = ?2, job = ?3, acquired = ?4, expires = ?5
             WHERE tenant_leases.expires <= ?4 OR tenant_leases.holder = ?6",
            params![tenant, holder, job, now, expires, dead_holder],
        )?;
        Ok(taken > 0)
    }

    fn renew(&self, tenant: &str, holder: &str, expires: i64) -> Result<()> {
        self.db.lock().execute(
            "UPDATE tenant_leases SET expires = ?3 WHERE tenant = ?1 AND holder = ?2",
            params![tenant, holder, expires],
        )?;
        Ok(())
    }

    fn release(&self, tenant: &str, holder: &str) -> Result<()> {
        self.db.lock().execute(
            "DELETE FROM tenant_leases WHERE tenant = ?1 AND holder = ?2",
            params![tenant, holder],
        )?;
        Ok(())
    }
}

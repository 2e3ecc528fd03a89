//! Ownership in the SQLite store: several hosts on one machine sharing the file.

use super::{from_millis, Owner, OwnershipStore};
use crate::db::Sqlite;
use anyhow::Result;
use rusqlite::{params, OptionalExtension};
use std::collections::BTreeMap;

pub(crate) struct SqliteOwnership {
    db: Sqlite,
}

impl SqliteOwnership {
    pub(crate) fn new(db: Sqlite) -> Self {
        Self { db }
    }
}

impl OwnershipStore for SqliteOwnership {
    fn heartbeat(&self, host: &str, pid: u32, started: i64, now: i64) -> Result<()> {
        self.db.lock().execute(
            "INSERT INTO cluster_hosts (id, pid, started, heartbeat) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET pid = ?2, started = ?3, heartbeat = ?4",
            params![host, pid, started, now],
        )?;
        Ok(())
    }

    fn live_hosts(&self, since: i64) -> Result<Vec<String>> {
        let conn = self.db.lock();
        let mut stmt =
            conn.prepare_cached("SELECT id FROM cluster_hosts WHERE heartbeat > ?1 ORDER BY id")?;
        let hosts = stmt
            .query_map(params![since], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(hosts)
    }

    fn renew(&self, host: &str, now: i64, until: i64) -> Result<BTreeMap<String, i64>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare_cached(
            "UPDATE tenant_owners SET expires = ?3 WHERE holder = ?1 AND expires > ?2
             RETURNING tenant, fence",
        )?;
        let held = stmt
            .query_map(params![host, now, until], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(held)
    }

    fn claim(&self, tenant: &str, host: &str, now: i64, until: i64) -> Result<Option<i64>> {
        // One statement: of two hosts racing for a free row, the second finds it unexpired.
        Ok(self
            .db
            .lock()
            .query_row(
                "INSERT INTO tenant_owners (tenant, holder, fence, since, expires)
                 VALUES (?1, ?2, 1, ?3, ?4)
                 ON CONFLICT (tenant) DO UPDATE SET holder = ?2, fence = tenant_owners.fence + 1,
                     since = ?3, expires = ?4
                 WHERE tenant_owners.expires <= ?3 OR tenant_owners.holder = ?2
                 RETURNING fence",
                params![tenant, host, now, until],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn release(&self, tenant: &str, host: &str, fence: i64) -> Result<()> {
        self.db.lock().execute(
            "UPDATE tenant_owners SET expires = 0 WHERE tenant = ?1 AND holder = ?2 AND fence = ?3",
            params![tenant, host, fence],
        )?;
        Ok(())
    }

    fn holds(&self, tenant: &str, host: &str, fence: i64, now: i64) -> Result<bool> {
        Ok(self
            .db
            .lock()
            .prepare_cached(
                "SELECT 1 FROM tenant_owners
                 WHERE tenant = ?1 AND holder = ?2 AND fence = ?3 AND expires > ?4",
            )?
            .exists(params![tenant, host, fence, now])?)
    }

    fn owners(&self) -> Result<Vec<Owner>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT tenant, holder, fence, since, expires FROM tenant_owners ORDER BY tenant",
        )?;
        let owners = stmt
            .query_map([], |r| {
                Ok(Owner {
                    tenant: r.get(0)?,
                    holder: r.get(1)?,
                    fence: r.get(2)?,
                    since: from_millis(r.get(3)?),
                    expires: from_millis(r.get(4)?),
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(owners)
    }

    fn leave(&self, host: &str) -> Result<()> {
        self.db
            .lock()
            .execute("DELETE FROM cluster_hosts WHERE id = ?1", params![host])?;
        Ok(())
    }
}

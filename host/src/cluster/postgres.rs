//! Ownership in the shared PostgreSQL store: hosts on many machines.

use super::{from_millis, Owner, OwnershipStore};
use crate::db::Postgres;
use anyhow::Result;
use std::collections::BTreeMap;

pub(crate) struct PostgresOwnership {
    db: Postgres,
}

impl PostgresOwnership {
    pub(crate) fn new(db: Postgres) -> Self {
        Self { db }
    }
}

impl OwnershipStore for PostgresOwnership {
    fn heartbeat(&self, host: &str, pid: u32, started: i64, now: i64) -> Result<()> {
        let host = host.to_string();
        self.db.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO cluster_hosts (id, pid, started, heartbeat) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (id) DO UPDATE SET pid = $2, started = $3, heartbeat = $4",
                    &[&host, &i64::from(pid), &started, &now],
                )
                .await?;
                Ok(())
            })
        })
    }

    fn live_hosts(&self, since: i64) -> Result<Vec<String>> {
        self.db.run(move |c| {
            Box::pin(async move {
                let rows = c
                    .query(
                        "SELECT id FROM cluster_hosts WHERE heartbeat > $1 ORDER BY id",
                        &[&since],
                    )
                    .await?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })
        })
    }

    fn renew(&self, host: &str, now: i64, until: i64) -> Result<BTreeMap<String, i64>> {
        let host = host.to_string();
        self.db.run(move |c| {
            Box::pin(async move {
                let rows = c
                    .query(
                        "UPDATE tenant_owners SET expires = $3 WHERE holder = $1 AND expires > $2
                         RETURNING tenant, fence",
                        &[&host, &now, &until],
                    )
                    .await?;
                Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
            })
        })
    }

    fn claim(&self, tenant: &str, host: &str, now: i64, until: i64) -> Result<Option<i64>> {
        let (tenant, host) = (tenant.to_string(), host.to_string());
        // One statement: PostgreSQL locks the conflicting row and re-checks the WHERE, so of two
        // hosts racing for a free row, the second finds it unexpired.
        self.db.run(move |c| {
            Box::pin(async move {
                let row = c
                    .query_opt(
                        "INSERT INTO tenant_owners (tenant, holder, fence, since, expires)
                         VALUES ($1, $2, 1, $3, $4)
                         ON CONFLICT (tenant) DO UPDATE SET holder = $2,
                             fence = tenant_owners.fence + 1, since = $3, expires = $4
                         WHERE tenant_owners.expires <= $3 OR tenant_owners.holder = $2
                         RETURNING fence",
                        &[&tenant, &host, &now, &until],
                    )
                    .await?;
                Ok(row.map(|r| r.get(0)))
            })
        })
    }

    fn release(&self, tenant: &str, host: &str, fence: i64) -> Result<()> {
        let (tenant, host) = (tenant.to_string(), host.to_string());
        self.db.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "UPDATE tenant_owners SET expires = 0
                     WHERE tenant = $1 AND holder = $2 AND fence = $3",
                    &[&tenant, &host, &fence],
                )
                .await?;
                Ok(())
            })
        })
    }

    fn holds(&self, tenant: &str, host: &str, fence: i64, now: i64) -> Result<bool> {
        let (tenant, host) = (tenant.to_string(), host.to_string());
        self.db.run(move |c| {
            Box::pin(async move {
                Ok(c.query_opt(
                    "SELECT 1 FROM tenant_owners
                     WHERE tenant = $1 AND holder = $2 AND fence = $3 AND expires > $4",
                    &[&tenant, &host, &fence, &now],
                )
                .await?
                .is_some())
            })
        })
    }

    fn owners(&self) -> Result<Vec<Owner>> {
        self.db.run(move |c| {
            Box::pin(async move {
                let rows = c
                    .query(
                        "SELECT tenant, holder, fence, since, expires FROM tenant_owners
                         ORDER BY tenant",
                        &[],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| Owner {
                        tenant: r.get(0),
                        holder: r.get(1),
                        fence: r.get(2),
                        since: from_millis(r.get(3)),
                        expires: from_millis(r.get(4)),
                    })
                    .collect())
            })
        })
    }

    fn leave(&self, host: &str) -> Result<()> {
        let host = host.to_string();
        self.db.run(move |c| {
            Box::pin(async move {
                c.execute("DELETE FROM cluster_hosts WHERE id = $1", &[&host])
                    .await?;
                Ok(())
            })
        })
    }
}

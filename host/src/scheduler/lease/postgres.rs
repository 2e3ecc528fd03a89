//! Tenant leases in the shared PostgreSQL store: processes on many machines.

use super::{LeaseRow, LeaseStore};
use crate::db::Postgres;
use anyhow::Result;

pub(crate) struct PostgresLeases {
    db: Postgres,
}

impl PostgresLeases {
    pub(crate) fn new(db: Postgres) -> Self {
        Self { db }
    }
}

impl LeaseStore for PostgresLeases {
    fn current(&self, tenant: &str) -> Result<Option<LeaseRow>> {
        let tenant = tenant.to_string();
        self.db.run(move |c| {
            Box::pin(async move {
                let row = c
                    .query_opt(
                        "SELECT holder, job, acquired, expires FROM tenant_leases WHERE tenant = $1",
                        &[&tenant],
                    )
                    .await?;
                Ok(row.map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))))
            })
        })
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
        let (tenant, holder, job) = (tenant.to_string(), holder.to_string(), job.to_string());
        let dead_holder = dead_holder.map(str::to_string);
        // PostgreSQL locks the conflicting row and re-checks the WHERE: of two takers racing
        // on a free or stale row, the second finds the first's expiry in the future.
        self.db.run(move |c| {
            Box::pin(async move {
                let taken = c
                    .execute(
                        "INSERT INTO tenant_leases (tenant, holder, job, acquired, expires)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (tenant) DO UPDATE SET holder = $2, job = $3,
                             acquired = $4, expires = $5
                         WHERE tenant_leases.expires <= $4 OR tenant_leases.holder = $6",
                        &[&tenant, &holder, &job, &now, &expires, &dead_holder],
                    )
                    .await?;
                Ok(taken > 0)
            })
        })
    }

    fn renew(&self, tenant: &str, holder: &str, expires: i64) -> Result<()> {
        let (tenant, holder) = (tenant.to_string(), holder.to_string());
        self.db.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "UPDATE tenant_leases SET expires = $3 WHERE tenant = $1 AND holder = $2",
                    &[&tenant, &holder, &expires],
                )
                .await?;
                Ok(())
            })
        })
    }

    fn release(&self, tenant: &str, holder: &str) -> Result<()> {
        let (tenant, holder) = (tenant.to_string(), holder.to_string());
        self.db.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "DELETE FROM tenant_leases WHERE tenant = $1 AND holder = $2",
                    &[&tenant, &holder],
                )
                .await?;
                Ok(())
            })
        })
    }
}

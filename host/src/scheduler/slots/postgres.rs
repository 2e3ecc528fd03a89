//! Cron slots in the shared PostgreSQL store. Taking a slot is one `INSERT ... ON CONFLICT DO
//! UPDATE ... WHERE`: PostgreSQL locks the conflicting row and checks the condition against its
//! latest committed version, so of hosts asking together for the same slot exactly one sees it
//! behind and moves it. Slots compare in the `C` collation (text order is time order whatever
//! the database's locale).

use super::SlotStore;
use crate::db::Postgres;
use anyhow::{Context, Result};

pub(crate) struct PostgresSlots {
    db: Postgres,
}

impl PostgresSlots {
    pub(crate) fn new(db: Postgres) -> Self {
        Self { db }
    }

    /// Runs one write of `(tenant, job, slot)`; the rows it changed.
    fn write(
        &self,
        sql: &'static str,
        what: &'static str,
        tenant: &str,
        job: &str,
        slot: String,
    ) -> Result<u64> {
        let (tenant, job) = (tenant.to_string(), job.to_string());
        self.db.run(move |c| {
            Box::pin(async move { c.execute(sql, &[&tenant, &job, &slot]).await.context(what) })
        })
    }
}

impl SlotStore for PostgresSlots {
    fn last(&self, tenant: &str, job: &str) -> Result<Option<String>> {
        let (tenant, job) = (tenant.to_string(), job.to_string());
        self.db.run(move |c| {
            Box::pin(async move {
                c.query_opt(
                    "SELECT last_slot FROM cron_slots WHERE tenant = $1 AND job = $2",
                    &[&tenant, &job],
                )
                .await
                .context("reading a job's last cron slot")?
                .map(|row| row.try_get(0))
                .transpose()
                .context("reading a job's last cron slot")
            })
        })
    }

    fn set(&self, tenant: &str, job: &str, slot: String) -> Result<()> {
        self.write(
            "INSERT INTO cron_slots (tenant, job, last_slot) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant, job) DO UPDATE SET last_slot = excluded.last_slot",
            "recording a cron slot",
            tenant,
            job,
            slot,
        )?;
        Ok(())
    }

    fn init(&self, tenant: &str, job: &str, slot: String) -> Result<bool> {
        Ok(self.write(
            "INSERT INTO cron_slots (tenant, job, last_slot) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant, job) DO NOTHING",
            "starting a job's cron slots",
            tenant,
            job,
            slot,
        )? > 0)
    }

    fn take(&self, tenant: &str, job: &str, slot: String) -> Result<bool> {
        Ok(self.write(
            "INSERT INTO cron_slots (tenant, job, last_slot) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant, job) DO UPDATE SET last_slot = excluded.last_slot \
             WHERE cron_slots.last_slot COLLATE \"C\" < excluded.last_slot COLLATE \"C\"",
            "taking a cron slot",
            tenant,
            job,
            slot,
        )? > 0)
    }
}

//! Spent budgets in the shared PostgreSQL store.

use super::SpentStore;
use crate::db::Postgres;
use anyhow::Result;

pub(crate) struct PostgresSpent {
    db: Postgres,
}

impl PostgresSpent {
    pub(crate) fn new(db: Postgres) -> Self {
        Self { db }
    }
}

impl SpentStore for PostgresSpent {
    fn save(&self, tenant: &str, connection: &str, spent: &str, saved: i64) -> Result<()> {
        let (tenant, connection, spent) = (
            tenant.to_string(),
            connection.to_string(),
            spent.to_string(),
        );
        self.db.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO pacing_spent (tenant, connection, spent, saved)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (tenant, connection) DO UPDATE SET spent = $3, saved = $4",
                    &[&tenant, &connection, &spent, &saved],
                )
                .await?;
                Ok(())
            })
        })
    }

    fn load(&self, tenant: &str, connection: &str) -> Result<Option<(String, i64)>> {
        let (tenant, connection) = (tenant.to_string(), connection.to_string());
        self.db.run(move |c| {
            Box::pin(async move {
                Ok(c.query_opt(
                    "SELECT spent, saved FROM pacing_spent WHERE tenant = $1 AND connection = $2",
                    &[&tenant, &connection],
                )
                .await?
                .map(|r| (r.get(0), r.get(1))))
            })
        })
    }
}

//! The durable key-value backend on the shared PostgreSQL store: the same `kv` table and the
//! same behaviour as [`super::sqlite`], so a tenant's state reads the same from every host.
//! Keys list in byte order (`COLLATE "C"`), as SQLite orders them, whatever the database's
//! collation: a cursor (an offset) means the same on both backends.

use super::{KeyValueBackend, LIST_PAGE};
use crate::db::Postgres;
use anyhow::{Context, Result};

/// Key-value state in the `kv` table of a PostgreSQL store.
#[derive(Clone)]
pub struct PostgresBackend {
    db: Postgres,
}

impl PostgresBackend {
    /// A backend over `db`.
    pub fn new(db: Postgres) -> Self {
        Self { db }
    }
}

/// Owned copies of a call's names, for the query that outlives the call.
fn owned(tenant: &str, bucket: &str, key: &str) -> (String, String, String) {
    (tenant.to_string(), bucket.to_string(), key.to_string())
}

impl KeyValueBackend for PostgresBackend {
    fn get(&self, tenant: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let (tenant, bucket, key) = owned(tenant, bucket, key);
        self.db.run(move |client| {
            Box::pin(async move {
                let stmt = client
                    .prepare_cached(
                        "SELECT value FROM kv WHERE tenant = $1 AND bucket = $2 AND key = $3",
                    )
                    .await?;
                let row = client
                    .query_opt(&stmt, &[&tenant, &bucket, &key])
                    .await
                    .with_context(|| format!("reading key {key:?} of bucket {bucket}"))?;
                Ok(row.map(|r| r.get(0)))
            })
        })
    }

    fn set(&self, tenant: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        let (tenant, bucket, key) = owned(tenant, bucket, key);
        let value = value.to_vec();
        self.db.run(move |client| {
            Box::pin(async move {
                let stmt = client
                    .prepare_cached(
                        "INSERT INTO kv (tenant, bucket, key, value) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (tenant, bucket, key) DO UPDATE SET value = excluded.value",
                    )
                    .await?;
                client
                    .execute(&stmt, &[&tenant, &bucket, &key, &value])
                    .await
                    .with_context(|| format!("writing key {key:?} of bucket {bucket}"))?;
                Ok(())
            })
        })
    }

    fn set_fenced(
        &self,
        tenant: &str,
        bucket: &str,
        key: &str,
        value: &[u8],
        fence: &super::Fence,
    ) -> Result<bool> {
        let (tenant, bucket, key) = owned(tenant, bucket, key);
        let value = value.to_vec();
        let (host, token) = (fence.host.clone(), fence.token);
        let now = chrono::Utc::now().timestamp_millis();
        // `FOR SHARE` locks the hold's row: a claim by another host waits for this write, or
        // this write re-reads the row after the claim and finds the fence moved on.
        self.db.run(move |client| {
            Box::pin(async move {
                let stmt = client
                    .prepare_cached(
                        "INSERT INTO kv (tenant, bucket, key, value)
                         SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM tenant_owners
                             WHERE tenant = $1 AND holder = $5 AND fence = $6 AND expires > $7
                             FOR SHARE)
                         ON CONFLICT (tenant, bucket, key) DO UPDATE SET value = excluded.value",
                    )
                    .await?;
                let written = client
                    .execute(
                        &stmt,
                        &[&tenant, &bucket, &key, &value, &host, &token, &now],
                    )
                    .await
                    .with_context(|| format!("writing key {key:?} of bucket {bucket}"))?;
                Ok(written > 0)
            })
        })
    }

    fn delete_fenced(
        &self,
        tenant: &str,
        bucket: &str,
        key: &str,
        fence: &super::Fence,
    ) -> Result<bool> {
        let (tenant, bucket, key) = owned(tenant, bucket, key);
        let (host, token) = (fence.host.clone(), fence.token);
        let now = chrono::Utc::now().timestamp_millis();
        self.db.run(move |mut client| {
            Box::pin(async move {
                let tx = client.transaction().await?;
                let holds = tx
                    .query_opt(
                        "SELECT 1 FROM tenant_owners
                         WHERE tenant = $1 AND holder = $2 AND fence = $3 AND expires > $4
                         FOR SHARE",
                        &[&tenant, &host, &token, &now],
                    )
                    .await?
                    .is_some();
                if holds {
                    tx.execute(
                        "DELETE FROM kv WHERE tenant = $1 AND bucket = $2 AND key = $3",
                        &[&tenant, &bucket, &key],
                    )
                    .await
                    .with_context(|| format!("deleting key {key:?} of bucket {bucket}"))?;
                }
                tx.commit().await?;
                Ok(holds)
            })
        })
    }

    fn delete(&self, tenant: &str, bucket: &str, key: &str) -> Result<()> {
        let (tenant, bucket, key) = owned(tenant, bucket, key);
        self.db.run(move |client| {
            Box::pin(async move {
                let stmt = client
                    .prepare_cached("DELETE FROM kv WHERE tenant = $1 AND bucket = $2 AND key = $3")
                    .await?;
                client
                    .execute(&stmt, &[&tenant, &bucket, &key])
                    .await
                    .with_context(|| format!("deleting key {key:?} of bucket {bucket}"))?;
                Ok(())
            })
        })
    }

    fn exists(&self, tenant: &str, bucket: &str, key: &str) -> Result<bool> {
        let (tenant, bucket, key) = owned(tenant, bucket, key);
        self.db.run(move |client| {
            Box::pin(async move {
                let stmt = client
                    .prepare_cached(
                        "SELECT 1 FROM kv WHERE tenant = $1 AND bucket = $2 AND key = $3",
                    )
                    .await?;
                let row = client
                    .query_opt(&stmt, &[&tenant, &bucket, &key])
                    .await
                    .with_context(|| format!("looking up key {key:?} of bucket {bucket}"))?;
                Ok(row.is_some())
            })
        })
    }

    fn list_keys(
        &self,
        tenant: &str,
        bucket: &str,
        cursor: u64,
    ) -> Result<(Vec<String>, Option<u64>)> {
        let (tenant, bucket) = (tenant.to_string(), bucket.to_string());
        let offset = i64::try_from(cursor).context("the list-keys cursor is out of range")?;
        let keys = self.db.run(move |client| {
            Box::pin(async move {
                let stmt = client
                    .prepare_cached(
                        "SELECT key FROM kv WHERE tenant = $1 AND bucket = $2
                         ORDER BY key COLLATE \"C\" LIMIT $3 OFFSET $4",
                    )
                    .await?;
                let rows = client
                    .query(&stmt, &[&tenant, &bucket, &(LIST_PAGE as i64 + 1), &offset])
                    .await
                    .with_context(|| format!("listing the keys of bucket {bucket}"))?;
                Ok(rows.iter().map(|r| r.get(0)).collect())
            })
        })?;
        Ok(super::memory::page(keys, cursor))
    }
}

//! The vault's rows in the shared PostgreSQL store. Many hosts refresh tokens here, so a
//! refresh holds a row lock on the connection's `tokens` row (`SELECT ... FOR UPDATE`) from
//! reading the live refresh token until the rotated pair is committed: a host that waited for
//! the lock reads the pair the first one stored instead of spending a dead refresh token.

use super::{BoxFuture, ConnectionState, EventRow, RenewUnderLock, Sealed, VaultStore};
use crate::db::Postgres;
use anyhow::{anyhow, Context, Result};

/// How long a refresh waits for another host's refresh of the same connection (which lasts
/// one token endpoint call, at most 30 s) before it fails.
const LOCK_WAIT: &str = "SET LOCAL lock_timeout = '60s'";

/// The vault over a PostgreSQL store.
#[derive(Clone)]
pub(super) struct PostgresVault {
    db: Postgres,
}

impl PostgresVault {
    pub(super) fn new(db: Postgres) -> Self {
        Self { db }
    }
}

/// Writes a connection's sealed tokens and marks it connected, inside `tx`.
async fn write_tokens(
    tx: &tokio_postgres::Transaction<'_>,
    tenant: &str,
    connection: &str,
    sealed: &Sealed,
    now: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO tokens (tenant, connection, nonce, ciphertext, updated)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant, connection) DO UPDATE
         SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated = excluded.updated",
        &[
            &tenant,
            &connection,
            &sealed.nonce,
            &sealed.ciphertext,
            &now,
        ],
    )
    .await
    .context("writing the tokens row")?;
    tx.execute(
        "INSERT INTO auth_connections (tenant, connection, state, reason, updated)
         VALUES ($1, $2, $3, NULL, $4)
         ON CONFLICT (tenant, connection) DO UPDATE
         SET state = excluded.state, reason = NULL, updated = excluded.updated",
        &[
            &tenant,
            &connection,
            &ConnectionState::Connected.as_str(),
            &now,
        ],
    )
    .await
    .context("marking the connection connected")?;
    Ok(())
}

impl VaultStore for PostgresVault {
    fn key_check(&self) -> Result<Option<Sealed>> {
        self.db.run(|client| {
            Box::pin(async move {
                let row = client
                    .query_opt(
                        "SELECT nonce, ciphertext FROM auth_key_check WHERE id = 1",
                        &[],
                    )
                    .await?;
                Ok(row.map(|r| Sealed {
                    nonce: r.get(0),
                    ciphertext: r.get(1),
                }))
            })
        })
    }

    fn add_key_check(&self, check: &Sealed) -> Result<bool> {
        let (nonce, ciphertext) = (check.nonce.clone(), check.ciphertext.clone());
        self.db.run(move |client| {
            Box::pin(async move {
                let added = client
                    .execute(
                        "INSERT INTO auth_key_check (id, nonce, ciphertext) VALUES (1, $1, $2)
                         ON CONFLICT (id) DO NOTHING",
                        &[&nonce, &ciphertext],
                    )
                    .await?;
                Ok(added == 1)
            })
        })
    }

    fn tokens(&self, tenant: &str, connection: &str) -> Result<Option<Sealed>> {
        let (tenant, connection) = (tenant.to_string(), connection.to_string());
        self.db.run(move |client| {
            Box::pin(async move {
                let row = client
                    .query_opt(
                        "SELECT nonce, ciphertext FROM tokens WHERE tenant = $1 AND connection = $2",
                        &[&tenant, &connection],
                    )
                    .await?;
                Ok(row.map(|r| Sealed {
                    nonce: r.get(0),
                    ciphertext: r.get(1),
                }))
            })
        })
    }

    fn put_tokens(&self, tenant: &str, connection: &str, sealed: &Sealed, now: &str) -> Result<()> {
        let (tenant, connection, now) =
            (tenant.to_string(), connection.to_string(), now.to_string());
        let sealed = Sealed {
            nonce: sealed.nonce.clone(),
            ciphertext: sealed.ciphertext.clone(),
        };
        self.db.run(move |mut client| {
            Box::pin(async move {
                let tx = client.transaction().await?;
                write_tokens(&tx, &tenant, &connection, &sealed, &now).await?;
                tx.commit().await.context("committing the tokens")?;
                Ok(())
            })
        })
    }

    fn state(&self, tenant: &str, connection: &str) -> Result<Option<(String, Option<String>)>> {
        let (tenant, connection) = (tenant.to_string(), connection.to_string());
        self.db.run(move |client| {
            Box::pin(async move {
                let row = client
                    .query_opt(
                        "SELECT state, reason FROM auth_connections
                         WHERE tenant = $1 AND connection = $2",
                        &[&tenant, &connection],
                    )
                    .await?;
                Ok(row.map(|r| (r.get(0), r.get(1))))
            })
        })
    }

    fn mark_needs_reconnect(
        &self,
        tenant: &str,
        connection: &str,
        reason: &str,
        now: &str,
    ) -> Result<bool> {
        let (tenant, connection) = (tenant.to_string(), connection.to_string());
        let (reason, now) = (reason.to_string(), now.to_string());
        self.db.run(move |mut client| {
            Box::pin(async move {
                let tx = client.transaction().await?;
                // One statement decides the transition, so two hosts refused at once record
                // one event between them.
                let changed = tx
                    .query_opt(
                        "INSERT INTO auth_connections (tenant, connection, state, reason, updated)
                         VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (tenant, connection) DO UPDATE
                         SET state = excluded.state, reason = excluded.reason, updated = excluded.updated
                         WHERE auth_connections.state <> excluded.state
                         RETURNING 1",
                        &[
                            &tenant,
                            &connection,
                            &ConnectionState::NeedsReconnect.as_str(),
                            &reason,
                            &now,
                        ],
                    )
                    .await?
                    .is_some();
                if !changed {
                    return Ok(false);
                }
                tx.execute(
                    "INSERT INTO auth_events (tenant, connection, kind, detail, at)
                     VALUES ($1, $2, 'needs_reconnect', $3, $4)",
                    &[&tenant, &connection, &reason, &now],
                )
                .await?;
                tx.commit().await?;
                Ok(true)
            })
        })
    }

    fn events(&self, tenant: Option<&str>) -> Result<Vec<EventRow>> {
        let tenant = tenant.map(str::to_string);
        self.db.run(move |client| {
            Box::pin(async move {
                let rows = client
                    .query(
                        "SELECT tenant, connection, kind, detail, at FROM auth_events
                         WHERE $1::TEXT IS NULL OR tenant = $1 ORDER BY id",
                        &[&tenant],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| EventRow {
                        tenant: r.get(0),
                        connection: r.get(1),
                        kind: r.get(2),
                        detail: r.get(3),
                        at: r.get(4),
                    })
                    .collect())
            })
        })
    }

    fn renew_locked(
        &self,
        tenant: &str,
        connection: &str,
        renew: RenewUnderLock,
    ) -> BoxFuture<Result<()>> {
        let db = self.db.clone();
        let (tenant, connection) = (tenant.to_string(), connection.to_string());
        // The transaction and `renew` (the token endpoint call) run on the pool's runtime;
        // `Postgres::run` blocks until they are done, so it waits on a blocking thread of the
        // caller's runtime, not on one of its workers.
        let locked = move || {
            db.run(move |mut client| {
                Box::pin(async move {
                    let tx = client
                        .transaction()
                        .await
                        .context("starting the refresh transaction")?;
                    tx.batch_execute(LOCK_WAIT).await?;
                    let row = tx
                        .query_opt(
                            "SELECT nonce, ciphertext FROM tokens
                             WHERE tenant = $1 AND connection = $2 FOR UPDATE",
                            &[&tenant, &connection],
                        )
                        .await
                        .context("locking the tokens row for the refresh")?;
                    let current = row.map(|r| Sealed {
                        nonce: r.get(0),
                        ciphertext: r.get(1),
                    });
                    match renew(current).await {
                        Some(write) => {
                            write_tokens(&tx, &tenant, &connection, &write.sealed, &write.updated)
                                .await?;
                            tx.commit().await.context("committing the renewed tokens")?;
                        }
                        None => {
                            // Nothing was written: ending the transaction only releases the
                            // lock, which a failed rollback (a lost connection) also does.
                            if let Err(e) = tx.rollback().await {
                                tracing::debug!(error = %e, "ending a refresh that wrote nothing");
                            }
                        }
                    }
                    Ok(())
                })
            })
        };
        Box::pin(async move {
            match tokio::runtime::Handle::try_current() {
                Ok(_) => tokio::task::spawn_blocking(locked)
                    .await
                    .map_err(|e| anyhow!("the token refresh task failed: {e}"))?,
                Err(_) => locked(),
            }
        })
    }
}

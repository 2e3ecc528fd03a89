//! The inbox in a PostgreSQL database that several hosts drain at once.
//!
//! A claim is one transaction that row-locks what it takes with `FOR UPDATE SKIP LOCKED` before
//! setting the lease: a row another host is claiming at that moment is locked, so it is passed
//! over rather than waited for or taken twice, and a row whose claim another host has committed
//! is no longer claimable. The claim order is SQLite's (tenants taking turns, then row id); a
//! row passed over makes room for the next one in that order.
//!
//! Times are compared with `COLLATE "C"`: byte order is time order for the stored RFC 3339
//! text, whatever collation the database was created with.

use super::{parse_received, InboxItem, InboxState, InboxStore, NewBody, Persisted, COLUMNS};
use crate::db::Postgres;
use anyhow::{anyhow, Context, Result};
use std::collections::{BTreeMap, HashMap, HashSet};
use tokio_postgres::Row;

/// [`InboxStore`] over [`Postgres`].
pub(super) struct PostgresInbox {
    db: Postgres,
}

impl PostgresInbox {
    pub(super) fn new(db: Postgres) -> Self {
        Self { db }
    }
}

fn item(row: &Row) -> Result<InboxItem> {
    let received: String = row.try_get(5)?;
    let state: String = row.try_get(6)?;
    let attempts: i64 = row.try_get(7)?;
    Ok(InboxItem {
        id: row.try_get(0)?,
        tenant: row.try_get(1)?,
        source: row.try_get(2)?,
        realm: row.try_get(3)?,
        body: row.try_get(4)?,
        received: parse_received(&received),
        state: InboxState::parse(&state),
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        last_error: row.try_get(8)?,
    })
}

fn items(rows: &[Row]) -> Result<Vec<InboxItem>> {
    rows.iter().map(item).collect()
}

impl InboxStore for PostgresInbox {
    fn persist(&self, new: NewBody<'_>) -> Result<Persisted> {
        let (tenant, source, realm) = (
            new.tenant.to_string(),
            new.source.to_string(),
            new.realm.to_string(),
        );
        let (body, hash, received) = (new.body.to_vec(), new.hash, new.received);
        self.db
            .run(move |mut client| {
                Box::pin(async move {
                    let tx = client
                        .transaction()
                        .await
                        .context("starting to store a webhook body")?;
                    // Answered 200 right after this: the commit waits for the WAL flush even
                    // where the server's default says otherwise.
                    tx.batch_execute("SET LOCAL synchronous_commit = on")
                        .await
                        .context("asking for a durable commit")?;
                    let inserted = tx
                        .query_opt(
                            "INSERT INTO webhook_inbox (tenant, source, realm, body, body_hash, received)
                             VALUES ($1, $2, $3, $4, $5, $6)
                             ON CONFLICT (tenant, source, body_hash) DO NOTHING
                             RETURNING id",
                            &[&tenant, &source, &realm, &body, &hash, &received],
                        )
                        .await
                        .context("storing a webhook body")?;
                    let stored = match inserted {
                        Some(row) => Persisted {
                            id: row.try_get(0)?,
                            duplicate: false,
                        },
                        // Stored before, or by another host just now (the insert waited for
                        // its commit): this statement's snapshot sees it.
                        None => {
                            let row = tx
                                .query_opt(
                                    "SELECT id FROM webhook_inbox
                                     WHERE tenant = $1 AND source = $2 AND body_hash = $3",
                                    &[&tenant, &source, &hash],
                                )
                                .await
                                .context("reading back a stored webhook body")?
                                .ok_or_else(|| {
                                    anyhow!("a stored webhook body was deleted while it was stored again")
                                })?;
                            Persisted {
                                id: row.try_get(0)?,
                                duplicate: true,
                            }
                        }
                    };
                    tx.commit().await.context("committing a webhook body")?;
                    Ok(stored)
                })
            })
    }

    fn claim(
        &self,
        limit: i64,
        now: &str,
        until: &str,
        tenants: Option<&[String]>,
    ) -> Result<Vec<InboxItem>> {
        let (now, until) = (now.to_string(), until.to_string());
        let tenants: Option<Vec<String>> = tenants.map(<[String]>::to_vec);
        self.db.run(move |mut client| {
            Box::pin(async move {
                let tx = client
                    .transaction()
                    .await
                    .context("starting a webhook claim")?;
                // Row ids in claim order, and every id looked at (claimed here, or locked by
                // another host's claim in flight).
                let mut claimed: Vec<i64> = Vec::new();
                let mut seen: Vec<i64> = Vec::new();
                while (claimed.len() as i64) < limit {
                    let need = limit - claimed.len() as i64;
                    // Tenants take turns (each one's oldest row, then each one's second, ...),
                    // so a flood of one tenant's webhooks cannot hold another's back; within a
                    // tenant, rows keep their arrival order.
                    let next: Vec<i64> = tx
                        .query(
                            r#"SELECT id FROM (
                                   SELECT id, ROW_NUMBER() OVER (PARTITION BY tenant ORDER BY id) AS turn
                                   FROM webhook_inbox
                                   WHERE state = 'pending'
                                     AND (claimed_until IS NULL OR claimed_until COLLATE "C" < $1)
                                     AND id <> ALL($3)
                                     AND ($4::TEXT[] IS NULL OR tenant = ANY($4))
                               ) AS claimable
                               ORDER BY turn, id LIMIT $2"#,
                            &[&now, &need, &seen, &tenants],
                        )
                        .await
                        .context("reading claimable webhook bodies")?
                        .iter()
                        .map(|r| r.try_get(0))
                        .collect::<Result<_, _>>()?;
                    if next.is_empty() {
                        break;
                    }
                    // Still claimable and not being claimed by another host: ours until the
                    // commit. The condition is checked again on the row as it is now.
                    let locked: HashSet<i64> = tx
                        .query(
                            r#"SELECT id FROM webhook_inbox
                               WHERE id = ANY($1) AND state = 'pending'
                                 AND (claimed_until IS NULL OR claimed_until COLLATE "C" < $2)
                               FOR UPDATE SKIP LOCKED"#,
                            &[&next, &now],
                        )
                        .await
                        .context("locking webhook bodies to claim")?
                        .iter()
                        .map(|r| r.try_get(0))
                        .collect::<Result<_, _>>()?;
                    claimed.extend(next.iter().filter(|id| locked.contains(id)));
                    seen.extend(next);
                }
                if claimed.is_empty() {
                    tx.commit().await.context("ending an empty webhook claim")?;
                    return Ok(Vec::new());
                }
                let rows = tx
                    .query(
                        &format!(
                            "UPDATE webhook_inbox SET claimed_until = $1, attempts = attempts + 1
                             WHERE id = ANY($2) RETURNING {COLUMNS}"
                        ),
                        &[&until, &claimed],
                    )
                    .await
                    .context("claiming webhook bodies")?;
                let mut by_id: HashMap<i64, InboxItem> = items(&rows)?
                    .into_iter()
                    .map(|it| (it.id, it))
                    .collect();
                tx.commit().await.context("committing a webhook claim")?;
                Ok(claimed.iter().filter_map(|id| by_id.remove(id)).collect())
            })
        })
    }

    fn mark_done(&self, id: i64) -> Result<()> {
        self.db
            .run(move |client| {
                Box::pin(async move {
                    client
                        .execute(
                            "UPDATE webhook_inbox SET state = 'done', claimed_until = NULL, last_error = NULL
                             WHERE id = $1",
                            &[&id],
                        )
                        .await?;
                    Ok(())
                })
            })
            .context("marking a webhook body done")
    }

    fn mark_failed(&self, id: i64, reason: &str) -> Result<()> {
        let reason = reason.to_string();
        self.db
            .run(move |client| {
                Box::pin(async move {
                    client
                        .execute(
                            "UPDATE webhook_inbox SET state = 'failed', claimed_until = NULL, last_error = $2
                             WHERE id = $1",
                            &[&id, &reason],
                        )
                        .await?;
                    Ok(())
                })
            })
            .context("marking a webhook body failed")
    }

    fn postpone(&self, id: i64, until: &str, reason: &str) -> Result<()> {
        let (until, reason) = (until.to_string(), reason.to_string());
        self.db
            .run(move |client| {
                Box::pin(async move {
                    client
                        .execute(
                            "UPDATE webhook_inbox SET claimed_until = $2, last_error = $3
                             WHERE id = $1 AND state = 'pending'",
                            &[&id, &until, &reason],
                        )
                        .await?;
                    Ok(())
                })
            })
            .context("postponing a webhook body")
    }

    fn requeue(&self, id: i64) -> Result<bool> {
        self.db
            .run(move |client| {
                Box::pin(async move {
                    let n = client
                        .execute(
                            "UPDATE webhook_inbox SET state = 'pending', claimed_until = NULL
                             WHERE id = $1 AND state = 'failed'",
                            &[&id],
                        )
                        .await?;
                    Ok(n == 1)
                })
            })
            .context("requeueing a webhook body")
    }

    fn get(&self, id: i64) -> Result<Option<InboxItem>> {
        self.db
            .run(move |client| {
                Box::pin(async move {
                    client
                        .query_opt(
                            &format!("SELECT {COLUMNS} FROM webhook_inbox WHERE id = $1"),
                            &[&id],
                        )
                        .await?
                        .as_ref()
                        .map(item)
                        .transpose()
                })
            })
            .context("reading a webhook body")
    }

    fn list(&self, tenant: Option<&str>) -> Result<Vec<InboxItem>> {
        let tenant = tenant.map(str::to_string);
        self.db
            .run(move |client| {
                Box::pin(async move {
                    let rows = client
                        .query(
                            &format!(
                                "SELECT {COLUMNS} FROM webhook_inbox
                                 WHERE $1::TEXT IS NULL OR tenant = $1 ORDER BY id"
                            ),
                            &[&tenant],
                        )
                        .await?;
                    items(&rows)
                })
            })
            .context("listing webhook bodies")
    }

    fn count_by_tenant(&self, state: InboxState) -> Result<BTreeMap<String, u64>> {
        let state = state.as_str();
        self.db
            .run(move |client| {
                Box::pin(async move {
                    let rows = client
                        .query(
                            "SELECT tenant, COUNT(*) FROM webhook_inbox WHERE state = $1 GROUP BY tenant",
                            &[&state],
                        )
                        .await?;
                    let mut out = BTreeMap::new();
                    for row in rows {
                        let n: i64 = row.try_get(1)?;
                        out.insert(row.try_get(0)?, u64::try_from(n).unwrap_or(0));
                    }
                    Ok(out)
                })
            })
            .context("counting webhook bodies")
    }

    fn depth_of(&self, tenant: &str) -> Result<u64> {
        let tenant = tenant.to_string();
        self.db
            .run(move |client| {
                Box::pin(async move {
                    let n: i64 = client
                        .query_one(
                            "SELECT COUNT(*) FROM webhook_inbox WHERE state = 'pending' AND tenant = $1",
                            &[&tenant],
                        )
                        .await?
                        .try_get(0)?;
                    Ok(u64::try_from(n).unwrap_or(0))
                })
            })
            .context("counting a tenant's pending webhook bodies")
    }
}

#[cfg(test)]
mod tests {
    use super::super::Inbox;
    use crate::db::throwaway::Cluster;
    use crate::db::Database;
    use std::collections::BTreeSet;
    use std::sync::{Arc, Barrier};

    /// Two hosts (two store handles on one database), each with several workers claiming small
    /// batches at once.
    #[test]
    fn two_hosts_claiming_at_once_never_take_the_same_row_and_together_take_every_row() {
        const ROWS: usize = 600;
        const WORKERS_PER_HOST: usize = 6;
        let url = Cluster::shared().fresh_database("inbox_two_hosts");
        let hosts = [
            Inbox::new(Database::connect(&url, None).unwrap()).unwrap(),
            Inbox::new(Database::connect(&url, None).unwrap()).unwrap(),
        ];
        let mut stored = BTreeSet::new();
        for i in 0..ROWS {
            let tenant = format!("t{}", i % 7);
            let p = hosts[i % 2]
                .persist(&tenant, "quickbooks", "r", format!("{i}").as_bytes())
                .unwrap();
            assert!(!p.duplicate);
            stored.insert(p.id);
        }
        assert_eq!(stored.len(), ROWS);

        let start = Arc::new(Barrier::new(2 * WORKERS_PER_HOST));
        let workers: Vec<_> = (0..2 * WORKERS_PER_HOST)
            .map(|w| {
                let inbox = hosts[w % 2].clone();
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    let mut mine = Vec::new();
                    loop {
                        let batch = inbox.claim_pending(1 + w % 5).unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|it| {
                            assert_eq!(it.attempts, 1, "row {} claimed before", it.id);
                            it.id
                        }));
                    }
                })
            })
            .collect();
        let mut claimed = Vec::new();
        for w in workers {
            claimed.extend(w.join().unwrap());
        }
        let distinct: BTreeSet<i64> = claimed.iter().copied().collect();
        assert_eq!(distinct.len(), claimed.len(), "a row was claimed twice");
        assert_eq!(distinct, stored, "every row claimed once");
        for host in &hosts {
            assert!(host.claim_pending(10).unwrap().is_empty());
        }
    }

    /// Whichever host commits a redelivered body first stores it; the other answers with the
    /// same row as a duplicate.
    #[test]
    fn a_body_delivered_to_two_hosts_at_once_is_stored_once() {
        let url = Cluster::shared().fresh_database("inbox_two_hosts_persist");
        let hosts = [
            Inbox::new(Database::connect(&url, None).unwrap()).unwrap(),
            Inbox::new(Database::connect(&url, None).unwrap()).unwrap(),
        ];
        for round in 0..20 {
            let body = format!("delivery {round}");
            let start = Arc::new(Barrier::new(2));
            let answers: Vec<_> = hosts
                .iter()
                .map(|inbox| {
                    let (inbox, body, start) = (inbox.clone(), body.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        inbox
                            .persist("acme", "quickbooks", "r", body.as_bytes())
                            .unwrap()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect();
            assert_eq!(answers[0].id, answers[1].id, "round {round}");
            assert_eq!(
                answers.iter().filter(|p| p.duplicate).count(),
                1,
                "round {round}: {answers:?}"
            );
        }
        assert_eq!(hosts[0].depth_of("acme").unwrap(), 20);
    }
}

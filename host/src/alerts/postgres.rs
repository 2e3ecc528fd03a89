//! The `alerts` table in a PostgreSQL database shared by many hosts. The open-alert unique
//! index makes a raise from two hosts at once insert one row; the claim of a post is one
//! `UPDATE ... WHERE notified IS NULL`, which a second host's claim waits on and then finds
//! claimed, so one host posts each alert.

use super::{went_out, Alert, AlertStore, NewAlert, Unnotified};
use crate::db::Postgres;
use anyhow::{Context, Result};

/// [`AlertStore`] over [`Postgres`].
pub(super) struct PostgresAlerts {
    db: Postgres,
}

impl PostgresAlerts {
    pub(super) fn new(db: Postgres) -> Self {
        Self { db }
    }
}

impl AlertStore for PostgresAlerts {
    fn raise(&self, alert: NewAlert<'_>) -> Result<bool> {
        let (tenant, key, kind, message, raised) = (
            alert.tenant.to_string(),
            alert.key.to_string(),
            alert.kind.as_str(),
            alert.message.to_string(),
            alert.raised,
        );
        self.db
            .run(move |client| {
                Box::pin(async move {
                    let added = client
                        .execute(
                            "INSERT INTO alerts (tenant, key, kind, message, raised)
                             VALUES ($1, $2, $3, $4, $5)
                             ON CONFLICT (tenant, key) WHERE cleared IS NULL DO NOTHING",
                            &[&tenant, &key, &kind, &message, &raised],
                        )
                        .await?;
                    Ok(added > 0)
                })
            })
            .context("raising an alert")
    }

    fn clear(&self, tenant: &str, key: &str, at: &str) -> Result<()> {
        let (tenant, key, at) = (tenant.to_string(), key.to_string(), at.to_string());
        self.db
            .run(move |client| {
                Box::pin(async move {
                    client
                        .execute(
                            "UPDATE alerts SET cleared = $3
                             WHERE tenant = $1 AND key = $2 AND cleared IS NULL",
                            &[&tenant, &key, &at],
                        )
                        .await?;
                    Ok(())
                })
            })
            .context("clearing an alert")
    }

    fn clear_stale(&self, tenant: &str, at: &str, today: &str) -> Result<()> {
        let (tenant, at, today) = (tenant.to_string(), at.to_string(), today.to_string());
        self.db.run(move |client| {
            Box::pin(async move {
                // Key `exhausted:<job>\u{1f}<entity>\u{1f}<record>`.
                client
                    .execute(
                        "UPDATE alerts SET cleared = $2
                         WHERE tenant = $1 AND cleared IS NULL AND kind = 'retries-exhausted'
                         AND NOT EXISTS (SELECT 1 FROM errors e WHERE e.tenant = alerts.tenant AND e.state = 'open'
                             AND 'exhausted:' || e.job || chr(31) || e.entity || chr(31) || e.record_id = alerts.key)",
                        &[&tenant, &at],
                    )
                    .await
                    .context("clearing alerts of records no longer open")?;
                client
                    .execute(
                        "UPDATE alerts SET cleared = $2
                         WHERE tenant = $1 AND cleared IS NULL AND kind = 'quota-reserve' AND key <> $3",
                        &[&tenant, &at, &today],
                    )
                    .await
                    .context("clearing quota alerts of earlier days")?;
                Ok(())
            })
        })
    }

    fn open(&self, tenant: &str) -> Result<Vec<Alert>> {
        let tenant = tenant.to_string();
        self.db
            .run(move |client| {
                Box::pin(async move {
                    let rows = client
                        .query(
                            "SELECT kind, message, raised, notified FROM alerts
                             WHERE tenant = $1 AND cleared IS NULL ORDER BY id",
                            &[&tenant],
                        )
                        .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(Alert {
                                kind: r.try_get(0)?,
                                message: r.try_get(1)?,
                                raised: r.try_get(2)?,
                                notified: went_out(r.try_get::<_, Option<&str>>(3)?),
                            })
                        })
                        .collect()
                })
            })
            .context("listing open alerts")
    }

    fn unnotified(&self) -> Result<Vec<Unnotified>> {
        self.db
            .run(move |client| {
                Box::pin(async move {
                    let rows = client
                        .query(
                            "SELECT id, tenant, message FROM alerts
                             WHERE cleared IS NULL AND notified IS NULL ORDER BY id",
                            &[],
                        )
                        .await?;
                    rows.iter()
                        .map(|r| {
                            Ok(Unnotified {
                                id: r.try_get(0)?,
                                tenant: r.try_get(1)?,
                                message: r.try_get(2)?,
                            })
                        })
                        .collect()
                })
            })
            .context("listing alerts to post")
    }

    fn claim_post(&self, id: i64, marker: &str) -> Result<bool> {
        let marker = marker.to_string();
        self.db
            .run(move |client| {
                Box::pin(async move {
                    let claimed = client
                        .execute(
                            "UPDATE alerts SET notified = $2 WHERE id = $1 AND notified IS NULL",
                            &[&id, &marker],
                        )
                        .await?;
                    Ok(claimed > 0)
                })
            })
            .context("claiming an alert's post")
    }

    fn set_notified(&self, id: i64, notified: Option<&str>) -> Result<()> {
        let notified = notified.map(str::to_string);
        self.db
            .run(move |client| {
                Box::pin(async move {
                    client
                        .execute(
                            "UPDATE alerts SET notified = $2 WHERE id = $1",
                            &[&id, &notified],
                        )
                        .await?;
                    Ok(())
                })
            })
            .context("recording an alert's post")
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::flushes_at_once_post_each_alert_once;
    use super::super::{Alerts, Kind};
    use crate::db::throwaway::Cluster;
    use crate::db::Database;
    use std::collections::BTreeMap;

    #[test]
    fn two_hosts_flushing_at_once_post_each_alert_once() {
        let url = Cluster::shared().fresh_database("alerts_two_hosts");
        flushes_at_once_post_each_alert_once(|notify_url| {
            let notify = BTreeMap::from([("acme".to_string(), notify_url)]);
            (0..2)
                .map(|_| {
                    Alerts::new(Database::connect(&url, None).unwrap(), notify.clone()).unwrap()
                })
                .collect()
        });
    }

    #[test]
    fn two_hosts_raising_one_alert_at_once_open_it_once() {
        let url = Cluster::shared().fresh_database("alerts_two_hosts_raise");
        let hosts: Vec<Alerts> = (0..2)
            .map(|_| Alerts::new(Database::connect(&url, None).unwrap(), BTreeMap::new()).unwrap())
            .collect();
        for round in 0..10 {
            let key = format!("job:{round}");
            let start = std::sync::Arc::new(std::sync::Barrier::new(2));
            let raised: Vec<bool> = hosts
                .iter()
                .map(|h| {
                    let (h, key, start) = (h.clone(), key.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        h.raise("acme", &key, Kind::JobFailed, "failed").unwrap()
                    })
                })
                .collect::<Vec<_>>()
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect();
            assert_eq!(raised.iter().filter(|r| **r).count(), 1, "round {round}");
        }
        assert_eq!(hosts[1].open("acme").unwrap().len(), 10);
    }
}

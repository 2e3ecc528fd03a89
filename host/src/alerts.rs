//! Failures a person must act on, told once each: a job that failed as a whole, a record whose
//! automatic retries ran out, a connection that needs reconnecting, the Salesforce daily API
//! quota down to its reserve. Each is an alert row (`alerts`) raised at most once while it is
//! open: a new alert is posted to the tenant's `notify` connection (a Slack-style
//! `{"text": ...}`) and listed by `ledgerlink status` until it clears (the job runs ok again,
//! the record is resolved or dismissed, the connection is reconnected, a new UTC day).
//!
//! A post that fails is tried again at the next flush; a row is claimed before its post, so two
//! flushes never post it twice.

use crate::db::Database;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::params;
use std::collections::BTreeMap;
use std::sync::Arc;
use url::Url;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS alerts (
    id        INTEGER PRIMARY KEY,
    tenant    TEXT NOT NULL,
    key       TEXT NOT NULL,
    kind      TEXT NOT NULL,
    message   TEXT NOT NULL,
    raised    TEXT NOT NULL,
    notified  TEXT,
    cleared   TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_open ON alerts (tenant, key) WHERE cleared IS NULL;
";

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A job (or a webhook run) failed as a whole.
    JobFailed,
    /// A record failed its last automatic attempt.
    RetriesExhausted,
    /// An OAuth connection needs a person to reconnect it.
    NeedsReconnect,
    /// The Salesforce daily API quota is down to the reserve.
    QuotaReserve,
}

impl Kind {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::JobFailed => "job-failed",
            Kind::RetriesExhausted => "retries-exhausted",
            Kind::NeedsReconnect => "needs-reconnect",
            Kind::QuotaReserve => "quota-reserve",
        }
    }
}

/// An open alert.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Alert {
    /// What it is about (`job-failed`, ...).
    pub kind: String,
    /// The one line a person reads.
    pub message: String,
    /// When it was raised (RFC 3339).
    pub raised: String,
    /// Whether the notification went out.
    pub notified: bool,
}

/// The alerts of a store, and where each tenant's notifications go. Cloning shares both.
#[derive(Clone)]
pub struct Alerts {
    db: Database,
    notify: Arc<BTreeMap<String, Url>>,
    http: reqwest::Client,
}

impl Alerts {
    /// Alerts in `db`, posted to `notify[tenant]` (tenants without one are only listed).
    pub fn new(db: Database, notify: BTreeMap<String, Url>) -> Result<Self> {
        db.lock().execute_batch(SCHEMA).context("creating alerts")?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .build()?;
        Ok(Self {
            db,
            notify: Arc::new(notify),
            http,
        })
    }

    /// Raises alert `key` unless it is open already; true when it is new.
    pub fn raise(&self, tenant: &str, key: &str, kind: Kind, message: &str) -> Result<bool> {
        let added = self.db.lock().execute(
            "INSERT INTO alerts (tenant, key, kind, message, raised) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, key) WHERE cleared IS NULL DO NOTHING",
            params![tenant, key, kind.as_str(), message, stamp(Utc::now())],
        )?;
        Ok(added > 0)
    }

    /// Clears alert `key` if it is open.
    pub fn clear(&self, tenant: &str, key: &str) -> Result<()> {
        self.db.lock().execute(
            "UPDATE alerts SET cleared = ?3 WHERE tenant = ?1 AND key = ?2 AND cleared IS NULL",
            params![tenant, key, stamp(Utc::now())],
        )?;
        Ok(())
    }

    /// The open alerts of `tenant`, oldest first. Alerts whose cause is gone are cleared first:
    /// a record no longer open in the error ledger, a quota alert of an earlier UTC day.
    pub fn open(&self, tenant: &str) -> Result<Vec<Alert>> {
        let now = Utc::now();
        let today = quota_key(now);
        let now = stamp(now);
        let conn = self.db.lock();
        if Database::has_table(&conn, "errors")? {
            // Key `exhausted:<job>\u{1f}<entity>\u{1f}<record>`.
            conn.execute(
                "UPDATE alerts SET cleared = ?2 WHERE tenant = ?1 AND cleared IS NULL AND kind = 'retries-exhausted'
                 AND NOT EXISTS (SELECT 1 FROM errors e WHERE e.tenant = alerts.tenant AND e.state = 'open'
                     AND 'exhausted:' || e.job || char(31) || e.entity || char(31) || e.record_id = alerts.key)",
                params![tenant, now],
            )?;
        }
        conn.execute(
            "UPDATE alerts SET cleared = ?2 WHERE tenant = ?1 AND cleared IS NULL AND kind = 'quota-reserve' AND key <> ?3",
            params![tenant, now, today],
        )?;
        let mut stmt = conn.prepare(
            "SELECT kind, message, raised, notified FROM alerts WHERE tenant = ?1 AND cleared IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map(params![tenant], |r| {
            Ok(Alert {
                kind: r.get(0)?,
                message: r.get(1)?,
                raised: r.get(2)?,
                notified: r
                    .get::<_, Option<String>>(3)?
                    .is_some_and(|n| !n.starts_with("sending")),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Posts every open alert not yet notified; returns how many went out.
    pub async fn flush(&self) -> Result<usize> {
        let pending: Vec<(i64, String, String)> = {
            let conn = self.db.lock();
            let mut stmt = conn.prepare(
                "SELECT id, tenant, message FROM alerts WHERE cleared IS NULL AND notified IS NULL ORDER BY id",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut sent = 0;
        for (id, tenant, message) in pending {
            let Some(url) = self.notify.get(&tenant) else {
                continue;
            };
            // Claimed first: a concurrent flush skips it.
            let claimed = self.db.lock().execute(
                "UPDATE alerts SET notified = ?2 WHERE id = ?1 AND notified IS NULL",
                params![id, format!("sending {}", stamp(Utc::now()))],
            )?;
            if claimed == 0 {
                continue;
            }
            let posted = self
                .http
                .post(url.clone())
                .json(&serde_json::json!({ "text": message }))
                .send()
                .await
                .and_then(reqwest::Response::error_for_status);
            let notified = match posted {
                Ok(_) => {
                    sent += 1;
                    Some(stamp(Utc::now()))
                }
                Err(e) => {
                    tracing::warn!(tenant = %tenant, error = %e, "posting an alert failed; tried again at the next flush");
                    None
                }
            };
            self.db.lock().execute(
                "UPDATE alerts SET notified = ?2 WHERE id = ?1",
                params![id, notified],
            )?;
        }
        Ok(sent)
    }

    /// Raises (as [`Alerts::raise`]) and posts what is new in the background.
    pub fn raise_and_flush(&self, tenant: &str, key: &str, kind: Kind, message: &str) {
        match self.raise(tenant, key, kind, message) {
            Ok(true) => {
                tracing::warn!(tenant, kind = kind.as_str(), message, "alert raised");
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    let alerts = self.clone();
                    handle.spawn(async move {
                        if let Err(e) = alerts.flush().await {
                            tracing::warn!(error = %format!("{e:#}"), "flushing alerts failed");
                        }
                    });
                }
            }
            Ok(false) => {}
            Err(e) => tracing::error!(tenant, error = %format!("{e:#}"), "raising an alert failed"),
        }
    }
}

/// The key of a record's exhausted-retries alert.
pub fn exhausted_key(job: &str, entity: &str, record_id: &str) -> String {
    format!("exhausted:{job}\u{1f}{entity}\u{1f}{record_id}")
}

/// The key of today's quota alert.
pub fn quota_key(now: DateTime<Utc>) -> String {
    format!("quota:{}", now.format("%Y-%m-%d"))
}

/// The broker tells the alerts when a connection needs a person.
impl crate::auth::broker::BrokerHooks for Alerts {
    fn needs_reconnect(&self, tenant: &str, connection: &str, reason: &str) {
        self.raise_and_flush(
            tenant,
            &format!("reconnect:{connection}"),
            Kind::NeedsReconnect,
            &format!("Ledgerlink {tenant}: the {connection} connection needs to be reconnected ({reason}); run `ledgerlink connect {connection} --tenant {tenant}`"),
        );
    }
}

/// A time as stored (fixed width, so text order is time order).
fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alert_is_raised_once_while_open_and_again_after_it_clears() {
        let alerts = Alerts::new(Database::in_memory().unwrap(), BTreeMap::new()).unwrap();
        assert!(alerts
            .raise("acme", "job:poll", Kind::JobFailed, "poll failed")
            .unwrap());
        assert!(!alerts
            .raise("acme", "job:poll", Kind::JobFailed, "poll failed again")
            .unwrap());
        assert!(alerts
            .raise("zeta", "job:poll", Kind::JobFailed, "poll failed")
            .unwrap());
        let open = alerts.open("acme").unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(
            (open[0].kind.as_str(), open[0].message.as_str()),
            ("job-failed", "poll failed")
        );
        alerts.clear("acme", "job:poll").unwrap();
        assert!(alerts.open("acme").unwrap().is_empty());
        assert!(alerts
            .raise("acme", "job:poll", Kind::JobFailed, "poll failed")
            .unwrap());
        // A quota alert of another day is gone.
        alerts
            .raise("acme", "quota:2020-01-01", Kind::QuotaReserve, "old")
            .unwrap();
        assert_eq!(alerts.open("acme").unwrap().len(), 1);
    }
}

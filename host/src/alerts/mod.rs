//! Failures a person must act on, told once each: a job that failed as a whole, a record whose
//! automatic retries ran out, a connection that needs reconnecting, the Salesforce daily API
//! quota down to its reserve. Each is an alert row (`alerts`) raised at most once while it is
//! open: a new alert is posted to the tenant's `notify` connection (a Slack-style
//! `{"text": ...}`) and listed by `ledgerlink status` until it clears (the job runs ok again,
//! the record is resolved or dismissed, the connection is reconnected, a new UTC day).
//!
//! A post that fails is tried again at the next flush; a row is claimed before its post, so two
//! flushes never post it twice.

//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | the kinds, the keys, raising and posting, `AlertStore` |
//! | `sqlite.rs` | the `alerts` table in the embedded SQLite file |
//! | `postgres.rs` | the `alerts` table in a PostgreSQL database shared by many hosts |
//!
//! On a shared database the claim before a post also keeps two hosts from posting one alert.

use crate::db::{Backend, Database};
use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use url::Url;

mod postgres;
mod sqlite;

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
    store: Arc<dyn AlertStore>,
    notify: Arc<BTreeMap<String, Url>>,
    http: reqwest::Client,
}

/// The `alerts` table of one backend. An alert is open while `cleared` is NULL; `notified` is
/// NULL until its post is claimed ([`sending`]), then the time it went out.
pub(crate) trait AlertStore: Send + Sync {
    /// Inserts an open alert unless one with `(tenant, key)` is open; true when inserted.
    fn raise(&self, alert: NewAlert<'_>) -> Result<bool>;

    /// Clears the open alert `(tenant, key)`, if any, at `at`.
    fn clear(&self, tenant: &str, key: &str, at: &str) -> Result<()>;

    /// Clears, at `at`, the tenant's alerts whose cause is gone: `retries-exhausted` alerts
    /// whose record ([`exhausted_key`]) is no longer open in the error ledger (`errors`), and
    /// `quota-reserve` alerts whose key is not `today`.
    fn clear_stale(&self, tenant: &str, at: &str, today: &str) -> Result<()>;

    /// The tenant's open alerts, oldest first.
    fn open(&self, tenant: &str) -> Result<Vec<Alert>>;

    /// Open alerts whose post is not claimed, oldest first.
    fn unnotified(&self) -> Result<Vec<Unnotified>>;

    /// Claims alert `id`'s post by setting `notified` to `marker`, unless it is claimed; true
    /// when this call claimed it.
    fn claim_post(&self, id: i64, marker: &str) -> Result<bool>;

    /// Sets `notified` (None: not notified, posted again at the next flush).
    fn set_notified(&self, id: i64, notified: Option<&str>) -> Result<()>;
}

/// An alert to raise.
pub(crate) struct NewAlert<'a> {
    pub tenant: &'a str,
    pub key: &'a str,
    pub kind: Kind,
    pub message: &'a str,
    /// [`stamp`] of the time.
    pub raised: String,
}

/// An open alert not yet posted.
pub(crate) struct Unnotified {
    pub id: i64,
    pub tenant: String,
    pub message: String,
}

/// `notified` while a post is in flight.
fn sending(now: DateTime<Utc>) -> String {
    format!("sending {}", stamp(now))
}

/// Whether a stored `notified` says the post went out (not merely claimed).
fn went_out(notified: Option<&str>) -> bool {
    notified.is_some_and(|n| !n.starts_with("sending"))
}

impl Alerts {
    /// Alerts in `db`, posted to `notify[tenant]` (tenants without one are only listed).
    pub fn new(db: Database, notify: BTreeMap<String, Url>) -> Result<Self> {
        let store: Arc<dyn AlertStore> = match db.backend() {
            Backend::Sqlite(db) => Arc::new(sqlite::SqliteAlerts::new(db.clone())),
            Backend::Postgres(db) => Arc::new(postgres::PostgresAlerts::new(db.clone())),
        };
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .build()?;
        Ok(Self {
            store,
            notify: Arc::new(notify),
            http,
        })
    }

    /// Raises alert `key` unless it is open already; true when it is new.
    pub fn raise(&self, tenant: &str, key: &str, kind: Kind, message: &str) -> Result<bool> {
        self.store.raise(NewAlert {
            tenant,
            key,
            kind,
            message,
            raised: stamp(Utc::now()),
        })
    }

    /// Clears alert `key` if it is open.
    pub fn clear(&self, tenant: &str, key: &str) -> Result<()> {
        self.store.clear(tenant, key, &stamp(Utc::now()))
    }

    /// The open alerts of `tenant`, oldest first. Alerts whose cause is gone are cleared first:
    /// a record no longer open in the error ledger, a quota alert of an earlier UTC day.
    pub fn open(&self, tenant: &str) -> Result<Vec<Alert>> {
        let now = Utc::now();
        self.store
            .clear_stale(tenant, &stamp(now), &quota_key(now))?;
        self.store.open(tenant)
    }

    /// Runs a store call off the async threads (a PostgreSQL store answers over the network).
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&dyn AlertStore) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || call(&*store))
            .await
            .map_err(|e| anyhow!("an alerts store call stopped: {e}"))?
    }

    /// Posts every open alert not yet notified; returns how many went out.
    pub async fn flush(&self) -> Result<usize> {
        let pending = self.blocking(|store| store.unnotified()).await?;
        let mut sent = 0;
        for Unnotified {
            id,
            tenant,
            message,
        } in pending
        {
            let Some(url) = self.notify.get(&tenant) else {
                continue;
            };
            // Claimed first: a concurrent flush (on this host or another) skips it.
            let marker = sending(Utc::now());
            if !self
                .blocking(move |store| store.claim_post(id, &marker))
                .await?
            {
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
            self.blocking(move |store| store.set_notified(id, notified.as_deref()))
                .await?;
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
    use crate::db::testing::each_backend;
    use std::sync::Mutex;

    #[test]
    fn an_alert_is_raised_once_while_open_and_again_after_it_clears() {
        each_backend("alerts_once", |db| {
            let alerts = Alerts::new(db, BTreeMap::new()).unwrap();
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
        });
    }

    /// Runs `sql` on either backend (rows the error ledger would write).
    fn exec(db: &Database, sql: &'static str) {
        match db.backend() {
            Backend::Sqlite(db) => db.lock().execute_batch(sql).unwrap(),
            Backend::Postgres(db) => db
                .run(move |c| Box::pin(async move { Ok(c.batch_execute(sql).await?) }))
                .unwrap(),
        }
    }

    #[test]
    fn an_exhausted_retries_alert_clears_once_its_record_is_no_longer_open() {
        each_backend("alerts_exhausted", |db| {
            let alerts = Alerts::new(db.clone(), BTreeMap::new()).unwrap();
            exec(
                &db,
                "INSERT INTO errors (tenant, job, entity, record_id, detail, retryable, attempts,
                                     first_seen, last_seen, state)
                 VALUES ('acme', 'poll', 'Invoice', '7', 'no CustomerRef', 1, 5,
                         '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 'open')",
            );
            for record in ["7", "8"] {
                alerts
                    .raise(
                        "acme",
                        &exhausted_key("poll", "Invoice", record),
                        Kind::RetriesExhausted,
                        &format!("Invoice {record} failed"),
                    )
                    .unwrap();
            }
            let open = alerts.open("acme").unwrap();
            assert_eq!(
                open.iter().map(|a| a.message.as_str()).collect::<Vec<_>>(),
                ["Invoice 7 failed"],
                "record 8 is not open in the ledger"
            );
            assert_eq!(open[0].kind, "retries-exhausted");
            assert!(!open[0].notified);
            exec(&db, "UPDATE errors SET state = 'resolved'");
            assert!(alerts.open("acme").unwrap().is_empty());
        });
    }

    /// A notify endpoint that keeps what it is sent.
    async fn sink() -> (Url, Arc<Mutex<Vec<String>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let keep = got.clone();
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(move |body: axum::body::Bytes| {
                let keep = keep.clone();
                async move {
                    keep.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).into_owned());
                    "ok"
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        (url, got)
    }

    /// Raises three alerts of `acme` (one of a tenant without `notify`) through `hosts[0]`,
    /// flushes from every host at once, and checks that each of acme's went out once.
    pub(super) fn flushes_at_once_post_each_alert_once(hosts: impl Fn(Url) -> Vec<Alerts>) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (url, got) = sink().await;
            let hosts = hosts(url);
            for n in 0..3 {
                hosts[0]
                    .raise(
                        "acme",
                        &format!("job:{n}"),
                        Kind::JobFailed,
                        &format!("job {n} failed"),
                    )
                    .unwrap();
            }
            hosts[0]
                .raise("zeta", "job:0", Kind::JobFailed, "zeta's job failed")
                .unwrap();
            let flushes: Vec<_> = hosts
                .iter()
                .flat_map(|h| [h.clone(), h.clone()])
                .map(|h| tokio::spawn(async move { h.flush().await.unwrap() }))
                .collect();
            let mut sent = 0;
            for f in flushes {
                sent += f.await.unwrap();
            }
            assert_eq!(sent, 3);
            let mut posts = got.lock().unwrap().clone();
            posts.sort();
            assert_eq!(
                posts,
                (0..3)
                    .map(|n| format!(r#"{{"text":"job {n} failed"}}"#))
                    .collect::<Vec<_>>()
            );
            assert!(hosts[0].open("acme").unwrap().iter().all(|a| a.notified));
            assert!(!hosts[0].open("zeta").unwrap()[0].notified);
            assert_eq!(
                hosts[0].flush().await.unwrap(),
                0,
                "nothing is posted twice"
            );
        });
    }

    #[test]
    fn concurrent_flushes_post_each_alert_once() {
        each_backend("alerts_flush", |db| {
            flushes_at_once_post_each_alert_once(|url| {
                let notify = BTreeMap::from([("acme".to_string(), url)]);
                vec![Alerts::new(db.clone(), notify).unwrap()]
            });
        });
    }
}

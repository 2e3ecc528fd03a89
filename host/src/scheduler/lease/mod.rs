//! One writer per tenant: a lease row in the store (`tenant_leases`: holder, job, expiry) taken
//! before any run that may write for the tenant (cron, retries, run-later, webhooks, change
//! events, `ledgerlink job`), renewed while the run lasts and dropped after it. Runs of one
//! tenant, in one process or several sharing the store, never overlap, so links, ledgers and
//! cursors are never raced.
//!
//! A holder that died without dropping its lease loses it at expiry (a minute after its last
//! renewal); one that died on this machine (its process is gone) loses it at once, so a host
//! restarted after `kill -9` does not wait out its own old lease.

mod postgres;
mod sqlite;

use crate::db::{Backend, Database};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

/// A lease row: holder, job, acquired and expiry (milliseconds since the epoch).
pub(crate) type LeaseRow = (String, String, i64, i64);

/// The storage interface of the tenant leases (`tenant_leases`).
pub(crate) trait LeaseStore: Send + Sync {
    /// The row of `tenant`, expired or not.
    fn current(&self, tenant: &str) -> Result<Option<LeaseRow>>;
    /// Takes the row for `holder` in one statement if it is absent, expired at `now` or held
    /// by `dead_holder`; false when another holder won it first.
    fn take(
        &self,
        tenant: &str,
        holder: &str,
        job: &str,
        now: i64,
        expires: i64,
        dead_holder: Option<&str>,
    ) -> Result<bool>;
    /// Moves `holder`'s expiry on.
    fn renew(&self, tenant: &str, holder: &str, expires: i64) -> Result<()>;
    /// Deletes `holder`'s row.
    fn release(&self, tenant: &str, holder: &str) -> Result<()>;
}

fn store_for(db: &Database) -> Arc<dyn LeaseStore> {
    match db.backend() {
        Backend::Sqlite(db) => Arc::new(sqlite::SqliteLeases::new(db.clone())),
        Backend::Postgres(db) => Arc::new(postgres::PostgresLeases::new(db.clone())),
    }
}

/// How long a lease lasts without renewal.
pub const TTL: Duration = Duration::from_secs(60);

/// Who holds a tenant's lease, when it is not us.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("tenant {tenant} is busy: {job} is running (holder {holder}, since {since}, lease until {until})")]
pub struct Busy {
    /// The tenant.
    pub tenant: String,
    /// The run holding it.
    pub job: String,
    /// `<host>:<pid>:<run>`.
    pub holder: String,
    /// When it was taken.
    pub since: DateTime<Utc>,
    /// When it runs out unless renewed.
    pub until: DateTime<Utc>,
}

/// The leases in a store. Cloning shares the store.
#[derive(Clone)]
pub struct Leases {
    store: Arc<dyn LeaseStore>,
    ttl: Duration,
}

/// A held lease: renewed in the background, dropped (the row deleted) when this is dropped.
pub struct Lease {
    leases: Leases,
    tenant: String,
    holder: String,
    renewal: Option<tokio::task::JoinHandle<()>>,
}

impl Leases {
    /// The leases of `db`, lasting [`TTL`].
    pub fn new(db: Database) -> Result<Self> {
        Self::with_ttl(db, TTL)
    }

    /// The leases of `db`, lasting `ttl` without renewal.
    pub fn with_ttl(db: Database, ttl: Duration) -> Result<Self> {
        Ok(Self {
            store: store_for(&db),
            ttl,
        })
    }

    /// Takes `tenant`'s lease for `job` if it is free (or its holder is gone).
    pub fn try_acquire(&self, tenant: &str, job: &str) -> Result<std::result::Result<Lease, Busy>> {
        let holder = holder_id();
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(self.ttl).unwrap_or_default();
        let current = self.store.current(tenant)?;
        // A holder that is a gone process of this machine is replaced whatever its expiry.
        let mut dead_holder = None;
        if let Some((held_by, held_for, acquired, until)) = current {
            if dead_here(&held_by) {
                dead_holder = Some(held_by);
            } else if until > now.timestamp_millis() {
                return Ok(Err(Busy {
                    tenant: tenant.to_string(),
                    job: held_for,
                    holder: held_by,
                    since: from_millis(acquired),
                    until: from_millis(until),
                }));
            }
        }
        // Taken in one statement, so two takers racing on a free or stale row cannot both win:
        // the loser's update matches no row (the winner's expiry is in the future).
        let taken = self.store.take(
            tenant,
            &holder,
            job,
            now.timestamp_millis(),
            expires.timestamp_millis(),
            dead_holder.as_deref(),
        )?;
        if !taken {
            return self.try_acquire(tenant, job);
        }
        let mut lease = Lease {
            leases: self.clone(),
            tenant: tenant.to_string(),
            holder,
            renewal: None,
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (leases, tenant, holder) =
                (self.clone(), lease.tenant.clone(), lease.holder.clone());
            lease.renewal = Some(handle.spawn(async move {
                loop {
                    tokio::time::sleep(leases.ttl / 3).await;
                    if let Err(e) = leases.renew(&tenant, &holder) {
                        tracing::warn!(tenant = %tenant, error = %format!("{e:#}"), "renewing the tenant lease failed");
                    }
                }
            }));
        }
        Ok(Ok(lease))
    }

    /// Takes `tenant`'s lease for `job`, waiting while another run holds it; `on_wait` hears
    /// who holds it (once per holder). Gives up with [`Busy`] after `patience` (none: waits as
    /// long as it takes).
    pub async fn acquire(
        &self,
        tenant: &str,
        job: &str,
        patience: Option<Duration>,
        mut on_wait: impl FnMut(&Busy),
    ) -> Result<std::result::Result<Lease, Busy>> {
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(20);
        let mut told: Option<String> = None;
        loop {
            match self.try_acquire(tenant, job)? {
                Ok(lease) => return Ok(Ok(lease)),
                Err(busy) => {
                    if patience.is_some_and(|p| started.elapsed() >= p) {
                        return Ok(Err(busy));
                    }
                    if told.as_deref() != Some(busy.holder.as_str()) {
                        on_wait(&busy);
                        told = Some(busy.holder.clone());
                    }
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }

    /// Whether a live run holds `tenant`'s lease (an unexpired one whose holder is not a gone
    /// process of this machine).
    pub fn held_by_live(&self, tenant: &str) -> Result<bool> {
        Ok(self.holder(tenant)?.is_some_and(|b| !dead_here(&b.holder)))
    }

    /// Who holds `tenant`'s lease now, if anyone.
    pub fn holder(&self, tenant: &str) -> Result<Option<Busy>> {
        let now = Utc::now().timestamp_millis();
        Ok(self
            .store
            .current(tenant)?
            .filter(|(_, _, _, until)| *until > now)
            .map(|(holder, job, acquired, until)| Busy {
                tenant: tenant.to_string(),
                holder,
                job,
                since: from_millis(acquired),
                until: from_millis(until),
            }))
    }

    fn renew(&self, tenant: &str, holder: &str) -> Result<()> {
        let expires = Utc::now() + chrono::Duration::from_std(self.ttl).unwrap_or_default();
        self.store.renew(tenant, holder, expires.timestamp_millis())
    }

    fn release(&self, tenant: &str, holder: &str) -> Result<()> {
        self.store.release(tenant, holder)
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("tenant", &self.tenant)
            .field("holder", &self.holder)
            .finish()
    }
}

impl Lease {
    /// The holder id written in the store.
    pub fn holder(&self) -> &str {
        &self.holder
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
        if let Err(e) = self.leases.release(&self.tenant, &self.holder) {
            tracing::warn!(tenant = %self.tenant, error = %format!("{e:#}"),
                "dropping the tenant lease failed; it runs out by itself");
        }
    }
}

/// `<host>:<pid>:<unique>` for a new lease.
fn holder_id() -> String {
    format!(
        "{}:{}:{:016x}",
        host_name(),
        std::process::id(),
        rand::random::<u64>()
    )
}

/// The machine's name and, after `@`, its process-id namespace: processes are "of this
/// machine" (their pids comparable) only within one namespace, so two containers that share a
/// name and a store never take each other's live leases for dead ones.
fn host_name() -> String {
    let name = crate::cluster::machine_name();
    let namespace = std::fs::read_link("/proc/self/ns/pid").ok().and_then(|l| {
        l.to_string_lossy()
            .trim_start_matches("pid:[")
            .trim_end_matches(']')
            .parse::<u64>()
            .ok()
    });
    match namespace {
        Some(ns) => format!("{name}@{ns}"),
        None => name,
    }
}

/// Whether `holder` names a process of this machine that is gone.
fn dead_here(holder: &str) -> bool {
    let mut parts = holder.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return false;
    };
    if host != host_name() || pid == std::process::id().to_string() {
        return false;
    }
    let proc_root = std::path::Path::new("/proc");
    proc_root.join("self").exists() && !proc_root.join(pid).exists()
}

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_a_dead_holder_loses_its_lease() {
        crate::db::testing::each_backend("lease_one_holder", |db| {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(one_holder_at_a_time(db))
        });
    }

    async fn one_holder_at_a_time(db: Database) {
        let leases = Leases::new(db).unwrap();
        let first = leases.try_acquire("acme", "poll").unwrap().unwrap();
        let busy = leases
            .try_acquire("acme", "sync-invoices")
            .unwrap()
            .unwrap_err();
        assert_eq!(
            (busy.job.as_str(), busy.holder.as_str()),
            ("poll", first.holder())
        );
        assert!(
            busy.to_string()
                .contains("tenant acme is busy: poll is running"),
            "{busy}"
        );
        // Another tenant is free.
        let other = leases.try_acquire("zeta", "poll").unwrap().unwrap();
        drop(first);
        assert!(leases.holder("acme").unwrap().is_none());
        let second = leases
            .try_acquire("acme", "sync-invoices")
            .unwrap()
            .unwrap();
        assert_eq!(leases.holder("acme").unwrap().unwrap().job, "sync-invoices");
        drop((second, other));

        // A lease left by a process of this machine that is gone is taken at once.
        let dead = format!("{}:{}:x", host_name(), u32::MAX - 7);
        let in_a_minute = Utc::now().timestamp_millis() + 60_000;
        assert!(leases
            .store
            .take("acme", &dead, "backfill", 0, in_a_minute, None)
            .unwrap());
        let taken_over = leases.try_acquire("acme", "poll").unwrap().unwrap();
        drop(taken_over);
        // One of another machine waits for its expiry.
        let soon = Utc::now().timestamp_millis() + 150;
        assert!(leases
            .store
            .take("acme", "elsewhere:1:x", "backfill", 0, soon, None)
            .unwrap());
        let waited = std::time::Instant::now();
        let mut heard = Vec::new();
        let lease = leases
            .acquire("acme", "poll", Some(Duration::from_secs(5)), |b| {
                heard.push(b.holder.clone())
            })
            .await
            .unwrap()
            .unwrap();
        assert!(waited.elapsed() >= Duration::from_millis(100));
        assert_eq!(heard, vec!["elsewhere:1:x".to_string()]);
        assert!(leases
            .acquire("acme", "poll", Some(Duration::from_millis(50)), |_| {})
            .await
            .unwrap()
            .is_err());
        drop(lease);
    }

    #[test]
    fn a_held_lease_is_renewed_while_it_lasts() {
        crate::db::testing::each_backend("lease_renewed", |db| {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(renewed_while_it_lasts(db))
        });
    }

    async fn renewed_while_it_lasts(db: Database) {
        let leases = Leases::with_ttl(db, Duration::from_millis(300)).unwrap();
        let lease = leases.try_acquire("acme", "backfill").unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(leases.try_acquire("acme", "poll").unwrap().is_err());
        drop(lease);
        assert!(leases.try_acquire("acme", "poll").unwrap().is_ok());
    }
}

#[cfg(test)]
mod race {
    use super::*;

    #[test]
    fn of_two_hosts_taking_one_tenant_at_once_exactly_one_wins() {
        let url = crate::db::throwaway::Cluster::shared().fresh_database("lease_race");
        let hosts: Vec<Leases> = (0..2)
            .map(|_| Leases::new(Database::connect(&url, None).unwrap()).unwrap())
            .collect();
        for round in 0..20 {
            let tenant = format!("t{round}");
            let won: Vec<bool> = std::thread::scope(|s| {
                let tries: Vec<_> = hosts
                    .iter()
                    .map(|l| {
                        let tenant = tenant.clone();
                        s.spawn(move || l.try_acquire(&tenant, "poll").unwrap())
                    })
                    .collect();
                tries
                    .into_iter()
                    .map(|t| {
                        let got = t.join().unwrap();
                        let won = got.is_ok();
                        // Keep the winner's lease until both have tried.
                        std::mem::forget(got);
                        won
                    })
                    .collect()
            });
            assert_eq!(
                won.iter().filter(|w| **w).count(),
                1,
                "round {round}: {won:?}"
            );
        }
    }
}

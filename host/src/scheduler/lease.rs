//! One writer per tenant: a lease row in the store (`tenant_leases`: holder, job, expiry) taken
//! before any run that may write for the tenant (cron, retries, run-later, webhooks, change
//! events, `ledgerlink job`), renewed while the run lasts and dropped after it. Runs of one
//! tenant, in one process or several sharing the store, never overlap, so links, ledgers and
//! cursors are never raced.
//!
//! A holder that died without dropping its lease loses it at expiry (a minute after its last
//! renewal); one that died on this machine (its process is gone) loses it at once, so a host
//! restarted after `kill -9` does not wait out its own old lease.

use crate::db::Database;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenant_leases (
    tenant   TEXT PRIMARY KEY,
    holder   TEXT NOT NULL,
    job      TEXT NOT NULL,
    acquired INTEGER NOT NULL,
    expires  INTEGER NOT NULL
) WITHOUT ROWID;
";

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
    db: Database,
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
        db.lock()
            .execute_batch(SCHEMA)
            .context("creating tenant_leases")?;
        Ok(Self { db, ttl })
    }

    /// Takes `tenant`'s lease for `job` if it is free (or its holder is gone).
    pub fn try_acquire(&self, tenant: &str, job: &str) -> Result<std::result::Result<Lease, Busy>> {
        let holder = holder_id();
        let now = Utc::now();
        let expires = now + chrono::Duration::from_std(self.ttl).unwrap_or_default();
        let conn = self.db.lock();
        let current: Option<(String, String, i64, i64)> = conn
            .query_row(
                "SELECT holder, job, acquired, expires FROM tenant_leases WHERE tenant = ?1",
                params![tenant],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
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
        let taken = conn.execute(
            "INSERT INTO tenant_leases (tenant, holder, job, acquired, expires)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant) DO UPDATE SET holder = ?2, job = ?3, acquired = ?4, expires = ?5
             WHERE tenant_leases.expires <= ?4 OR tenant_leases.holder = ?6",
            params![
                tenant,
                holder,
                job,
                now.timestamp_millis(),
                expires.timestamp_millis(),
                dead_holder,
            ],
        )?;
        drop(conn);
        if taken == 0 {
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

    /// Who holds `tenant`'s lease now, if anyone.
    pub fn holder(&self, tenant: &str) -> Result<Option<Busy>> {
        let now = Utc::now().timestamp_millis();
        Ok(self
            .db
            .lock()
            .query_row(
                "SELECT holder, job, acquired, expires FROM tenant_leases WHERE tenant = ?1 AND expires > ?2",
                params![tenant, now],
                |r| {
                    Ok(Busy {
                        tenant: tenant.to_string(),
                        holder: r.get(0)?,
                        job: r.get(1)?,
                        since: from_millis(r.get(2)?),
                        until: from_millis(r.get(3)?),
                    })
                },
            )
            .optional()?)
    }

    fn renew(&self, tenant: &str, holder: &str) -> Result<()> {
        let expires = Utc::now() + chrono::Duration::from_std(self.ttl).unwrap_or_default();
        self.db.lock().execute(
            "UPDATE tenant_leases SET expires = ?3 WHERE tenant = ?1 AND holder = ?2",
            params![tenant, holder, expires.timestamp_millis()],
        )?;
        Ok(())
    }

    fn release(&self, tenant: &str, holder: &str) -> Result<()> {
        self.db.lock().execute(
            "DELETE FROM tenant_leases WHERE tenant = ?1 AND holder = ?2",
            params![tenant, holder],
        )?;
        Ok(())
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

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains(':'))
        .unwrap_or_else(|| "host".into())
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

    #[tokio::test]
    async fn one_holder_at_a_time_and_a_dead_holder_loses_its_lease() {
        let leases = Leases::new(Database::in_memory().unwrap()).unwrap();
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
        leases
            .db
            .lock()
            .execute(
                "INSERT INTO tenant_leases VALUES ('acme', ?1, 'backfill', 0, ?2)",
                params![dead, Utc::now().timestamp_millis() + 60_000],
            )
            .unwrap();
        let taken_over = leases.try_acquire("acme", "poll").unwrap().unwrap();
        drop(taken_over);
        // One of another machine waits for its expiry.
        leases
            .db
            .lock()
            .execute(
                "INSERT INTO tenant_leases VALUES ('acme', 'elsewhere:1:x', 'backfill', 0, ?1)",
                params![Utc::now().timestamp_millis() + 150],
            )
            .unwrap();
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

    #[tokio::test]
    async fn a_held_lease_is_renewed_while_it_lasts() {
        let leases =
            Leases::with_ttl(Database::in_memory().unwrap(), Duration::from_millis(300)).unwrap();
        let lease = leases.try_acquire("acme", "backfill").unwrap().unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(leases.try_acquire("acme", "poll").unwrap().is_err());
        drop(lease);
        assert!(leases.try_acquire("acme", "poll").unwrap().is_ok());
    }
}

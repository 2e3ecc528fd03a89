//! Tenants leased to hosts: many `ledgerlink run` hosts share one store, and each tenant is
//! served by one of them at a time.
//!
//! Every host heartbeats in `cluster_hosts` and holds its tenants in `tenant_owners` (holder,
//! expiry, fencing token). A round ([`Ownership::round`], every third of the lease) renews what
//! the host holds, counts the live hosts and moves the host towards its fair share,
//! `ceil(tenants / live hosts)`: it releases what is over, and claims free or expired tenants
//! while under (each host prefers tenants in its own rendezvous-hash order, so hosts reach
//! their shares without fighting over the same rows). A host that dies stops renewing; its
//! tenants expire after the lease and the others claim them. A host restarted under the same id
//! (its name and listen address) claims its own tenants back at once.
//!
//! A claim increments the tenant's `fence`. The fence of the current holder is the fencing
//! token: a host that lost a tenant (paused past its lease, cut off from the store) still
//! carries the old token, and the writes that check it ([`OwnershipStore::holds`]) refuse it.
//!
//! The scheduler, the inbox worker and the change-event subscribers act only for the tenants
//! the host owns; any host accepts webhooks for any tenant into the shared inbox.

pub mod budgets;
mod postgres;
mod sqlite;

use crate::db::{Backend, Database};
use anyhow::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// How long a host's hold on a tenant lasts without renewal (the default of
/// `[server] lease-seconds`).
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// One row of `tenant_owners`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// The tenant.
    pub tenant: String,
    /// The host holding it.
    pub holder: String,
    /// The fencing token of this hold.
    pub fence: i64,
    /// When the holder took it.
    pub since: DateTime<Utc>,
    /// When the hold runs out unless renewed.
    pub expires: DateTime<Utc>,
}

/// The storage interface of ownership.
pub(crate) trait OwnershipStore: Send + Sync {
    /// Records that `host` (process `pid`, started at `started`) is alive at `now`.
    fn heartbeat(&self, host: &str, pid: u32, started: i64, now: i64) -> Result<()>;
    /// The hosts whose heartbeat is later than `since`.
    fn live_hosts(&self, since: i64) -> Result<Vec<String>>;
    /// Extends every unexpired hold of `host` to `until`; returns them (tenant → fence).
    fn renew(&self, host: &str, now: i64, until: i64) -> Result<BTreeMap<String, i64>>;
    /// Takes `tenant` for `host` until `until` if it is free, expired or already `host`'s;
    /// returns the new fence, or `None` when another host holds it.
    fn claim(&self, tenant: &str, host: &str, now: i64, until: i64) -> Result<Option<i64>>;
    /// Lets `tenant` go (if `host` still holds it under `fence`), so another host may claim it.
    fn release(&self, tenant: &str, host: &str, fence: i64) -> Result<()>;
    /// Whether `host` holds `tenant` under `fence` at `now`.
    fn holds(&self, tenant: &str, host: &str, fence: i64, now: i64) -> Result<bool>;
    /// Every hold, expired or not.
    fn owners(&self) -> Result<Vec<Owner>>;
    /// Removes `host`'s heartbeat (a clean stop).
    fn leave(&self, host: &str) -> Result<()>;
}

fn store_for(db: &Database) -> Arc<dyn OwnershipStore> {
    match db.backend() {
        Backend::Sqlite(db) => Arc::new(sqlite::SqliteOwnership::new(db.clone())),
        Backend::Postgres(db) => Arc::new(postgres::PostgresOwnership::new(db.clone())),
    }
}

impl crate::caps::storage::fenced::Fences for Ownership {
    fn host(&self) -> &str {
        &self.host
    }

    fn token(&self, tenant: &str) -> Option<i64> {
        self.fence(tenant)
    }
}

/// Every hold in `db`'s store, expired or not (for `ledgerlink status`).
pub fn owners(db: &Database) -> Result<Vec<Owner>> {
    store_for(db).owners()
}

/// What changed in one [`Ownership::round`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Tenants claimed (tenant, fence).
    pub claimed: Vec<(String, i64)>,
    /// Tenants let go to balance the hosts.
    pub released: Vec<String>,
    /// Tenants another host took while this one held them (its lease had run out).
    pub lost: Vec<String>,
    /// Live hosts counted.
    pub hosts: usize,
}

/// What a host does as its tenants come and go (the API budgets that move with a tenant).
pub trait OwnershipHooks: Send + Sync {
    /// `tenant` is this host's from now on: called before anything may run for it here.
    fn gained(&self, tenant: &str);
    /// The tenants this host holds, every round and before it lets them go.
    fn held(&self, tenants: &[String]);
}

/// This host's share of the tenants. Cloning shares it.
#[derive(Clone)]
pub struct Ownership {
    store: Arc<dyn OwnershipStore>,
    host: String,
    started: i64,
    tenants: Arc<Vec<String>>,
    lease: Duration,
    owned: Arc<RwLock<BTreeMap<String, i64>>>,
    changes: watch::Sender<u64>,
    /// False until the first round: a restarted host re-claims its holds under new fences.
    started_up: Arc<std::sync::atomic::AtomicBool>,
    hooks: Option<Arc<dyn OwnershipHooks>>,
}

impl Ownership {
    /// `host`'s ownership over `tenants` (the configured ones) in `db`.
    pub fn new(db: &Database, host: &str, tenants: Vec<String>, lease: Duration) -> Self {
        Self {
            store: store_for(db),
            host: host.to_string(),
            started: Utc::now().timestamp_millis(),
            tenants: Arc::new(tenants),
            lease,
            owned: Arc::default(),
            changes: watch::channel(0).0,
            started_up: Arc::default(),
            hooks: None,
        }
    }

    /// Tells `hooks` of the tenants gained and held.
    pub fn with_hooks(mut self, hooks: Arc<dyn OwnershipHooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// How long this host goes between two [`OwnershipHooks::held`] calls.
    pub fn round_every(&self) -> Duration {
        self.lease / 3
    }

    /// The host's id.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether this host serves `tenant` now.
    pub fn owns(&self, tenant: &str) -> bool {
        self.read().contains_key(tenant)
    }

    /// The fencing token of this host's hold on `tenant`.
    pub fn fence(&self, tenant: &str) -> Option<i64> {
        self.read().get(tenant).copied()
    }

    /// The tenants this host serves now.
    pub fn owned(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// A receiver that changes whenever the owned set does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Whether this host still holds `tenant` under the fence it has, checked in the store.
    pub fn still_holds(&self, tenant: &str) -> Result<bool> {
        let Some(fence) = self.fence(tenant) else {
            return Ok(false);
        };
        self.store
            .holds(tenant, &self.host, fence, Utc::now().timestamp_millis())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, i64>> {
        self.owned.read().unwrap_or_else(|p| p.into_inner())
    }

    /// One round at `now`: heartbeat, renew, then claim or release towards the fair share.
    pub fn round(&self, now: DateTime<Utc>) -> Result<RoundReport> {
        let now_ms = now.timestamp_millis();
        let lease_ms = self.lease.as_millis() as i64;
        let until = now_ms + lease_ms;
        self.store
            .heartbeat(&self.host, std::process::id(), self.started, now_ms)?;
        let mut held = self.store.renew(&self.host, now_ms, until)?;
        if !self
            .started_up
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            // Holds left by an earlier process under this id: this process's writes carry new
            // fences, so nothing the old one still had in flight passes for this one's.
            for (tenant, fence) in held.iter_mut() {
                if let Some(next) = self.store.claim(tenant, &self.host, now_ms, until)? {
                    *fence = next;
                }
            }
        }
        let mut report = RoundReport {
            lost: self
                .read()
                .keys()
                .filter(|t| !held.contains_key(*t))
                .cloned()
                .collect(),
            ..Default::default()
        };
        // Tenants no longer configured here are let go.
        for (tenant, fence) in held.clone() {
            if !self.tenants.contains(&tenant) {
                self.store.release(&tenant, &self.host, fence)?;
                held.remove(&tenant);
                report.released.push(tenant);
            }
        }
        let hosts = self.store.live_hosts(now_ms - lease_ms)?.len().max(1);
        report.hosts = hosts;
        let share = self.tenants.len().div_ceil(hosts);
        let order = self.preference();
        if held.len() > share {
            // Let go of the least preferred first.
            for tenant in order.iter().rev() {
                if held.len() <= share {
                    break;
                }
                if let Some(fence) = held.remove(tenant) {
                    self.store.release(tenant, &self.host, fence)?;
                    report.released.push(tenant.clone());
                }
            }
        } else {
            for tenant in &order {
                if held.len() >= share {
                    break;
                }
                if held.contains_key(tenant) {
                    continue;
                }
                if let Some(fence) = self.store.claim(tenant, &self.host, now_ms, until)? {
                    held.insert(tenant.clone(), fence);
                    report.claimed.push((tenant.clone(), fence));
                }
            }
        }
        if let Some(hooks) = &self.hooks {
            // Before the tenants show as this host's: nothing runs for them until then.
            let previous = self.read();
            for tenant in held.keys().filter(|t| !previous.contains_key(*t)) {
                hooks.gained(tenant);
            }
        }
        let changed = {
            let mut owned = self.owned.write().unwrap_or_else(|p| p.into_inner());
            let changed = *owned != held;
            *owned = held;
            changed
        };
        if changed {
            self.changes.send_modify(|n| *n += 1);
        }
        if let Some(hooks) = &self.hooks {
            hooks.held(&self.owned());
        }
        Ok(report)
    }

    /// This host's order of preference over the tenants (rendezvous hashing): each host
    /// prefers a different spread, and a tenant's favourite host stays its favourite.
    fn preference(&self) -> Vec<String> {
        use sha2::{Digest, Sha256};
        let mut ranked: Vec<([u8; 8], String)> = self
            .tenants
            .iter()
            .map(|t| {
                let digest = Sha256::new()
                    .chain_update(t.as_bytes())
                    .chain_update([0])
                    .chain_update(self.host.as_bytes())
                    .finalize();
                let mut key = [0u8; 8];
                key.copy_from_slice(&digest[..8]);
                (key, t.clone())
            })
            .collect();
        ranked.sort();
        ranked.into_iter().map(|(_, t)| t).collect()
    }

    /// Runs rounds every third of the lease until `stop`; then lets every tenant go and
    /// leaves, so the other hosts take them over at once. Each round's outcome goes to
    /// `metrics` under the host's id.
    pub async fn run(&self, metrics: crate::metrics::Metrics, mut stop: watch::Receiver<bool>) {
        use crate::metrics::{LIVE_HOSTS, TENANTS_SERVED, TENANT_MOVES};
        loop {
            let this = self.clone();
            match tokio::task::spawn_blocking(move || this.round(Utc::now())).await {
                Ok(Ok(r)) => {
                    let host = [("host", self.host.as_str())];
                    metrics.set(TENANTS_SERVED, &host, self.read().len() as i64);
                    metrics.set(LIVE_HOSTS, &host, r.hosts as i64);
                    for (what, n) in [
                        ("claimed", r.claimed.len()),
                        ("released", r.released.len()),
                        ("lost", r.lost.len()),
                    ] {
                        metrics.add(
                            TENANT_MOVES,
                            &[("host", self.host.as_str()), ("what", what)],
                            n as u64,
                        );
                    }
                    if !r.claimed.is_empty() || !r.released.is_empty() || !r.lost.is_empty() {
                        tracing::info!(host = %self.host, claimed = ?r.claimed, released = ?r.released,
                            lost = ?r.lost, hosts = r.hosts, owned = self.read().len(), "tenant ownership changed");
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(host = %self.host, error = %format!("{e:#}"), "ownership round failed")
                }
                Err(e) => tracing::warn!(error = %e, "ownership round panicked"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.lease / 3) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
        let this = self.clone();
        let _ = tokio::task::spawn_blocking(move || this.leave()).await;
    }

    /// Lets every tenant go and removes the heartbeat.
    pub fn leave(&self) -> Result<()> {
        if let Some(hooks) = &self.hooks {
            hooks.held(&self.owned());
        }
        let held = std::mem::take(&mut *self.owned.write().unwrap_or_else(|p| p.into_inner()));
        for (tenant, fence) in held {
            self.store.release(&tenant, &self.host, fence)?;
        }
        self.changes.send_modify(|n| *n += 1);
        self.store.leave(&self.host)
    }
}

/// Runs `task` for `tenant` while this host serves it: started when the host takes the tenant,
/// told to stop (its own stop channel turns true) when the host loses it or `stop` turns true,
/// and started again if the tenant comes back.
pub async fn while_owned<F, Fut>(
    ownership: Ownership,
    tenant: String,
    mut stop: watch::Receiver<bool>,
    task: F,
) where
    F: Fn(watch::Receiver<bool>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut changes = ownership.subscribe();
    loop {
        if *stop.borrow() {
            return;
        }
        if !ownership.owns(&tenant) {
            let closed = tokio::select! {
                changed = changes.changed() => changed.is_err(),
                _ = stop.wait_for(|s| *s) => true,
            };
            if closed {
                return;
            }
            continue;
        }
        let (session_tx, session_rx) = watch::channel(false);
        let run = task(session_rx);
        tokio::pin!(run);
        loop {
            let end = tokio::select! {
                _ = &mut run => break,
                changed = changes.changed() => changed.is_err() || !ownership.owns(&tenant),
                _ = stop.wait_for(|s| *s) => true,
            };
            if end {
                let _ = session_tx.send(true);
                (&mut run).await;
                break;
            }
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// The default host id: the machine's name and the daemon's listen port, unique among running
/// hosts (two cannot listen on one address) and the same after a restart.
pub fn default_host_id(listen: std::net::SocketAddr) -> String {
    let name = machine_name();
    match listen.port() {
        // An ephemeral port (tests): the process is what is unique.
        0 => format!("{name}:pid{}", std::process::id()),
        port => format!("{name}:{port}"),
    }
}

/// The machine's name (`host` when it has none), without `:` so that it can start an id
/// that `:` separates (host ids here, run-lease holders in [`crate::scheduler::lease`]).
pub(crate) fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && !h.contains(':'))
        .unwrap_or_else(|| "host".into())
}

pub(crate) fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests;

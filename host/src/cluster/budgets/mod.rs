//! The API budgets a tenant's pacers spent lately, handed from host to host (issue 17 point 5).
//!
//! Only the host serving a tenant calls its APIs, so a realm's budget is that host's to keep.
//! What moves with the tenant is the last minute's spending: the serving host saves each
//! connection's [`Spent`] every ownership round, and a host that takes the tenant over starts
//! its pacers from it, counting as spent what the previous host may have sent after it last
//! saved (up to a round and the lease; see [`Pacer::take_over`]). Adding or losing hosts then
//! never lets a realm see more than its limits.

mod postgres;
mod sqlite;

use super::OwnershipHooks;
use crate::caps::pacing::{Pacer, Spent};
use crate::db::{Backend, Database};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The storage interface of spent budgets (`pacing_spent`).
pub(crate) trait SpentStore: Send + Sync {
    /// Saves a connection's spending (JSON) at `saved` (ms since the epoch).
    fn save(&self, tenant: &str, connection: &str, spent: &str, saved: i64) -> Result<()>;
    /// The last saved spending and when it was saved.
    fn load(&self, tenant: &str, connection: &str) -> Result<Option<(String, i64)>>;
}

/// Spent budgets in a store. Cloning shares it.
#[derive(Clone)]
pub struct Budgets {
    store: Arc<dyn SpentStore>,
}

impl Budgets {
    /// The budgets of `db`.
    pub fn new(db: &Database) -> Self {
        let store: Arc<dyn SpentStore> = match db.backend() {
            Backend::Sqlite(db) => Arc::new(sqlite::SqliteSpent::new(db.clone())),
            Backend::Postgres(db) => Arc::new(postgres::PostgresSpent::new(db.clone())),
        };
        Self { store }
    }

    /// Saves what `pacer` spent, for the next host.
    pub fn save(&self, tenant: &str, connection: &str, pacer: &Pacer) -> Result<()> {
        let spent = serde_json::to_string(&pacer.spent()).context("encoding spent budgets")?;
        self.store
            .save(tenant, connection, &spent, Utc::now().timestamp_millis())
    }

    /// Starts `pacer` from what the tenant's previous host saved; `unseen` is how long that
    /// host may have gone on sending after its last save (counted from the save: a save older
    /// than a minute hands nothing over). Nothing saved (no host served the tenant before):
    /// nothing to take over.
    pub fn take_over(
        &self,
        tenant: &str,
        connection: &str,
        pacer: &Pacer,
        unseen: Duration,
    ) -> Result<()> {
        let (spent, saved) = match self.store.load(tenant, connection)? {
            Some((json, saved)) => (
                serde_json::from_str::<Spent>(&json).with_context(|| {
                    format!("the spent budgets of tenant {tenant} connection {connection}")
                })?,
                DateTime::from_timestamp_millis(saved).unwrap_or_else(Utc::now),
            ),
            None => return Ok(()),
        };
        pacer.take_over(&spent, saved, unseen);
        Ok(())
    }
}

/// The pacers of a host's tenants, handed over as the tenants come and go.
pub struct Handover {
    budgets: Budgets,
    /// Tenant → its paced connections.
    pacers: BTreeMap<String, Vec<(String, Arc<Pacer>)>>,
    unseen: Duration,
    /// (tenant, connection) → the pacer's [`Pacer::recorded`] as last saved or taken over: a
    /// pacer that recorded nothing since is not written again (most tenants are idle most
    /// rounds).
    saved: Mutex<HashMap<(String, String), u64>>,
}

impl Handover {
    /// The handover of `tenants`' pacers through `db`; `unseen` is how long a previous host
    /// may have sent after its last save (a round, and a margin).
    pub fn new(
        db: &Database,
        tenants: &BTreeMap<String, crate::tenant::TenantCaps>,
        unseen: Duration,
    ) -> Self {
        let pacers = tenants
            .iter()
            .map(|(id, caps)| {
                let paced = caps
                    .connections
                    .iter()
                    .filter_map(|(name, c)| Some((name.clone(), c.pacer.clone()?)))
                    .collect();
                (id.clone(), paced)
            })
            .collect();
        Self {
            budgets: Budgets::new(db),
            pacers,
            unseen,
            saved: Mutex::default(),
        }
    }

    fn mark_saved(&self, tenant: &str, connection: &str, recorded: u64) {
        self.saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((tenant.to_string(), connection.to_string()), recorded);
    }

    fn saved_at(&self, tenant: &str, connection: &str) -> Option<u64> {
        self.saved
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(tenant.to_string(), connection.to_string()))
            .copied()
    }
}

impl OwnershipHooks for Handover {
    fn gained(&self, tenant: &str) {
        for (connection, pacer) in self.pacers.get(tenant).into_iter().flatten() {
            if let Err(e) = self
                .budgets
                .take_over(tenant, connection, pacer, self.unseen)
            {
                // Without the saved minute the unseen tail still counts; say so.
                tracing::warn!(tenant, connection, error = %format!("{e:#}"),
                    "could not read the spent API budget of the previous host");
                pacer.take_over(&Spent::default(), Utc::now(), self.unseen);
            }
            // What is stored is what this pacer started from.
            self.mark_saved(tenant, connection, pacer.recorded());
        }
    }

    fn held(&self, tenants: &[String]) {
        for tenant in tenants {
            for (connection, pacer) in self.pacers.get(tenant).into_iter().flatten() {
                let recorded = pacer.recorded();
                if self.saved_at(tenant, connection) == Some(recorded) {
                    continue;
                }
                match self.budgets.save(tenant, connection, pacer) {
                    Ok(()) => self.mark_saved(tenant, connection, recorded),
                    Err(e) => tracing::warn!(tenant, connection = %connection,
                        error = %format!("{e:#}"), "could not save the spent API budget"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::pacing::{Admission, BudgetKind, PacingConfig};
    use crate::db::testing::each_backend;

    fn pacer() -> Pacer {
        Pacer::new(
            BudgetKind::Qbo,
            PacingConfig {
                per_second: 1000,
                per_minute: 5,
                max_wait_ms: 0,
                ..PacingConfig::default()
            },
        )
        .with_realm(Some("r"))
    }

    #[test]
    fn a_pacer_is_saved_again_only_after_it_recorded_something() {
        each_backend("budgets_saved_when_changed", |db| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let paced = Arc::new(pacer());
                let handover = Handover {
                    budgets: Budgets::new(&db),
                    pacers: BTreeMap::from([(
                        "acme".to_string(),
                        vec![("quickbooks".to_string(), paced.clone())],
                    )]),
                    unseen: Duration::ZERO,
                    saved: Mutex::default(),
                };
                let saved_at = || {
                    handover
                        .budgets
                        .store
                        .load("acme", "quickbooks")
                        .unwrap()
                        .map(|(_, at)| at)
                };
                let tenants = ["acme".to_string()];
                // Taken over with nothing stored: nothing to write until it sends.
                handover.gained("acme");
                handover.held(&tenants);
                assert_eq!(saved_at(), None);
                assert_eq!(paced.admit("r", false).await, Admission::Send);
                handover.held(&tenants);
                let first = saved_at().expect("saved after a send");
                std::thread::sleep(std::time::Duration::from_millis(5));
                handover.held(&tenants);
                assert_eq!(saved_at(), Some(first), "unchanged: not written again");
                assert_eq!(paced.admit("r", false).await, Admission::Send);
                std::thread::sleep(std::time::Duration::from_millis(5));
                handover.held(&tenants);
                assert!(saved_at().unwrap() > first, "a new send is saved");
            })
        });
    }

    #[test]
    fn a_realms_minute_spent_on_one_host_is_spent_on_the_next() {
        each_backend("budgets_handover", |db| {
            tokio::runtime::Runtime::new().unwrap().block_on(async {
                let (first, next) = (Budgets::new(&db), Budgets::new(&db));
                let a = pacer();
                for _ in 0..5 {
                    assert_eq!(a.admit("r", false).await, Admission::Send);
                }
                first.save("acme", "quickbooks", &a).unwrap();
                // Another tenant's or connection's budget is its own.
                let other = pacer();
                next.take_over("zeta", "quickbooks", &other, Duration::ZERO)
                    .unwrap();
                assert_eq!(other.admit("r", false).await, Admission::Send);
                // The next host's pacer for acme has nothing left this minute.
                let b = pacer();
                next.take_over("acme", "quickbooks", &b, Duration::ZERO)
                    .unwrap();
                assert!(matches!(b.admit("r", false).await, Admission::Throttled(_)));
                // Saved again (an empty minute), it is the latest that counts.
                first.save("acme", "quickbooks", &pacer()).unwrap();
                let c = pacer();
                next.take_over("acme", "quickbooks", &c, Duration::ZERO)
                    .unwrap();
                assert_eq!(c.admit("r", false).await, Admission::Send);
            })
        });
    }
}

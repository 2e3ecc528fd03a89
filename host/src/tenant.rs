//! A tenant: its id, settings and connections, and the capabilities built from them.

use crate::caps::config::Settings;
use crate::caps::http::Connections;
use crate::caps::schedule::{ScheduleBackend, StoreSchedule};
use crate::caps::storage::{memory::MemoryBackend, KeyValueBackend};
use crate::db::Database;
use std::sync::Arc;

/// Everything a guest call may reach on behalf of one tenant.
#[derive(Clone)]
pub struct TenantCaps {
    /// The tenant id; it namespaces storage and schedules.
    pub id: String,
    /// Settings visible through `wasi:config`.
    pub settings: Settings,
    /// Named connections for `wasi:http`.
    pub connections: Connections,
    /// Key-value state.
    pub storage: Arc<dyn KeyValueBackend>,
    /// Delayed jobs.
    pub schedule: Arc<dyn ScheduleBackend>,
}

impl TenantCaps {
    /// A tenant with no connections and throw-away state (one-shot `ledgerlink call`, tests).
    pub fn ephemeral(id: &str) -> anyhow::Result<Self> {
        Ok(Self {
            id: id.to_string(),
            settings: Arc::default(),
            connections: Arc::default(),
            storage: Arc::new(MemoryBackend::default()),
            schedule: Arc::new(StoreSchedule::new(Database::in_memory()?)),
        })
    }
}

//! The wasmtime runtime: one [`Engine`], one [`Linker`] and one `InstancePre` for the process; a
//! fresh [`Store`] per call, with a memory limit and an epoch deadline.

mod bindings;
mod cache;
pub mod dynamic;
mod invoke;
pub use invoke::MAPPING_INTERFACE;
mod engine;
mod limits;
mod state;

pub use bindings::{exports, ledgerlink, PluginCore, PluginCorePre};
pub use limits::Limits;
pub use state::HostState;

use crate::tenant::TenantCaps;
use anyhow::{Context, Result};
use std::path::Path;
use std::sync::Arc;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};

/// A loaded, linked and pre-instantiated component, ready to be instantiated per call.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    pre: PluginCorePre<HostState>,
    limits: Limits,
    /// The job names `describe` listed, once it was called: `run-later` takes only these.
    jobs: Arc<std::sync::OnceLock<Arc<Vec<String>>>>,
    /// One permit per instance the pool holds: a call waits for one (first come, first served)
    /// instead of failing when every instance is in use (1,000 tenants' polls, webhooks and
    /// retries at once; see BENCHMARKS.md, "1,000 tenants").
    instances: Arc<tokio::sync::Semaphore>,
    _ticker: Arc<engine::EpochTicker>,
}

impl Runtime {
    /// Loads the component built into this binary.
    pub fn embedded(limits: Limits) -> Result<Self> {
        Self::from_bytes(crate::EMBEDDED_PLUGIN, limits)
    }

    /// Loads a component from a file (`--plugin PATH`).
    pub fn from_file(path: &Path, limits: Limits) -> Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading component {}", path.display()))?;
        Self::from_bytes(&bytes, limits)
    }

    /// Compiles (or loads from the on-disk cache) and links a component.
    pub fn from_bytes(bytes: &[u8], limits: Limits) -> Result<Self> {
        let engine = engine::build(&limits)?;
        let component: Component = cache::load_or_compile(&engine, bytes)?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        HostState::add_to_linker(&mut linker)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("the component needs an import this host does not give")?;
        let pre = PluginCorePre::new(pre)
            .map_err(anyhow::Error::from)
            .context("the component does not export the ledgerlink:sync world")?;
        let ticker = Arc::new(engine::EpochTicker::start(engine.clone()));
        let instances = Arc::new(tokio::sync::Semaphore::new(limits.pool_instances as usize));
        Ok(Self {
            engine,
            pre,
            limits,
            jobs: Arc::default(),
            instances,
            _ticker: ticker,
        })
    }

    /// Remembers the jobs `describe` listed (the first answer counts: the component does not
    /// change while it is loaded).
    pub fn remember_jobs(&self, names: Vec<String>) {
        let _ = self.jobs.set(Arc::new(names));
    }

    /// The jobs `describe` listed, once it was called.
    pub fn described_jobs(&self) -> Option<Arc<Vec<String>>> {
        self.jobs.get().cloned()
    }

    /// The engine (shared by every store).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A free instance of the pool, waited for; the store that holds it gives it back when
    /// dropped.
    pub(crate) async fn instance_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit> {
        Ok(self.instances.clone().acquire_owned().await?)
    }

    /// A fresh store and instance for one call on behalf of `tenant`, once one of the pool's
    /// instances is free.
    pub async fn instantiate(&self, tenant: &TenantCaps) -> Result<(Store<HostState>, PluginCore)> {
        let state = HostState::new(tenant, &self.limits)
            .with_jobs(self.described_jobs())
            .with_instance(self.instance_permit().await?);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        // The CPU budget counts ticks in which the guest ran: the callback fires at most once
        // per tick of execution, so time blocked in a host call (an API round trip) is not
        // spent. Each tick also yields, so one busy guest cannot hold the executor.
        let budget = self.limits.deadline_ticks();
        let mut used = 0u64;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            used += 1;
            Ok(if used >= budget {
                wasmtime::UpdateDeadline::Interrupt
            } else {
                wasmtime::UpdateDeadline::Yield(1)
            })
        });
        let instance = self.pre.instantiate_async(&mut store).await?;
        Ok((store, instance))
    }

    /// The underlying `InstancePre`, for dynamic calls.
    pub fn instance_pre(&self) -> &wasmtime::component::InstancePre<HostState> {
        self.pre.instance_pre()
    }

    /// Runs `f` under the wall-clock timeout; a guest that blocks in a host call past it is
    /// abandoned (its store is dropped), one that spins is trapped by the epoch deadline.
    pub async fn with_timeout<F, T>(&self, what: &str, f: F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        match tokio::time::timeout(self.limits.wall_clock, f).await {
            Ok(result) => result,
            Err(_) => anyhow::bail!(
                "{what} exceeded the wall-clock limit of {:?}",
                self.limits.wall_clock
            ),
        }
    }
}

//! What a [`wasmtime::Store`] holds for one call, and how each capability is linked to its
//! part of it.

use super::bindings::ledgerlink::sync::types;
use super::limits::Limits;
use crate::caps::config::{self, ConfigView};
use crate::caps::http::{ConnectionHooks, EgressRecord};
use crate::caps::schedule::{self, ScheduleView};
use crate::caps::storage::{self, StorageView};
use crate::tenant::TenantCaps;
use anyhow::Result;
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Per-call host state. The guest sees no environment variables, no arguments, no preopened
/// directories and no sockets: only what the capabilities below give it.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    hooks: ConnectionHooks,
    pub(super) limits: StoreLimits,
    tenant: TenantCaps,
    jobs: Option<std::sync::Arc<Vec<String>>>,
    /// The pool instance this call holds (see [`super::Runtime::instantiate`]).
    instance: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl HostState {
    /// State for one call on behalf of `tenant`.
    pub fn new(tenant: &TenantCaps, limits: &Limits) -> Self {
        let wasi = WasiCtx::builder()
            .inherit_stderr()
            .allow_ip_name_lookup(false)
            .allow_tcp(false)
            .allow_udp(false)
            .build();
        Self {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            hooks: ConnectionHooks::new(tenant.connections.clone()),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .instances(64)
                .trap_on_grow_failure(true)
                .build(),
            tenant: tenant.clone(),
            jobs: None,
            instance: None,
        }
    }

    /// The jobs the component describes: `run-later` refuses any other.
    pub fn with_jobs(mut self, jobs: Option<std::sync::Arc<Vec<String>>>) -> Self {
        self.jobs = jobs;
        self
    }

    /// Holds `permit` (one of the pool's instances) for as long as the store lives.
    pub(crate) fn with_instance(mut self, permit: tokio::sync::OwnedSemaphorePermit) -> Self {
        self.instance = Some(permit);
        self
    }

    /// The tenant this call runs for.
    pub fn tenant(&self) -> &TenantCaps {
        &self.tenant
    }

    /// Requests the guest made, with where they went (for reports and tests).
    pub fn egress_log(&self) -> Vec<EgressRecord> {
        self.hooks.log()
    }

    /// Adds every import the component may use to `linker`: the WASI basics and outgoing HTTP
    /// through the views below, each Ledgerlink capability through its own view.
    pub(super) fn add_to_linker(linker: &mut Linker<HostState>) -> Result<()> {
        wasmtime_wasi::p2::add_to_linker_async(linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(linker)?;
        storage::add_to_linker(linker, |s| {
            StorageView::new(&mut s.table, &*s.tenant.storage, &s.tenant.id)
        })?;
        config::add_to_linker(linker, |s| ConfigView::new(&s.tenant.settings))?;
        schedule::add_to_linker(linker, |s| {
            ScheduleView::new(&*s.tenant.schedule, &s.tenant.id)
                .with_jobs(s.jobs.as_deref().map(Vec::as_slice))
        })?;
        types::add_to_linker::<HostState, HasSelf<HostState>>(linker, |s| s)?;
        Ok(())
    }
}

// `types` has no functions; its generated `Host` trait is empty.
impl types::Host for HostState {}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

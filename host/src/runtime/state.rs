//! What a [`wasmtime::Store`] holds for one call.

use super::limits::Limits;
use crate::caps::http::ConnectionHooks;
use crate::tenant::TenantCaps;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Per-call host state. The guest sees no environment variables, no arguments, no preopened
/// directories and no sockets: only what the capabilities below give it.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    pub(crate) hooks: ConnectionHooks,
    pub(crate) limits: StoreLimits,
    pub(crate) tenant: TenantCaps,
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
        }
    }

    /// The tenant this call runs for.
    pub fn tenant(&self) -> &TenantCaps {
        &self.tenant
    }

    /// Requests the guest made, with where they went (for reports and tests).
    pub fn egress_log(&self) -> Vec<crate::caps::http::EgressRecord> {
        self.hooks.log()
    }
}

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

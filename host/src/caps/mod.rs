//! The capabilities given to the guest, one module each, each with its own `add_to_linker`-style
//! wiring (HTTP and the WASI basics are linked by the runtime from wasmtime-wasi(-http); this
//! module adds the connection policy as hooks).
//!
//! | capability | WIT | module | backends |
//! |---|---|---|---|
//! | outgoing HTTP to named connections | `wasi:http/outgoing-handler@0.2.2` | [`http`] | hyper (wasmtime-wasi-http) |
//! | rate budgets and throttling of those calls | (inside `http`) | [`pacing`] | in memory, per tenant connection |
//! | durable key-value state | `wasi:keyvalue/store@0.2.0-draft` | [`storage`] | SQLite, in-memory |
//! | tenant settings | `wasi:config/store@0.2.0-rc.1` | [`config`] | TOML file |
//! | delayed jobs | `ledgerlink:sync/schedule` | [`schedule`] | SQLite, in-memory |

pub mod config;
pub mod http;
pub mod pacing;
mod replay;
pub mod schedule;
pub mod storage;

use crate::runtime::HostState;
use anyhow::Result;
use wasmtime::component::{HasSelf, Linker};

/// Adds Ledgerlink's own imports (storage, config, schedule) to `linker`.
pub fn add_to_linker(linker: &mut Linker<HostState>) -> Result<()> {
    crate::runtime::PluginCore::add_to_linker::<HostState, HasSelf<HostState>>(linker, |state| {
        state
    })?;
    Ok(())
}

// The `types` interface has no functions; its generated `Host` trait is empty.
impl crate::runtime::ledgerlink::sync::types::Host for HostState {}

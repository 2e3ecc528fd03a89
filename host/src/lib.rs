//! Ledgerlink's reference host: runs the sync component on wasmtime and gives it exactly the
//! capabilities it is allowed — outgoing HTTP to its named connections, durable key-value
//! storage namespaced per tenant, tenant configuration, and delayed jobs.
//!
//! | module | holds |
//! |---|---|
//! | [`runtime`] | the Engine, Linker and `InstancePre`, the per-call store state the capabilities are linked to, limits, the on-disk component cache, dynamic JSON calls |
//! | [`caps`] | one module per capability given to the guest: `http`, `storage`, `config`, `schedule` |
//! | [`flow_calls`] | calling the component's flows (`describe`, `status`, `report`, `run-job`, `on-webhook`) for a tenant |
//! | [`emulated_company`] | a tenant wired to in-process emulators (demo, end-to-end tests, benchmarks) |
//! | [`reports`] | the reconciliation (CSV, HTML with a chart) and aging (CSV) reports rendered from what the component's `report` export returns |
//! | [`tenant`] | a tenant's configuration (TOML) and the capabilities built from it |
//! | [`scheduler`] | cron schedules, run-later and retries; `job_runs` and the error ledger |
//! | [`daemon`] | `ledgerlink run`: the webhook server, inbox worker, scheduler and Pub/Sub subscriptions together |
//! | [`pubsub`] | Salesforce change events over the Pub/Sub API, handed to the component |
//! | [`alerts`] | failures a person must act on (a job failed, retries ran out, a reconnect needed, the Salesforce quota at its reserve): one notification each, listed by `status` |
//! | [`retention`] | finished work deleted after `retention-days` |
//! | [`metrics`] | the counters and latencies every part of the daemon records, in the Prometheus text format |
//! | [`status`] | what `ledgerlink status` reports per tenant |
//! | [`status_page`] | `/status` and `/status.json` on the daemon's address (HTML and JSON of the same), behind a bearer token when one is set |
//! | [`cli`] | the `ledgerlink` commands |
#![deny(missing_docs)]

pub mod alerts;
pub mod auth;
pub mod caps;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod daemon;
pub mod db;
#[cfg(feature = "emulators")]
pub mod emulated_company;
pub mod flow_calls;
pub mod metrics;
pub mod pubsub;
pub mod reports;
pub mod retention;
pub mod runtime;
pub mod scheduler;
pub mod status;
pub mod status_page;
pub mod tenant;
pub mod webhooks;

/// The plugin component built by `build.rs` from `plugin/` for `wasm32-wasip2`.
pub const EMBEDDED_PLUGIN: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ledgerlink_plugin.wasm"));

/// Path of the test guest built by `build.rs` (`host/test-guest`): a component whose `run-job`
/// spins, allocates without bound or probes a capability. Used by the sandbox tests only.
#[doc(hidden)]
pub const TEST_GUEST_PATH: &str = concat!(env!("OUT_DIR"), "/ledgerlink_test_guest.wasm");

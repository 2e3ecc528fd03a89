//! The host's integration tests, in one binary (one link of wasmtime instead of one per file),
//! a module per area; `support` holds what several areas share.

mod support;

mod acknowledged_writes_survive_kill;
mod alerts;
mod audit_and_review;
mod auth;
mod backfill_killed_and_restarted;
mod component;
mod connect;
mod daemon;
mod daemon_serves_a_tenant;
mod demo;
mod errors_cli;
mod many_hosts;
mod one_writer;
mod pacing;
mod random_input;
mod reports_and_status;
mod sandbox;
mod scheduler;
mod webhooks;

//! The host's integration tests, in one binary (one link of wasmtime instead of one per file),
//! a module per area; `support` holds what several areas share.

mod support;

mod alerts;
mod auth;
mod component;
mod connect;
mod crash;
mod crash_recovery;
mod daemon;
mod daemon_serves_a_tenant;
mod errors_cli;
mod one_writer;
mod pacing;
mod random_input;
mod sandbox;
mod scheduler;
mod webhooks;

//! The capabilities given to the guest, one module each. Like wasmtime's own WASI crates, each
//! generates its interface, implements it on a view borrowing what a call may reach, and has an
//! `add_to_linker(linker, get)`; [`crate::runtime`] composes them. HTTP and the WASI basics come
//! from wasmtime-wasi(-http); [`http`] adds the connection policy to them as hooks.
//!
//! | capability | WIT | module | view | backends |
//! |---|---|---|---|---|
//! | outgoing HTTP to named connections | `wasi:http/outgoing-handler@0.2.2` | [`http`] | (hooks: [`http::ConnectionHooks`]) | hyper (wasmtime-wasi-http) |
//! | rate budgets and throttling of those calls | (inside `http`) | [`pacing`] | | in memory, per tenant connection |
//! | durable key-value state | `wasi:keyvalue/store@0.2.0-draft` | [`storage`] | [`storage::StorageView`] | SQLite, in-memory |
//! | tenant settings | `wasi:config/store@0.2.0-rc.1` | [`config`] | [`config::ConfigView`] | TOML file |
//! | delayed jobs | `ledgerlink:sync/schedule` | [`schedule`] | [`schedule::ScheduleView`] | SQLite |

pub mod config;
pub mod http;
pub mod pacing;
mod replay;
pub mod schedule;
pub mod storage;

//! Faithful local emulators of the QuickBooks Online Accounting API v3 and the Salesforce REST API.
//!
//! They follow `shared/reference/api-facts.md`: the same URLs, envelopes, error shapes, limits and
//! idempotency rules as the real services, so that code which works against them works against
//! the real thing. Each emulator is an axum `Router` over in-memory state with:
//!
//! | piece | file | what it gives tests |
//! |---|---|---|
//! | controllable clock | `common/clock.rs` | token expiry and rate windows tested in milliseconds |
//! | request log | `common/request_log.rs` | count and assert on every request (method, path, status, latency) |
//! | fault injection | `common/faults.rs` | 500/503, latency, reset, timeout, expired token; deterministic under a seed |
//! | control API | `common/control.rs` | `/_emulator/...` to advance the clock, set faults and read the log over HTTP |
//! | server | `common/server.rs` | start on an ephemeral loopback port, in-process |
#![deny(missing_docs)]

pub mod common;
pub mod qbo;
pub mod salesforce;
pub mod seed;

pub use common::clock::Clock;
pub use common::faults::{FaultKind, FaultRule, Faults};
pub use common::request_log::{RequestLog, RequestRecord};
pub use common::server::RunningServer;

//! The control API every emulator mounts under `/_emulator`: advance the clock, set faults, read
//! and clear the request log. It is how `ledgerlink emulate` users and out-of-process tests steer
//! an emulator.
//!
//! | method and path | body | effect |
//! |---|---|---|
//! | `POST /_emulator/clock/advance` | `{"seconds": 3600}` | moves the clock forward |
//! | `GET /_emulator/clock` | | `{"now": RFC 3339, "offset_seconds": n}` |
//! | `PUT /_emulator/faults` | `{"seed": 1, "rules": [FaultRule]}` | replaces the fault rules |
//! | `GET /_emulator/faults` | | the rules and the injected count |
//! | `GET /_emulator/log` | | every logged request |
//! | `DELETE /_emulator/log` | | clears the log |

use crate::common::{clock::Clock, faults::FaultRule, faults::Faults, request_log::RequestLog};
use axum::{
    extract::State,
    routing::{get, post},
    Json, Router,
};
use serde::Deserialize;
use serde_json::{json, Value};

/// The state the control API steers.
#[derive(Clone)]
pub struct Control {
    /// The emulator's clock.
    pub clock: Clock,
    /// The emulator's fault rules.
    pub faults: Faults,
    /// The emulator's request log.
    pub log: RequestLog,
}

#[derive(Deserialize)]
struct Advance {
    seconds: i64,
}

#[derive(Deserialize)]
struct SetFaults {
    #[serde(default)]
    seed: u64,
    rules: Vec<FaultRule>,
}

/// The `/_emulator` routes, to merge into an emulator's router.
pub fn router(control: Control) -> Router {
    Router::new()
        .route("/_emulator/clock", get(clock))
        .route("/_emulator/clock/advance", post(advance))
        .route("/_emulator/faults", get(faults).put(set_faults))
        .route("/_emulator/log", get(log).delete(clear_log))
        .with_state(control)
}

async fn clock(State(c): State<Control>) -> Json<Value> {
    Json(
        json!({"now": c.clock.now().to_rfc3339(), "offset_seconds": c.clock.offset().num_seconds()}),
    )
}

async fn advance(State(c): State<Control>, Json(body): Json<Advance>) -> Json<Value> {
    c.clock.advance(chrono::Duration::seconds(body.seconds));
    clock(State(c)).await
}

async fn faults(State(c): State<Control>) -> Json<Value> {
    Json(json!({"rules": c.faults.rules(), "injected": c.faults.injected()}))
}

async fn set_faults(State(c): State<Control>, Json(body): Json<SetFaults>) -> Json<Value> {
    c.faults.set(body.rules, body.seed);
    faults(State(c)).await
}

async fn log(State(c): State<Control>) -> Json<Value> {
    Json(json!({"requests": c.log.entries()}))
}

async fn clear_log(State(c): State<Control>) -> Json<Value> {
    c.log.clear();
    Json(json!({"cleared": true}))
}

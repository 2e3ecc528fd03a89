//! Fault injection by rule, deterministic under a seed: the same seed and the same request
//! sequence give the same faults, so a flaky-network test is reproducible.

use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What an injected fault does to a request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer with this status and the emulator's generic error body for it.
    Status {
        /// HTTP status, e.g. 500 or 503.
        status: u16,
    },
    /// Add latency, then serve the request normally.
    Latency {
        /// Added delay in milliseconds.
        ms: u64,
    },
    /// Drop the connection mid-response (the client sees a reset / incomplete message).
    Reset,
    /// Hold the request for this long without answering, then drop it.
    Timeout {
        /// How long to hold, in milliseconds.
        ms: u64,
    },
    /// Answer 401 as if the access token had expired.
    ExpiredToken,
    /// Serve the request (a write is committed), then answer this status instead of the
    /// result: the client cannot tell it from a failure before the commit.
    AfterCommit {
        /// HTTP status, e.g. 503.
        status: u16,
    },
    /// Serve the request (a write is committed), then drop the connection before the answer.
    LostResponse,
}

/// One rule: which requests it applies to, what it does, how often and how many times.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaultRule {
    /// Only this method (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Only paths containing this text (any when absent).
    #[serde(default)]
    pub path_contains: Option<String>,
    /// What happens.
    pub fault: FaultKind,
    /// Chance per matching request, 0.0 to 1.0 (a probability, not money).
    #[serde(default = "always")]
    pub probability: f64,
    /// Stop after this many injections (unlimited when absent).
    #[serde(default)]
    pub times: Option<u32>,
}

fn always() -> f64 {
    1.0
}

impl FaultRule {
    fn matches(&self, method: &str, path: &str) -> bool {
        self.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|p| path.contains(p))
            && self.times != Some(0)
    }
}

struct FaultState {
    rules: Vec<FaultRule>,
    rng: StdRng,
    injected: u64,
}

/// The rule set of one emulator. Cloning shares it.
#[derive(Clone)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
}

impl Default for Faults {
    fn default() -> Self {
        Self::with_seed(0)
    }
}

impl Faults {
    /// No rules, random choices seeded with `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Self {
            state: Arc::new(Mutex::new(FaultState {
                rules: Vec::new(),
                rng: StdRng::seed_from_u64(seed),
                injected: 0,
            })),
        }
    }

    /// Replaces the rules and reseeds.
    pub fn set(&self, rules: Vec<FaultRule>, seed: u64) {
        let mut state = self.state.lock().expect("faults lock");
        state.rules = rules;
        state.rng = StdRng::seed_from_u64(seed);
    }

    /// Adds one rule.
    pub fn push(&self, rule: FaultRule) {
        self.state.lock().expect("faults lock").rules.push(rule);
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.state.lock().expect("faults lock").rules.clear();
    }

    /// The current rules.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.state.lock().expect("faults lock").rules.clone()
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> u64 {
        self.state.lock().expect("faults lock").injected
    }

    /// The fault to inject for this request, if any (first matching rule that fires).
    pub fn decide(&self, method: &str, path: &str) -> Option<FaultKind> {
        let mut guard = self.state.lock().expect("faults lock");
        let state = &mut *guard;
        for rule in state.rules.iter_mut() {
            if !rule.matches(method, path) {
                continue;
            }
            if rule.probability < 1.0 && state.rng.gen::<f64>() >= rule.probability {
                continue;
            }
            if let Some(times) = rule.times.as_mut() {
                *times -= 1;
            }
            state.injected += 1;
            return Some(rule.fault.clone());
        }
        None
    }
}

/// What the fault middleware needs: the rules and how this emulator renders an error.
#[derive(Clone)]
pub struct FaultLayerState {
    /// The rule set.
    pub faults: Faults,
    /// Renders `Status` faults and `ExpiredToken` in the emulator's own error shape.
    pub render: fn(&FaultKind) -> Response,
}

/// axum middleware applying the rules (use with `axum::middleware::from_fn_with_state`).
/// The control API (`/_emulator/...`) and OAuth endpoints are never faulted unless a rule names them.
pub async fn middleware(
    State(layer): State<FaultLayerState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/_emulator") {
        return next.run(req).await;
    }
    match layer.faults.decide(req.method().as_str(), &path) {
        None => next.run(req).await,
        Some(FaultKind::Latency { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(req).await
        }
        Some(FaultKind::Timeout { ms }) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            broken_body_response()
        }
        Some(FaultKind::Reset) => broken_body_response(),
        Some(FaultKind::AfterCommit { status }) => {
            drop(next.run(req).await);
            (layer.render)(&FaultKind::Status { status })
        }
        Some(FaultKind::LostResponse) => {
            drop(next.run(req).await);
            broken_body_response()
        }
        Some(kind) => (layer.render)(&kind),
    }
}

/// A response whose body fails after the headers: hyper aborts the connection, which the client
/// sees as a reset or an incomplete message.
fn broken_body_response() -> Response {
    let stream = futures_util::stream::once(async {
        Err::<bytes::Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected reset",
        ))
    });
    (http::StatusCode::OK, Body::from_stream(stream)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(probability: f64, times: Option<u32>) -> FaultRule {
        FaultRule {
            method: None,
            path_contains: Some("/invoice".into()),
            fault: FaultKind::Status { status: 503 },
            probability,
            times,
        }
    }

    #[test]
    fn same_seed_gives_the_same_faults() {
        let run = |seed| {
            let faults = Faults::with_seed(seed);
            faults.set(vec![rule(0.3, None)], seed);
            (0..200)
                .map(|_| faults.decide("POST", "/v3/company/1/invoice").is_some())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let hits = run(7).iter().filter(|h| **h).count();
        assert!((30..90).contains(&hits), "about 30% of 200, got {hits}");
    }

    #[test]
    fn times_limits_the_injections_and_path_filters() {
        let faults = Faults::default();
        faults.push(rule(1.0, Some(2)));
        assert!(faults.decide("GET", "/v3/company/1/customer/1").is_none());
        assert!(faults.decide("GET", "/v3/company/1/invoice/1").is_some());
        assert!(faults.decide("GET", "/v3/company/1/invoice/1").is_some());
        assert!(faults.decide("GET", "/v3/company/1/invoice/1").is_none());
        assert_eq!(faults.injected(), 2);
    }
}

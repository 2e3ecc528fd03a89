//! Every request an emulator served, so that tests can count API calls per record.

use axum::{extract::Request, middleware::Next, response::Response};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One served request.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Query string, if any.
    pub query: Option<String>,
    /// Status code answered.
    pub status: u16,
    /// Time spent answering, in microseconds.
    pub latency_us: u64,
}

/// A shared, append-only request log. Cloning shares it.
#[derive(Clone, Default)]
pub struct RequestLog {
    records: Arc<Mutex<Vec<RequestRecord>>>,
}

impl RequestLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one record.
    pub fn push(&self, record: RequestRecord) {
        self.records.lock().expect("log lock").push(record);
    }

    /// A copy of every record so far.
    pub fn entries(&self) -> Vec<RequestRecord> {
        self.records.lock().expect("log lock").clone()
    }

    /// How many records match `pred`.
    pub fn count(&self, pred: impl Fn(&RequestRecord) -> bool) -> usize {
        self.records
            .lock()
            .expect("log lock")
            .iter()
            .filter(|r| pred(r))
            .count()
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.lock().expect("log lock").len()
    }

    /// True when nothing was logged.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every record.
    pub fn clear(&self) {
        self.records.lock().expect("log lock").clear();
    }

    /// axum middleware that logs each request (use with `axum::middleware::from_fn_with_state`).
    /// Requests to the control API (`/_emulator/...`) are not logged: they are not API calls.
    pub async fn middleware(
        axum::extract::State(log): axum::extract::State<RequestLog>,
        req: Request,
        next: Next,
    ) -> Response {
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let query = req.uri().query().map(str::to_string);
        let started = Instant::now();
        let response = next.run(req).await;
        if !path.starts_with("/_emulator") {
            log.push(RequestRecord {
                method,
                path,
                query,
                status: response.status().as_u16(),
                latency_us: started.elapsed().as_micros() as u64,
            });
        }
        response
    }
}

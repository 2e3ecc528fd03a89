//! The JSON request both API clients send, with the run's throttle trip: after the first
//! throttled answer every later call in the run fails fast instead of adding to the storm.
//!
//! A call is [`Transport::call`] (send and wait), or [`Transport::start`] now and
//! [`Transport::finish`] later: the host paces and sends a started call on its own while the
//! run does other work (reads the next page, writes back the last batch).

use super::error::ApiError;
use crate::platform::{Http, HttpRequest, HttpResponse, Method, Pending};
use serde_json::Value;
use std::cell::RefCell;

/// How an API reads its answers.
pub type Decode = fn(HttpResponse) -> Result<Value, ApiError>;

/// One connection's JSON transport.
pub struct Transport<'a> {
    http: &'a dyn Http,
    throttled: RefCell<Option<String>>,
}

/// A call [`Transport::start`] sent whose answer was not read yet: take it with
/// [`Transport::finish`]. Dropping it leaves the answer unread (the request was still sent).
#[must_use = "the answer is read with Transport::finish"]
pub struct Started {
    sent: Result<Box<dyn Pending>, ApiError>,
    decode: Decode,
}

impl<'a> Transport<'a> {
    /// Over `http`.
    pub fn new(http: &'a dyn Http) -> Self {
        Self {
            http,
            throttled: RefCell::new(None),
        }
    }

    /// Sends `body` as JSON and reads the answer with the API's `decode`.
    pub fn call(
        &self,
        method: Method,
        url: String,
        body: Option<&Value>,
        decode: Decode,
    ) -> Result<Value, ApiError> {
        self.finish(self.start(method, url, body, decode))
    }

    /// Sends `body` as JSON without waiting for the answer; a run already throttled sends
    /// nothing (its [`Transport::finish`] is the throttle).
    pub fn start(
        &self,
        method: Method,
        url: String,
        body: Option<&Value>,
        decode: Decode,
    ) -> Started {
        if let Some(retry_at) = self.throttled.borrow().clone() {
            return Started {
                sent: Err(ApiError::Throttled { retry_at }),
                decode,
            };
        }
        let mut headers = vec![("accept", "application/json".to_string())];
        let body = body.map(|b| {
            headers.push(("content-type", "application/json".to_string()));
            b.to_string().into_bytes()
        });
        let sent = self.http.start(HttpRequest {
            method,
            url,
            headers,
            body,
        });
        Started {
            sent: Ok(sent),
            decode,
        }
    }

    /// Waits for a started call's answer and reads it; a throttled answer trips the run.
    pub fn finish(&self, started: Started) -> Result<Value, ApiError> {
        let response = started.sent?.wait().map_err(ApiError::Transport)?;
        let answer = (started.decode)(response);
        if let Err(ApiError::Throttled { retry_at }) = &answer {
            *self.throttled.borrow_mut() = Some(retry_at.clone());
        }
        answer
    }
}

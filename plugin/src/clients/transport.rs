//! The JSON request both API clients send, with the run's throttle trip: after the first
//! throttled answer every later call in the run fails fast instead of adding to the storm.

use super::error::ApiError;
use crate::platform::{Http, HttpRequest, HttpResponse, Method};
use serde_json::Value;
use std::cell::RefCell;

/// One connection's JSON transport.
pub struct Transport<'a> {
    http: &'a dyn Http,
    throttled: RefCell<Option<String>>,
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
        decode: fn(HttpResponse) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        if let Some(retry_at) = self.throttled.borrow().clone() {
            return Err(ApiError::Throttled { retry_at });
        }
        let mut headers = vec![("accept", "application/json".to_string())];
        let body = body.map(|b| {
            headers.push(("content-type", "application/json".to_string()));
            b.to_string().into_bytes()
        });
        let response = self
            .http
            .send(HttpRequest {
                method,
                url,
                headers,
                body,
            })
            .map_err(ApiError::Transport)?;
        let answer = decode(response);
        if let Err(ApiError::Throttled { retry_at }) = &answer {
            *self.throttled.borrow_mut() = Some(retry_at.clone());
        }
        answer
    }
}

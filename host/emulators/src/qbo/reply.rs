//! A finished answer: status, content type and body bytes. Kept as bytes so that a `requestid`
//! replay returns exactly what the first request got.

use super::errors::QboError;
use super::idempotency::StoredReply;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// One answer.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Bytes,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: StatusCode, value: &Value) -> Self {
        Self {
            status,
            content_type: "application/json;charset=UTF-8".into(),
            body: Bytes::from(value.to_string()),
        }
    }

    /// A `Fault` answer.
    pub fn fault(error: &QboError, time: &str) -> Self {
        Self::json(error.status, &error.body(time))
    }

    /// Raw bytes.
    pub fn raw(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            content_type: content_type.into(),
            body: body.into(),
        }
    }

    /// For the replay cache.
    pub fn store(&self, at: DateTime<Utc>) -> StoredReply {
        StoredReply {
            status: self.status.as_u16(),
            content_type: self.content_type.clone(),
            body: self.body.clone(),
            at,
        }
    }

    /// From the replay cache.
    pub fn from_stored(stored: StoredReply) -> Self {
        Self {
            status: StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK),
            content_type: stored.content_type,
            body: stored.body,
        }
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        let headers = response.headers_mut();
        if let Ok(ct) = HeaderValue::from_str(&self.content_type) {
            headers.insert(header::CONTENT_TYPE, ct);
        }
        if let Ok(tid) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            headers.insert("intuit_tid", tid);
        }
        response
    }
}

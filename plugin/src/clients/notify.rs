//! Slack-style notifications over the `notify` connection: one JSON `{"text"}` per message.

use super::error::ApiError;
use crate::platform::{Http, HttpRequest, Method};
use serde_json::json;

/// Posts one message. A tenant without a `notify` connection gets a transport error, which the
/// flows record and otherwise ignore: a failed notification never fails a sync.
pub fn post(http: &dyn Http, text: &str) -> Result<(), ApiError> {
    let response = http
        .send(HttpRequest {
            method: Method::Post,
            url: "http://notify/".into(),
            headers: vec![("content-type", "application/json".into())],
            body: Some(json!({ "text": text }).to_string().into_bytes()),
        })
        .map_err(ApiError::Transport)?;
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        Err(ApiError::Api {
            status: response.status,
            code: String::new(),
            message: String::from_utf8_lossy(&response.body).into_owned(),
        })
    }
}

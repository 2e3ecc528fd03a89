//! How injected faults (`common::faults`) look on the QBO emulator: a `Status` fault is a
//! `SystemFault` 10000 (fixture `system_fault_10000.json`) with the injected status; an
//! `ExpiredToken` fault is the gateway's 401 envelope; a 429 is the throttle XML.

use super::errors::{gateway_fault, throttle_xml, QboError};
use super::reply::Reply;
use super::timefmt;
use crate::common::faults::FaultKind;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

/// The renderer given to the fault middleware.
pub(crate) fn render(kind: &FaultKind) -> Response {
    let now = Utc::now();
    let time = timefmt::response_time(now, timefmt::offset(-480));
    match kind {
        FaultKind::ExpiredToken => Reply::json(
            StatusCode::UNAUTHORIZED,
            &gateway_fault(
                StatusCode::UNAUTHORIZED,
                "Token expired: the access token is no longer valid",
                now.timestamp_millis(),
            ),
        )
        .into_response(),
        FaultKind::Status { status: 429 } => Reply::raw(
            StatusCode::TOO_MANY_REQUESTS,
            "application/xml",
            throttle_xml(&time),
        )
        .into_response(),
        FaultKind::Status { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            Reply::fault(&QboError::system_fault(status), &time).into_response()
        }
        _ => Reply::fault(
            &QboError::system_fault(StatusCode::INTERNAL_SERVER_ERROR),
            &time,
        )
        .into_response(),
    }
}

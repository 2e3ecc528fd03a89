//! One error type for every API call, carrying what the error ledger needs: a code, a
//! message, and whether the same call may succeed later.

use crate::platform::HttpResponse;
use chrono::{DateTime, Duration, Utc};

/// Why an API call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiError {
    /// The host or the API throttled; retry at this time (RFC 3339).
    Throttled {
        /// When to retry.
        retry_at: String,
    },
    /// The API answered with an error.
    Api {
        /// HTTP status.
        status: u16,
        /// QBO fault code (`6240`) or Salesforce `errorCode` (`INVALID_FIELD`).
        code: String,
        /// The API's message and detail.
        message: String,
    },
    /// No answer: refused destination, connection failure.
    Transport(String),
    /// An answer we could not read.
    Decode(String),
}

impl ApiError {
    /// The code recorded in the error ledger.
    pub fn code(&self) -> String {
        match self {
            ApiError::Throttled { .. } => "throttled".into(),
            ApiError::Api { code, status, .. } if code.is_empty() => format!("http-{status}"),
            ApiError::Api { code, .. } => code.clone(),
            ApiError::Transport(_) => "transport".into(),
            ApiError::Decode(_) => "decode".into(),
        }
    }

    /// True when the same call may succeed later.
    pub fn retryable(&self) -> bool {
        match self {
            ApiError::Throttled { .. } | ApiError::Transport(_) => true,
            // 5010 stale object, 3200 auth (the host refreshes), 5xx.
            ApiError::Api { status, code, .. } => {
                *status >= 500 || *status == 401 || code == "5010" || code == "UNABLE_TO_LOCK_ROW"
            }
            ApiError::Decode(_) => false,
        }
    }

    /// True when this is QBO's stale-object fault.
    pub fn is_stale(&self) -> bool {
        matches!(self, ApiError::Api { code, .. } if code == "5010")
    }

    /// True for a 404 / object-not-found.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Api { status: 404, .. })
            || matches!(self, ApiError::Api { code, .. } if code == "610" || code == "NOT_FOUND")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApiError::Throttled { retry_at } => write!(f, "throttled, retry at {retry_at}"),
            ApiError::Api {
                status,
                code,
                message,
            } => write!(f, "HTTP {status} {code}: {message}"),
            ApiError::Transport(m) => write!(f, "transport: {m}"),
            ApiError::Decode(m) => write!(f, "unreadable answer: {m}"),
        }
    }
}

/// The retry time of a throttled answer (429 or 503): the host's `x-ledgerlink-retry-at`, else
/// `Retry-After` seconds, else `default_wait` from `now`.
pub fn retry_at(response: &HttpResponse, now: DateTime<Utc>, default_wait: Duration) -> String {
    if let Some(at) = response.header("x-ledgerlink-retry-at") {
        if DateTime::parse_from_rfc3339(at).is_ok() {
            return at.to_string();
        }
    }
    let wait = response
        .header("retry-after")
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map(Duration::seconds)
        .unwrap_or(default_wait);
    (now + wait).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// True when the answer is a throttle.
pub fn is_throttle(status: u16) -> bool {
    status == 429 || status == 503
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(headers: &[(&str, &str)]) -> HttpResponse {
        HttpResponse {
            status: 429,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: Vec::new(),
        }
    }

    #[test]
    fn retry_time_prefers_the_hosts_header_then_retry_after_then_the_default() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let wait = Duration::seconds(60);
        assert_eq!(
            retry_at(
                &response(&[("x-ledgerlink-retry-at", "2026-01-01T00:00:07Z")]),
                now,
                wait
            ),
            "2026-01-01T00:00:07Z"
        );
        assert_eq!(
            retry_at(&response(&[("retry-after", "5")]), now, wait),
            "2026-01-01T00:00:05Z"
        );
        assert_eq!(retry_at(&response(&[]), now, wait), "2026-01-01T00:01:00Z");
    }

    #[test]
    fn stale_objects_and_server_errors_are_retryable_validation_is_not() {
        let api = |status, code: &str| ApiError::Api {
            status,
            code: code.into(),
            message: String::new(),
        };
        assert!(api(400, "5010").retryable());
        assert!(api(503, "").retryable());
        assert!(!api(400, "6240").retryable());
        assert!(!api(400, "INVALID_FIELD").retryable());
        assert_eq!(api(502, "").code(), "http-502");
    }
}

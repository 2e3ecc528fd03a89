//! The daily API request allowance (api-facts B8): every authenticated API call counts (a
//! composite call counts once), the count resets at midnight UTC on the emulator clock, and
//! each answer carries `Sforce-Limit-Info: api-usage=N/LIMIT`. Past the limit the API answers
//! 403 `REQUEST_LIMIT_EXCEEDED` "TotalRequests Limit exceeded.".

use super::errors::SfError;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

/// The header name.
pub const HEADER: &str = "Sforce-Limit-Info";

/// Today's usage.
#[derive(Clone, Debug, Default)]
pub struct Usage {
    day: Option<NaiveDate>,
    count: u64,
}

impl Usage {
    /// Counts one call; 403 when that call is over `limit`.
    pub fn count(&mut self, now: DateTime<Utc>, limit: u64) -> Result<u64, SfError> {
        let today = now.date_naive();
        if self.day != Some(today) {
            self.day = Some(today);
            self.count = 0;
        }
        if self.count >= limit {
            return Err(SfError::new(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded.",
            ));
        }
        self.count += 1;
        Ok(self.count)
    }

    /// Calls counted today.
    pub fn used(&self, now: DateTime<Utc>) -> u64 {
        if self.day == Some(now.date_naive()) {
            self.count
        } else {
            0
        }
    }
}

/// `api-usage=N/LIMIT`.
pub fn header_value(used: u64, limit: u64) -> String {
    format!("api-usage={used}/{limit}")
}

/// `GET /limits`: the org limits, `DailyApiRequests` live, the rest at their maximum.
pub fn limits_json(used: u64, limit: u64) -> Value {
    let full = |max: u64| json!({"Max": max, "Remaining": max});
    json!({
        "ConcurrentAsyncGetReportInstances": full(200),
        "ConcurrentSyncReportRuns": full(20),
        "DailyApiRequests": {"Max": limit, "Remaining": limit.saturating_sub(used)},
        "DailyAsyncApexExecutions": full(250000),
        "DailyBulkApiRequests": full(5000),
        "DailyDurableGenericStreamingApiEvents": full(10000),
        "DailyDurableStreamingApiEvents": full(10000),
        "DailyGenericStreamingApiEvents": full(10000),
        "DailyStreamingApiEvents": full(10000),
        "DailyWorkflowEmails": full(390),
        "DataStorageMB": full(5),
        "DurableStreamingApiConcurrentClients": full(20),
        "FileStorageMB": full(20),
        "HourlyAsyncReportRuns": full(1200),
        "HourlyDashboardRefreshes": full(200),
        "HourlyDashboardResults": full(5000),
        "HourlyDashboardStatuses": full(999999999),
        "HourlyODataCallout": full(10000),
        "HourlySyncReportRuns": full(500),
        "HourlyTimeBasedWorkflow": full(50),
        "MassEmail": full(10),
        "SingleEmail": full(15),
        "StreamingApiConcurrentClients": full(20),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_resets_at_midnight_and_refuses_past_the_limit() {
        let mut u = Usage::default();
        let t = DateTime::parse_from_rfc3339("2024-05-01T23:59:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(u.count(t, 2).unwrap(), 1);
        assert_eq!(u.count(t, 2).unwrap(), 2);
        assert_eq!(u.count(t, 2).unwrap_err().code, "REQUEST_LIMIT_EXCEEDED");
        assert_eq!(u.count(t + chrono::Duration::minutes(2), 2).unwrap(), 1);
    }
}

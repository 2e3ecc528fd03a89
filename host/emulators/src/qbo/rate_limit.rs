//! Per-realm throttling on the emulator clock (api-facts A10): 500 requests a minute, 10 a second,
//! 40 batch requests a minute. A refused request does not count.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

/// The limits (defaults are Intuit's documented ones).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    /// Requests per minute per realm.
    pub per_minute: u32,
    /// Requests per second per realm.
    pub per_second: u32,
    /// Batch requests per minute per realm.
    pub batch_per_minute: u32,
    /// False turns throttling off.
    pub enabled: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_minute: 500,
            per_second: 10,
            batch_per_minute: 40,
            enabled: true,
        }
    }
}

#[derive(Default)]
struct Windows {
    requests: VecDeque<DateTime<Utc>>,
    batches: VecDeque<DateTime<Utc>>,
}

/// Sliding one-minute windows per realm.
#[derive(Default)]
pub(crate) struct RateLimiter {
    realms: HashMap<String, Windows>,
}

impl RateLimiter {
    /// Counts the request and answers true, or answers false (throttled) without counting it.
    pub fn admit(
        &mut self,
        realm: &str,
        is_batch: bool,
        now: DateTime<Utc>,
        limits: &RateLimits,
    ) -> bool {
        if !limits.enabled {
            return true;
        }
        let w = self.realms.entry(realm.to_string()).or_default();
        let minute_ago = now - Duration::seconds(60);
        while w.requests.front().is_some_and(|t| *t <= minute_ago) {
            w.requests.pop_front();
        }
        while w.batches.front().is_some_and(|t| *t <= minute_ago) {
            w.batches.pop_front();
        }
        let second_ago = now - Duration::seconds(1);
        let last_second = w
            .requests
            .iter()
            .rev()
            .take_while(|t| **t > second_ago)
            .count();
        if w.requests.len() >= limits.per_minute as usize
            || last_second >= limits.per_second as usize
            || (is_batch && w.batches.len() >= limits.batch_per_minute as usize)
        {
            return false;
        }
        w.requests.push_back(now);
        if is_batch {
            w.batches.push_back(now);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_per_second_then_recovers() {
        let mut limiter = RateLimiter::default();
        let limits = RateLimits::default();
        let t0 = Utc::now();
        for _ in 0..10 {
            assert!(limiter.admit("r", false, t0, &limits));
        }
        assert!(!limiter.admit("r", false, t0, &limits));
        assert!(limiter.admit("other", false, t0, &limits));
        assert!(limiter.admit("r", false, t0 + Duration::milliseconds(1001), &limits));
    }

    #[test]
    fn batch_limit_is_separate() {
        let mut limiter = RateLimiter::default();
        let limits = RateLimits {
            per_second: 1000,
            ..RateLimits::default()
        };
        let t0 = Utc::now();
        for _ in 0..40 {
            assert!(limiter.admit("r", true, t0, &limits));
        }
        assert!(!limiter.admit("r", true, t0, &limits));
        assert!(limiter.admit("r", false, t0, &limits));
    }
}

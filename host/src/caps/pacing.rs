//! Pacing of the guest's API calls, so that a sync never trips the APIs' limits and never holds
//! a guest call for long when it would.
//!
//! | connection | budget | source |
//! |---|---|---|
//! | `quickbooks` | per realm: 500 requests/min, 10/s, 40 batch requests/min (paths ending in `/batch`) | api-facts A10 |
//! | `salesforce` | the org's daily API quota, read from every answer's `Sforce-Limit-Info: api-usage=N/M`; nothing is sent while fewer than [`PacingConfig::daily_reserve`] calls remain | api-facts B8 |
//!
//! Batch requests are spaced at (60 s − the batch wait) / (`batch-per-minute` − 1), about 1 s at
//! 40/min: a whole minute's budget sent back to back then never leaves the next batch waiting
//! longer than the batch wait, and a slow stretch of work is caught up afterwards (the spacing
//! is under 60 s / 40) while the one-minute window keeps the limit. A backfill runs at the batch
//! ceiling from its first minute, in one run.
//!
//! The contract with the guest: when a permit is available within [`PacingConfig::max_wait`]
//! (2 s; [`PacingConfig::batch_max_wait`], 20 s, for a batch, which carries 30 writes and is
//! cheaper to hold than to redo) the host waits and sends; otherwise it answers the guest itself, without contacting the
//! API, with `429`, `Retry-After: <seconds>` and `x-ledgerlink-retry-at: <RFC 3339 UTC>`. An
//! upstream `429` or `503` records a penalty for the realm (its `Retry-After`, else 60 s after a
//! QBO 429, else an exponential backoff) and is passed through with `x-ledgerlink-retry-at`.

use crate::metrics::{self, Metrics};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Full};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;
use wasmtime_wasi_http::WasiBody;

/// The header carrying the time at which the guest may try again.
pub const RETRY_AT_HEADER: &str = "x-ledgerlink-retry-at";

/// Salesforce's usage header.
pub const SFORCE_LIMIT_INFO: &str = "sforce-limit-info";

/// Added to every window so that our clock and the API's never disagree on a boundary.
const WINDOW_MARGIN: Duration = Duration::from_millis(50);

/// A connection's pacing settings (`[tenant.connections.<name>.pacing]`); absent fields take
/// the documented limits.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct PacingConfig {
    /// QBO requests per minute per realm.
    pub per_minute: u32,
    /// QBO requests per second per realm.
    pub per_second: u32,
    /// QBO batch requests per minute per realm.
    pub batch_per_minute: u32,
    /// Salesforce: stop sending when fewer daily API calls than this remain.
    pub daily_reserve: u64,
    /// Salesforce: once the reserve is reached, let one call through again after this many
    /// seconds to learn the new usage.
    pub quota_recheck_secs: u64,
    /// Longest the host holds a guest call waiting for a permit, in milliseconds.
    pub max_wait_ms: u64,
    /// Longest the host holds a guest's QBO batch request waiting for a permit, in
    /// milliseconds.
    pub batch_max_wait_ms: u64,
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            per_minute: 500,
            per_second: 10,
            batch_per_minute: 40,
            daily_reserve: 1000,
            quota_recheck_secs: 300,
            max_wait_ms: 2000,
            batch_max_wait_ms: 20_000,
        }
    }
}

impl PacingConfig {
    /// The longest wait for a permit.
    pub fn max_wait(&self) -> Duration {
        Duration::from_millis(self.max_wait_ms)
    }

    /// The longest wait for a batch permit (never shorter than [`Self::max_wait`]).
    pub fn batch_max_wait(&self) -> Duration {
        Duration::from_millis(self.batch_max_wait_ms.max(self.max_wait_ms))
    }

    /// Refuses settings that would block every call.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.per_minute == 0 || self.per_second == 0 || self.batch_per_minute == 0 {
            anyhow::bail!("pacing limits must be at least 1 request per period");
        }
        Ok(())
    }
}

/// Which budget a connection keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetKind {
    /// Per-realm request rates.
    Qbo,
    /// The daily quota in `Sforce-Limit-Info`.
    Salesforce,
    /// Only penalties after a 429 or 503 (e.g. `notify`).
    PenaltyOnly,
}

impl BudgetKind {
    /// The budget of the connection named `name`.
    pub fn for_connection(name: &str) -> Self {
        match name {
            "quickbooks" => BudgetKind::Qbo,
            "salesforce" => BudgetKind::Salesforce,
            _ => BudgetKind::PenaltyOnly,
        }
    }
}

/// Why a call was not sent (the `reason` label of `ledgerlink_throttles_total`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleReason {
    /// The rate budget has no permit within the wait.
    Budget,
    /// An earlier 429/503 asked us to wait.
    Penalty,
    /// The Salesforce daily quota is down to the reserve.
    DailyQuota,
    /// The API itself answered 429 or 503.
    Upstream,
}

impl ThrottleReason {
    /// The label.
    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleReason::Budget => "budget",
            ThrottleReason::Penalty => "penalty",
            ThrottleReason::DailyQuota => "daily_quota",
            ThrottleReason::Upstream => "upstream",
        }
    }
}

/// "Not now; try again at `retry_at`".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Throttle {
    /// When the guest may try again (UTC).
    pub retry_at: DateTime<Utc>,
    /// Whole seconds until then (at least 1), for `Retry-After`.
    pub retry_after_secs: u64,
    /// Why.
    pub reason: ThrottleReason,
}

impl Throttle {
    fn after(wait: Duration, reason: ThrottleReason) -> Self {
        let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let retry_after_secs = retry_after_secs.max(1);
        let retry_at = Utc::now()
            + chrono::Duration::from_std(Duration::from_secs(retry_after_secs))
                .unwrap_or_else(|_| chrono::Duration::seconds(60));
        Self {
            retry_at,
            retry_after_secs,
            reason,
        }
    }

    /// `x-ledgerlink-retry-at`'s value.
    pub fn retry_at_header(&self) -> String {
        self.retry_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    }
}

/// Admission of one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Send it now (the permit is taken).
    Send,
    /// Answer the guest with a 429.
    Throttled(Throttle),
}

#[derive(Default)]
struct Lane {
    /// Send times within the last minute, oldest first.
    requests: VecDeque<Instant>,
    batches: VecDeque<Instant>,
    penalty_until: Option<(Instant, ThrottleReason)>,
    /// Consecutive 429/503 answers without a Retry-After (for the backoff).
    strikes: u32,
    /// Salesforce `api-usage` (used, limit) from the last answer.
    usage: Option<(u64, u64)>,
}

/// The pacing state of one tenant connection, shared by every call of the tenant. Lanes are
/// realms for QBO and the whole connection otherwise.
pub struct Pacer {
    kind: BudgetKind,
    config: PacingConfig,
    lanes: Mutex<HashMap<String, Lane>>,
    labels: Option<(Metrics, String, String)>,
    /// The tenant's QBO realm (`settings.realm-id`): the one lane of a QBO connection.
    realm: Option<String>,
    /// Counts the sends and answers recorded: what was [`Spent`] changes only when this does.
    recorded: std::sync::atomic::AtomicU64,
}

impl Pacer {
    /// A pacer keeping `kind`'s budget with `config`.
    pub fn new(kind: BudgetKind, config: PacingConfig) -> Self {
        Self {
            kind,
            config,
            lanes: Mutex::default(),
            labels: None,
            realm: None,
            recorded: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Keeps QBO's per-realm budget under the tenant's configured realm, whatever realm a
    /// guest's path names: a guest cannot open itself fresh budgets (or grow the lanes) by
    /// writing other realm ids into its URLs.
    pub fn with_realm(mut self, realm: Option<&str>) -> Self {
        self.realm = realm.map(str::to_string);
        self
    }

    /// Counts throttles in `metrics` as `ledgerlink_throttles_total{tenant,connection,reason}`.
    pub fn with_metrics(mut self, metrics: Metrics, tenant: &str, connection: &str) -> Self {
        self.labels = Some((metrics, tenant.to_string(), connection.to_string()));
        self
    }

    /// The settings.
    pub fn config(&self) -> &PacingConfig {
        &self.config
    }

    /// The lane of a guest request: the configured realm for QBO (never a realm the path
    /// names), else `""`.
    pub fn lane_of(&self, _path: &str) -> String {
        match (&self.kind, &self.realm) {
            (BudgetKind::Qbo, Some(realm)) => realm.clone(),
            _ => String::new(),
        }
    }

    /// True for a QBO batch request (the path, without its query, ends in `/batch`).
    pub fn is_batch(&self, path: &str) -> bool {
        self.kind == BudgetKind::Qbo
            && path
                .split('?')
                .next()
                .unwrap_or_default()
                .trim_end_matches('/')
                .ends_with("/batch")
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<String, Lane>> {
        self.lanes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn count(&self, reason: ThrottleReason) {
        if let Some((metrics, tenant, connection)) = &self.labels {
            metrics.inc(
                metrics::THROTTLES,
                &[
                    ("tenant", tenant),
                    ("connection", connection),
                    ("reason", reason.as_str()),
                ],
            );
        }
    }

    /// When `lane` has a permit (now or later), and why it waits.
    fn next_free(&self, lane: &mut Lane, batch: bool, now: Instant) -> (Instant, ThrottleReason) {
        let minute = Duration::from_secs(60) + WINDOW_MARGIN;
        let second = Duration::from_secs(1) + WINDOW_MARGIN;
        while lane.requests.front().is_some_and(|t| *t + minute <= now) {
            lane.requests.pop_front();
        }
        while lane.batches.front().is_some_and(|t| *t + minute <= now) {
            lane.batches.pop_front();
        }
        let mut free = (now, ThrottleReason::Budget);
        let mut later = |at: Instant, why: ThrottleReason| {
            if at > free.0 {
                free = (at, why);
            }
        };
        if let Some((until, why)) = lane.penalty_until {
            if until > now {
                later(until, why);
            } else {
                lane.penalty_until = None;
            }
        }
        if self.kind == BudgetKind::Qbo {
            let c = &self.config;
            let n = lane.requests.len();
            if n >= c.per_minute as usize {
                later(
                    lane.requests[n - c.per_minute as usize] + minute,
                    ThrottleReason::Budget,
                );
            }
            if n >= c.per_second as usize {
                later(
                    lane.requests[n - c.per_second as usize] + second,
                    ThrottleReason::Budget,
                );
            }
            let b = lane.batches.len();
            if batch && b >= c.batch_per_minute as usize {
                later(
                    lane.batches[b - c.batch_per_minute as usize] + minute,
                    ThrottleReason::Budget,
                );
            }
            // Batches are spaced so that a minute's budget sent back to back leaves the next one
            // waiting at most the batch wait; a bulk sync then flows at the ceiling instead of
            // spending the budget at once and being turned away for the rest of the minute.
            let wait = c.batch_max_wait();
            if batch && c.batch_per_minute > 1 {
                let spacing = minute.saturating_sub(wait) / (c.batch_per_minute - 1)
                    + Duration::from_millis(10);
                if spacing <= wait {
                    if let Some(last) = lane.batches.back() {
                        later(*last + spacing, ThrottleReason::Budget);
                    }
                }
            }
        }
        free
    }

    /// Takes a permit for one call on `lane`, waiting up to [`PacingConfig::max_wait`]; a call
    /// that would wait longer is [`Admission::Throttled`] at once.
    pub async fn admit(&self, lane: &str, batch: bool) -> Admission {
        let wait = if batch {
            self.config.batch_max_wait()
        } else {
            self.config.max_wait()
        };
        let deadline = Instant::now() + wait;
        loop {
            let now = Instant::now();
            let (free, why) = {
                let mut lanes = self.lanes();
                let state = lanes.entry(lane.to_string()).or_default();
                let (free, why) = self.next_free(state, batch, now);
                if free <= now {
                    state.requests.push_back(now);
                    if batch {
                        state.batches.push_back(now);
                    }
                    self.recorded
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Admission::Send;
                }
                (free, why)
            };
            if free > deadline {
                self.count(why);
                return Admission::Throttled(Throttle::after(free - now, why));
            }
            tokio::time::sleep_until(free).await;
        }
    }

    /// Learns from an API answer: a 429/503 records a penalty (returned, for the pass-through
    /// headers); a Salesforce `Sforce-Limit-Info` updates the quota; a success resets the backoff.
    pub fn observe(&self, lane: &str, status: StatusCode, headers: &HeaderMap) -> Option<Throttle> {
        self.recorded
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = Instant::now();
        let mut lanes = self.lanes();
        let state = lanes.entry(lane.to_string()).or_default();
        let mut penalty: Option<(Duration, ThrottleReason)> = None;
        if self.kind == BudgetKind::Salesforce {
            if let Some((used, limit)) = headers
                .get(SFORCE_LIMIT_INFO)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_api_usage)
            {
                state.usage = Some((used, limit));
                if limit.saturating_sub(used) <= self.config.daily_reserve {
                    tracing::warn!(
                        used,
                        limit,
                        reserve = self.config.daily_reserve,
                        "Salesforce daily API quota is down to the reserve; pausing calls"
                    );
                    penalty = Some((
                        Duration::from_secs(self.config.quota_recheck_secs.max(1)),
                        ThrottleReason::DailyQuota,
                    ));
                }
            }
        }
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let wait = match parse_retry_after(headers) {
                Some(wait) => wait,
                None if status == StatusCode::TOO_MANY_REQUESTS && self.kind == BudgetKind::Qbo => {
                    Duration::from_secs(60)
                }
                None => {
                    state.strikes = state.strikes.saturating_add(1);
                    backoff(state.strikes)
                }
            };
            penalty = Some(match penalty {
                Some((w, why)) if w > wait => (w, why),
                _ => (wait, ThrottleReason::Upstream),
            });
        } else if status.is_success() {
            state.strikes = 0;
        }
        let (wait, why) = penalty?;
        let until = now + wait;
        if state.penalty_until.is_none_or(|(t, _)| t < until) {
            state.penalty_until = Some((until, why));
        }
        let (until, _) = state.penalty_until.unwrap_or((until, why));
        drop(lanes);
        self.count(why);
        Some(Throttle::after(until - now, why))
    }

    /// Salesforce's last reported (used, limit), if any.
    pub fn usage(&self, lane: &str) -> Option<(u64, u64)> {
        self.lanes().get(lane).and_then(|l| l.usage)
    }
}

/// What a pacer spent of its budgets lately, in wall-clock milliseconds, so that the next host
/// to serve the tenant starts from it ([`Pacer::spent`], [`Pacer::take_over`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spent {
    /// By lane.
    pub lanes: BTreeMap<String, SpentLane>,
}

/// One lane's spending.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpentLane {
    /// Send times within the last minute (ms since the epoch), oldest first.
    pub requests: Vec<i64>,
    /// Batch send times within the last minute.
    pub batches: Vec<i64>,
    /// Until when the API asked for a pause, if it did.
    pub penalty_until: Option<i64>,
    /// Salesforce's last reported (used, limit).
    pub usage: Option<(u64, u64)>,
}

/// `at` (this process's clock) in milliseconds since the epoch.
fn wall_ms(at: Instant, now: Instant, wall_now: DateTime<Utc>) -> i64 {
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let wall = wall_now.timestamp_millis();
    if at <= now {
        wall.saturating_sub(ms(now - at))
    } else {
        wall.saturating_add(ms(at - now))
    }
}

/// Milliseconds since the epoch as this process's clock, if not before its start.
fn instant_of(ms: i64, now: Instant, wall_now: DateTime<Utc>) -> Option<Instant> {
    let delta = ms - wall_now.timestamp_millis();
    if delta >= 0 {
        now.checked_add(Duration::from_millis(delta as u64))
    } else {
        now.checked_sub(Duration::from_millis(delta.unsigned_abs()))
    }
}

impl Pacer {
    /// How many sends and answers this pacer has recorded: unchanged, so is [`Self::spent`]
    /// (but for sends ageing out of the minute, which the next host drops by itself).
    pub fn recorded(&self) -> u64 {
        self.recorded.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The last minute's sends and any pause, for the next host to take over.
    pub fn spent(&self) -> Spent {
        let (now, wall_now) = (Instant::now(), Utc::now());
        let minute = Duration::from_secs(60) + WINDOW_MARGIN;
        let recent = |q: &VecDeque<Instant>| -> Vec<i64> {
            q.iter()
                .filter(|t| **t + minute > now)
                .map(|t| wall_ms(*t, now, wall_now))
                .collect()
        };
        Spent {
            lanes: self
                .lanes()
                .iter()
                .map(|(name, lane)| {
                    (
                        name.clone(),
                        SpentLane {
                            requests: recent(&lane.requests),
                            batches: recent(&lane.batches),
                            penalty_until: lane
                                .penalty_until
                                .filter(|(t, _)| *t > now)
                                .map(|(t, _)| wall_ms(t, now, wall_now)),
                            usage: lane.usage,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Starts from what the tenant's previous host spent (saved at `saved` and read now), as
    /// if this pacer had made those sends. The previous host may have sent more after it
    /// saved, for at most `unseen`: that much of a QBO realm's per-second rate (and of its
    /// batch spacing) is counted as sent at the latest moment it could have been, so the
    /// realm's limits hold across the handover.
    pub fn take_over(&self, spent: &Spent, saved: DateTime<Utc>, unseen: Duration) {
        let (now, wall_now) = (Instant::now(), Utc::now());
        let latest = instant_of(
            saved.timestamp_millis() + i64::try_from(unseen.as_millis()).unwrap_or(i64::MAX / 2),
            now,
            wall_now,
        )
        .unwrap_or(now)
        .min(now);
        // The realm's lane counts the unseen tail even when nothing of it was saved.
        let mut handed: BTreeMap<String, SpentLane> = spent.lanes.clone();
        if self.kind == BudgetKind::Qbo {
            handed.entry(self.lane_of("")).or_default();
        }
        let mut lanes = self.lanes();
        for (name, from) in &handed {
            let lane = lanes.entry(name.clone()).or_default();
            let times = |list: &[i64]| -> Vec<Instant> {
                list.iter()
                    .filter_map(|ms| instant_of(*ms, now, wall_now))
                    .collect()
            };
            let mut requests: Vec<Instant> = lane.requests.iter().copied().collect();
            requests.extend(times(&from.requests));
            let mut batches: Vec<Instant> = lane.batches.iter().copied().collect();
            batches.extend(times(&from.batches));
            if self.kind == BudgetKind::Qbo && !unseen.is_zero() {
                let c = &self.config;
                let secs = unseen.as_secs_f64().ceil() as u32;
                let extra = (c.per_second.saturating_mul(secs)).min(c.per_minute) as usize;
                requests.extend(std::iter::repeat_n(latest, extra));
                let spacing = 60.0 / f64::from(c.batch_per_minute.max(1));
                let extra_batches =
                    ((unseen.as_secs_f64() / spacing).ceil() as u32).min(c.batch_per_minute);
                batches.extend(std::iter::repeat_n(latest, extra_batches as usize));
            }
            requests.sort();
            batches.sort();
            lane.requests = requests.into();
            lane.batches = batches.into();
            if let Some(until) = from
                .penalty_until
                .and_then(|ms| instant_of(ms, now, wall_now))
            {
                if until > now && lane.penalty_until.is_none_or(|(t, _)| t < until) {
                    lane.penalty_until = Some((until, ThrottleReason::Upstream));
                }
            }
            if lane.usage.is_none() {
                lane.usage = from.usage;
            }
        }
    }
}

/// 5 s, 10 s, 20 s ... up to 5 min.
fn backoff(strikes: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << strikes.saturating_sub(1).min(6));
    Duration::from_secs(secs.min(300))
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(86_400)));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
}

/// `api-usage=N/M` (other fields such as `per-app-api-usage` are ignored).
pub fn parse_api_usage(value: &str) -> Option<(u64, u64)> {
    value.split([';', ',']).find_map(|part| {
        let (name, usage) = part.trim().split_once('=')?;
        if name.trim() != "api-usage" {
            return None;
        }
        let (used, limit) = usage.trim().split_once('/')?;
        Some((used.trim().parse().ok()?, limit.trim().parse().ok()?))
    })
}

/// The host's own 429 for a throttled guest call.
pub fn throttled_response(throttle: &Throttle, connection: &str) -> http::Response<WasiBody> {
    let body = serde_json::json!({
        "error": "throttled",
        "connection": connection,
        "reason": throttle.reason.as_str(),
        "retry-at": throttle.retry_at_header(),
        "retry-after": throttle.retry_after_secs,
    })
    .to_string();
    let mut response = http::Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    add_retry_headers(headers, throttle);
    response
}

/// Adds `x-ledgerlink-retry-at`, and `Retry-After` when absent.
pub fn add_retry_headers(headers: &mut HeaderMap, throttle: &Throttle) {
    if let Ok(v) = HeaderValue::from_str(&throttle.retry_at_header()) {
        headers.insert(RETRY_AT_HEADER, v);
    }
    if !headers.contains_key(http::header::RETRY_AFTER) {
        headers.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from(throttle.retry_after_secs),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qbo(per_second: u32, per_minute: u32, max_wait_ms: u64) -> Pacer {
        Pacer::new(
            BudgetKind::Qbo,
            PacingConfig {
                per_second,
                per_minute,
                batch_per_minute: 2,
                max_wait_ms,
                ..PacingConfig::default()
            },
        )
    }

    /// Calls admitted on lane `r` until one is throttled.
    async fn budget(p: &Pacer) -> usize {
        let mut sent = 0;
        while p.admit("r", false).await == Admission::Send {
            sent += 1;
        }
        sent
    }

    #[tokio::test]
    async fn the_next_host_takes_over_the_minute_spent_and_what_it_could_not_see() {
        // The first host spends a minute's budget of 20.
        let first = qbo(1000, 20, 0);
        assert_eq!(budget(&first).await, 20);
        let spent = first.spent();
        assert_eq!(spent.lanes["r"].requests.len(), 20);
        // The next one, from what was saved a moment ago, has nothing left this minute...
        let next = qbo(1000, 20, 0);
        next.take_over(&spent, Utc::now(), Duration::ZERO);
        assert!(matches!(
            next.admit("r", false).await,
            Admission::Throttled(_)
        ));
        // ...nor when nothing was saved but the first host may have sent for a second unseen
        // (at most its per-second rate, here more than the minute's budget).
        let blind = qbo(1000, 20, 0).with_realm(Some("r"));
        blind.take_over(&Spent::default(), Utc::now(), Duration::from_secs(1));
        assert_eq!(budget(&blind).await, 0);
        // 5/s for 2 s unseen: 10 of the 20 are counted as sent (calls wait up to 5 s here).
        let blind = qbo(5, 20, 5000).with_realm(Some("r"));
        blind.take_over(&Spent::default(), Utc::now(), Duration::from_secs(2));
        assert_eq!(budget(&blind).await, 10);
        // Sends older than a minute are not handed over.
        let mut old = Spent::default();
        old.lanes.insert(
            "r".into(),
            SpentLane {
                requests: vec![Utc::now().timestamp_millis() - 61_000; 20],
                ..Default::default()
            },
        );
        let fresh = qbo(1000, 20, 0);
        fresh.take_over(&old, Utc::now(), Duration::ZERO);
        assert_eq!(budget(&fresh).await, 20);
    }

    #[test]
    fn the_configured_realm_is_the_lane_and_batch_is_the_path_suffix() {
        let p = qbo(10, 500, 0).with_realm(Some("123"));
        assert_eq!(p.lane_of("/v3/company/123/invoice?minorversion=75"), "123");
        // A realm the guest writes into its path does not open a budget of its own.
        assert_eq!(p.lane_of("/v3/company/999/invoice"), "123");
        assert_eq!(p.lane_of("/oauth2"), "123");
        assert_eq!(qbo(10, 500, 0).lane_of("/v3/company/123/invoice"), "");
        assert!(p.is_batch("/v3/company/123/batch?requestid=x"));
        assert!(!p.is_batch("/v3/company/123/batchish"));
        let sf = Pacer::new(BudgetKind::Salesforce, PacingConfig::default());
        assert_eq!(sf.lane_of("/v3/company/123/x"), "");
    }

    #[tokio::test]
    async fn within_the_wait_the_call_waits_for_the_next_second() {
        let p = qbo(2, 500, 2000);
        let started = Instant::now();
        for _ in 0..3 {
            assert_eq!(p.admit("r", false).await, Admission::Send);
        }
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "the third waited"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn beyond_the_wait_the_call_is_throttled_at_once_with_a_retry_time() {
        let p = qbo(10, 3, 100);
        for _ in 0..3 {
            assert_eq!(p.admit("r", false).await, Admission::Send);
        }
        let started = Instant::now();
        let Admission::Throttled(t) = p.admit("r", false).await else {
            panic!("expected a throttle");
        };
        assert!(started.elapsed() < Duration::from_millis(50));
        assert_eq!(t.reason, ThrottleReason::Budget);
        assert!((59..=61).contains(&t.retry_after_secs), "{t:?}");
        // Another realm has its own budget.
        assert_eq!(p.admit("other", false).await, Admission::Send);
    }

    #[tokio::test]
    async fn batches_have_their_own_minute_budget() {
        let p = qbo(100, 500, 0);
        assert_eq!(p.admit("r", true).await, Admission::Send);
        assert_eq!(p.admit("r", true).await, Admission::Send);
        assert!(matches!(p.admit("r", true).await, Admission::Throttled(_)));
        assert_eq!(p.admit("r", false).await, Admission::Send);
    }

    #[tokio::test(start_paused = true)]
    async fn batches_back_to_back_run_at_the_ceiling_from_the_first_minute_and_never_wait_long() {
        let p = Pacer::new(BudgetKind::Qbo, PacingConfig::default());
        let started = Instant::now();
        let mut sent: Vec<Instant> = Vec::new();
        for _ in 0..200 {
            let before = Instant::now();
            assert_eq!(p.admit("r", true).await, Admission::Send);
            assert!(before.elapsed() <= Duration::from_secs(20), "held too long");
            sent.push(Instant::now());
        }
        for (i, at) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|t| **t < *at + Duration::from_secs(60))
                .count();
            assert!(in_window <= 40, "{in_window} batches in one minute");
        }
        // The first 40 go out about 1 s apart, then each one a window after the batch 40
        // before it: the 200th at about 40 s + 4 windows, where even spreading at 1.5 s would
        // take 298 s.
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(285), "{elapsed:?}");
    }

    #[tokio::test]
    async fn an_upstream_429_is_a_penalty_of_retry_after_or_60_seconds_for_qbo() {
        let p = qbo(10, 500, 100);
        let t = p
            .observe("r", StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new())
            .unwrap();
        assert_eq!(t.retry_after_secs, 60);
        assert!(
            matches!(p.admit("r", false).await, Admission::Throttled(t) if t.reason == ThrottleReason::Upstream)
        );
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("7"));
        let t = p
            .observe("s", StatusCode::SERVICE_UNAVAILABLE, &headers)
            .unwrap();
        assert_eq!(t.retry_after_secs, 7);
        // A 503 without Retry-After backs off: 5 s, then 10 s.
        let n = Pacer::new(BudgetKind::PenaltyOnly, PacingConfig::default());
        let a = n
            .observe("", StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new())
            .unwrap();
        assert_eq!(a.retry_after_secs, 5);
        let b = n
            .observe("", StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new())
            .unwrap();
        assert_eq!(b.retry_after_secs, 10);
        assert!(n.observe("", StatusCode::OK, &HeaderMap::new()).is_none());
        let c = n
            .observe("", StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new())
            .unwrap();
        assert_eq!(c.retry_after_secs, 10, "the earlier penalty still runs");
    }

    #[tokio::test]
    async fn salesforce_stops_at_the_daily_reserve() {
        let p = Pacer::new(
            BudgetKind::Salesforce,
            PacingConfig {
                daily_reserve: 100,
                max_wait_ms: 0,
                ..PacingConfig::default()
            },
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            "Sforce-Limit-Info",
            HeaderValue::from_static("api-usage=899/1000"),
        );
        assert!(p.observe("", StatusCode::OK, &headers).is_none());
        assert_eq!(p.admit("", false).await, Admission::Send);
        headers.insert(
            "Sforce-Limit-Info",
            HeaderValue::from_static("api-usage=900/1000; per-app-api-usage=1/250(appName=x)"),
        );
        let t = p.observe("", StatusCode::OK, &headers).unwrap();
        assert_eq!(t.reason, ThrottleReason::DailyQuota);
        assert!(
            matches!(p.admit("", false).await, Admission::Throttled(t) if t.reason == ThrottleReason::DailyQuota)
        );
        assert_eq!(p.usage(""), Some((900, 1000)));
    }

    #[test]
    fn usage_and_retry_after_parse() {
        assert_eq!(parse_api_usage("api-usage=18/5000"), Some((18, 5000)));
        assert_eq!(parse_api_usage("garbage"), None);
        let mut h = HeaderMap::new();
        h.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_static("soon-ish"),
        );
        assert_eq!(parse_retry_after(&h), None);
    }
}

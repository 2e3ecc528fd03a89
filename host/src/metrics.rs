//! A small metrics registry rendered in the Prometheus text format (version 0.0.4).
//!
//! Counters, gauges and latency sums (`<name>_sum` / `<name>_count`, a summary without
//! quantiles), each keyed by name and labels. One [`Metrics`] handle, cheap to clone, is shared
//! by the webhook receiver and inbox worker, the scheduler's runner and the pacing of the HTTP
//! capability; `GET /metrics` renders it.
//!
//! | metric | kind | labels | counts |
//! |---|---|---|---|
//! | `ledgerlink_webhooks_received_total` | counter | `tenant`, `source` | POSTs that reached the receiver (tenant `unknown` before routing) |
//! | `ledgerlink_webhooks_rejected_total` | counter | `tenant`, `source`, `reason` | POSTs answered 4xx |
//! | `ledgerlink_webhooks_stored_total` | counter | `tenant`, `source` | new inbox rows |
//! | `ledgerlink_webhooks_duplicates_total` | counter | `tenant`, `source` | bodies already in the inbox |
//! | `ledgerlink_webhook_request_seconds` | summary | `tenant`, `source` | receiver latency, answered requests |
//! | `ledgerlink_inbox_depth` | gauge | `tenant` | pending inbox rows (set when `/metrics` is read) |
//! | `ledgerlink_inbox_handled_total` | counter | `tenant`, `outcome` | rows drained (`done`, `failed`) |
//! | `ledgerlink_calls_total`, `ledgerlink_errors_total`, `ledgerlink_throttles_total` | counter | free | for other modules |
//! | `ledgerlink_call_seconds` | summary | free | for other modules |

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Webhook POSTs received.
pub const WEBHOOKS_RECEIVED: &str = "ledgerlink_webhooks_received_total";
/// Webhook POSTs rejected.
pub const WEBHOOKS_REJECTED: &str = "ledgerlink_webhooks_rejected_total";
/// Inbox rows written.
pub const WEBHOOKS_STORED: &str = "ledgerlink_webhooks_stored_total";
/// Redelivered bodies (already stored).
pub const WEBHOOKS_DUPLICATES: &str = "ledgerlink_webhooks_duplicates_total";
/// Receiver latency.
pub const WEBHOOK_REQUEST_SECONDS: &str = "ledgerlink_webhook_request_seconds";
/// Pending inbox rows.
pub const INBOX_DEPTH: &str = "ledgerlink_inbox_depth";
/// Inbox rows handled by the worker.
pub const INBOX_HANDLED: &str = "ledgerlink_inbox_handled_total";
/// Outgoing calls (for other modules).
pub const CALLS: &str = "ledgerlink_calls_total";
/// Errors (for other modules).
pub const ERRORS: &str = "ledgerlink_errors_total";
/// Throttled calls, e.g. a 429 (for other modules).
pub const THROTTLES: &str = "ledgerlink_throttles_total";
/// Call latency (for other modules).
pub const CALL_SECONDS: &str = "ledgerlink_call_seconds";

/// Tenants this host serves now ([`crate::cluster`]).
pub const TENANTS_SERVED: &str = "ledgerlink_tenants_served";
/// Tenants this host claimed, released or lost.
pub const TENANT_MOVES: &str = "ledgerlink_tenant_moves_total";
/// Hosts with a live heartbeat in the shared store, as this host counts them.
pub const LIVE_HOSTS: &str = "ledgerlink_live_hosts";

/// Labels as `(name, value)` pairs; order does not matter.
pub type Labels<'a> = &'a [(&'a str, &'a str)];

type Key = (String, Vec<(String, String)>);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Summary,
}

#[derive(Default)]
struct Registry {
    counters: BTreeMap<Key, u64>,
    gauges: BTreeMap<Key, i64>,
    /// (sum of seconds, count)
    summaries: BTreeMap<Key, (f64, u64)>,
    help: BTreeMap<String, String>,
}

/// The registry. Cloning shares it.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Mutex<Registry>>,
}

fn key(name: &str, labels: Labels<'_>) -> Key {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    labels.sort();
    (name.to_string(), labels)
}

fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn write_series(out: &mut String, name: &str, labels: &[(String, String)], value: &str) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

fn default_help(name: &str) -> Option<&'static str> {
    Some(match name {
        WEBHOOKS_RECEIVED => "Webhook POSTs that reached the receiver.",
        WEBHOOKS_REJECTED => "Webhook POSTs answered with a 4xx status, by reason.",
        WEBHOOKS_STORED => "Webhook bodies written to the inbox.",
        WEBHOOKS_DUPLICATES => "Webhook bodies already in the inbox (redeliveries).",
        WEBHOOK_REQUEST_SECONDS => "Time to answer a webhook POST.",
        INBOX_DEPTH => "Pending inbox rows.",
        INBOX_HANDLED => "Inbox rows handled by the worker, by outcome.",
        CALLS => "Calls made.",
        ERRORS => "Errors.",
        THROTTLES => "Throttled calls.",
        CALL_SECONDS => "Call latency.",
        TENANTS_SERVED => "Tenants this host serves now.",
        TENANT_MOVES => "Tenants this host claimed, released or lost, by what happened.",
        LIVE_HOSTS => "Hosts with a live heartbeat in the shared store.",
        _ => return None,
    })
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets the `# HELP` text of `name`.
    pub fn describe(&self, name: &str, help: &str) {
        self.lock().help.insert(name.to_string(), help.to_string());
    }

    /// Adds one to a counter.
    pub fn inc(&self, name: &str, labels: Labels<'_>) {
        self.add(name, labels, 1);
    }

    /// Adds `n` to a counter.
    pub fn add(&self, name: &str, labels: Labels<'_>, n: u64) {
        let mut r = self.lock();
        let c = r.counters.entry(key(name, labels)).or_default();
        *c = c.saturating_add(n);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &str, labels: Labels<'_>, value: i64) {
        self.lock().gauges.insert(key(name, labels), value);
    }

    /// Replaces every series of gauge `name` with `values` (label set → value), so a series
    /// that disappeared (an emptied inbox) reads 0 rather than its last value.
    pub fn set_all(&self, name: &str, label: &str, values: &BTreeMap<String, u64>) {
        let mut r = self.lock();
        for ((n, _), v) in r.gauges.iter_mut() {
            if n == name {
                *v = 0;
            }
        }
        for (label_value, v) in values {
            r.gauges.insert(
                key(name, &[(label, label_value)]),
                i64::try_from(*v).unwrap_or(i64::MAX),
            );
        }
    }

    /// Records one duration in a latency summary.
    pub fn observe(&self, name: &str, labels: Labels<'_>, elapsed: Duration) {
        let mut r = self.lock();
        let s = r.summaries.entry(key(name, labels)).or_insert((0.0, 0));
        s.0 += elapsed.as_secs_f64();
        s.1 = s.1.saturating_add(1);
    }

    /// A counter's value (0 when never incremented).
    pub fn counter(&self, name: &str, labels: Labels<'_>) -> u64 {
        self.lock()
            .counters
            .get(&key(name, labels))
            .copied()
            .unwrap_or(0)
    }

    /// The sum of a counter over every label set.
    pub fn counter_total(&self, name: &str) -> u64 {
        self.lock()
            .counters
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|(_, v)| *v)
            .sum()
    }

    /// A gauge's value.
    pub fn gauge(&self, name: &str, labels: Labels<'_>) -> Option<i64> {
        self.lock().gauges.get(&key(name, labels)).copied()
    }

    /// A summary's (sum of seconds, count).
    pub fn summary(&self, name: &str, labels: Labels<'_>) -> Option<(f64, u64)> {
        self.lock().summaries.get(&key(name, labels)).copied()
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let r = self.lock();
        let mut out = String::new();
        let header = |out: &mut String, name: &str, kind: Kind, last: &mut String| {
            if last == name {
                return;
            }
            *last = name.to_string();
            let help = r
                .help
                .get(name)
                .map(String::as_str)
                .or_else(|| default_help(name));
            if let Some(help) = help {
                let _ = writeln!(out, "# HELP {name} {}", help.replace('\n', " "));
            }
            let kind = match kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Summary => "summary",
            };
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        let mut last = String::new();
        for ((name, labels), v) in &r.counters {
            header(&mut out, name, Kind::Counter, &mut last);
            write_series(&mut out, name, labels, &v.to_string());
        }
        for ((name, labels), v) in &r.gauges {
            header(&mut out, name, Kind::Gauge, &mut last);
            write_series(&mut out, name, labels, &v.to_string());
        }
        for ((name, labels), (sum, count)) in &r.summaries {
            header(&mut out, name, Kind::Summary, &mut last);
            write_series(&mut out, &format!("{name}_sum"), labels, &format!("{sum}"));
            write_series(
                &mut out,
                &format!("{name}_count"),
                labels,
                &count.to_string(),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_gauges_and_summaries_in_prometheus_text() {
        let m = Metrics::new();
        m.inc(
            WEBHOOKS_RECEIVED,
            &[("tenant", "acme"), ("source", "quickbooks")],
        );
        m.inc(
            WEBHOOKS_RECEIVED,
            &[("source", "quickbooks"), ("tenant", "acme")],
        );
        m.set(INBOX_DEPTH, &[("tenant", "acme")], 3);
        m.observe(
            WEBHOOK_REQUEST_SECONDS,
            &[("tenant", "acme")],
            Duration::from_millis(250),
        );
        m.observe(
            WEBHOOK_REQUEST_SECONDS,
            &[("tenant", "acme")],
            Duration::from_millis(250),
        );
        let text = m.render();
        assert!(text.contains("# TYPE ledgerlink_webhooks_received_total counter\n"));
        assert!(text.contains(
            "ledgerlink_webhooks_received_total{source=\"quickbooks\",tenant=\"acme\"} 2\n"
        ));
        assert!(text.contains("ledgerlink_inbox_depth{tenant=\"acme\"} 3\n"));
        assert!(text.contains("# TYPE ledgerlink_webhook_request_seconds summary\n"));
        assert!(text.contains("ledgerlink_webhook_request_seconds_sum{tenant=\"acme\"} 0.5\n"));
        assert!(text.contains("ledgerlink_webhook_request_seconds_count{tenant=\"acme\"} 2\n"));
    }

    #[test]
    fn label_values_are_escaped_and_other_modules_can_add_their_own() {
        let m = Metrics::new();
        m.add(THROTTLES, &[("tenant", "a\"b\\c\nd")], 2);
        m.describe("my_custom_total", "Custom.");
        m.inc("my_custom_total", &[]);
        let text = m.render();
        assert!(text.contains("ledgerlink_throttles_total{tenant=\"a\\\"b\\\\c\\nd\"} 2\n"));
        assert!(text.contains(
            "# HELP my_custom_total Custom.\n# TYPE my_custom_total counter\nmy_custom_total 1\n"
        ));
        assert_eq!(m.counter_total(THROTTLES), 2);
    }

    #[test]
    fn set_all_zeroes_series_that_disappeared() {
        let m = Metrics::new();
        let mut depth = BTreeMap::from([("a".to_string(), 2u64), ("b".to_string(), 1)]);
        m.set_all(INBOX_DEPTH, "tenant", &depth);
        depth.remove("a");
        m.set_all(INBOX_DEPTH, "tenant", &depth);
        assert_eq!(m.gauge(INBOX_DEPTH, &[("tenant", "a")]), Some(0));
        assert_eq!(m.gauge(INBOX_DEPTH, &[("tenant", "b")]), Some(1));
    }
}

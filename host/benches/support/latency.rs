//! What the latency benchmarks share: their sizes from the environment and percentiles.

use std::time::Duration;

/// `LEDGERLINK_BENCH_<name>` as a number, else `default`.
pub fn size(name: &str, default: u64) -> u64 {
    std::env::var(format!("LEDGERLINK_BENCH_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The nearest-rank percentile `p` (0 to 1) of `sorted` (not empty).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

//! What the latency benchmarks share: their sizes from the environment, the measuring loop and
//! the latency line.

use std::time::{Duration, Instant};

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

/// Makes `count` changes `interval` apart (`make(i)`), polling every `poll` until each is seen
/// (`seen(i)`); fails when the last change is not seen within two minutes (`late` says what).
/// Returns the sorted latencies, each from its change's return to its first sighting, and the
/// wall time of the whole.
pub fn measure(
    count: usize,
    interval: Duration,
    poll: Duration,
    late: &str,
    mut make: impl FnMut(usize) -> anyhow::Result<()>,
    mut seen: impl FnMut(usize) -> bool,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let mut made_at: Vec<Instant> = Vec::with_capacity(count);
    let mut latencies: Vec<Option<Duration>> = vec![None; count];
    let started = Instant::now();
    while latencies.iter().any(Option::is_none) {
        let due = made_at.last().is_none_or(|t| t.elapsed() >= interval);
        if made_at.len() < count && due {
            make(made_at.len())?;
            made_at.push(Instant::now());
        }
        for (i, at) in made_at.iter().enumerate() {
            if latencies[i].is_none() && seen(i) {
                latencies[i] = Some(at.elapsed());
            }
        }
        let last = *made_at.last().unwrap_or(&started);
        anyhow::ensure!(last.elapsed() < Duration::from_secs(120), "{late}");
        std::thread::sleep(poll);
    }
    let elapsed = started.elapsed();
    let mut measured: Vec<Duration> = latencies.into_iter().flatten().collect();
    measured.sort();
    Ok((measured, elapsed))
}

/// The `latency  p50 .., p99 .., max ..` line of sorted latencies (nothing when there are none).
pub fn print_latency(measured: &[Duration]) {
    if measured.is_empty() {
        return;
    }
    println!(
        "latency              p50 {} ms, p99 {} ms, max {} ms",
        percentile(measured, 0.50).as_millis(),
        percentile(measured, 0.99).as_millis(),
        measured.last().map_or(0, Duration::as_millis)
    );
}

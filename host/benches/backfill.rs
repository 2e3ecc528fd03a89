//! Backfill benchmark: 10,000 Closed Won opportunities (3 lines each, 2,000 accounts, 200
//! products) through the real component and host against the emulators with QBO's rate limits
//! on. Reports QBO and Salesforce requests per invoice and throughput against QBO's ceiling.
//! Sizes can be lowered with `LEDGERLINK_BENCH_OPPORTUNITIES`, `..._ACCOUNTS`, `..._PRODUCTS`;
//! `LEDGERLINK_BENCH_BATCH_LATENCY_MS` adds latency to every QBO `/batch` answer.
//! Results and their reading are in BENCHMARKS.md.

use chrono::{DateTime, Utc};
use ledgerlink::db::Database;
use ledgerlink::emulated_company::{LocalCompany, LocalOptions};
use ledgerlink::flow_calls;
use ledgerlink::runtime::exports::ledgerlink::sync::flows::{FlowError, Outcome};
use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink_emulators::common::faults::{FaultKind, FaultRule};
use ledgerlink_emulators::qbo::QboConfig;
use ledgerlink_emulators::seed::SeedSpec;
use std::time::{Duration, Instant};

fn size(name: &str, default: usize) -> usize {
    std::env::var(format!("LEDGERLINK_BENCH_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        println!("backfill: bench");
        return Ok(());
    }
    // `cargo test --all-targets` runs this without `--bench`: a smoke run of a small company.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let scale =
        |name: &str, full: usize, small: usize| size(name, if smoke { small } else { full });
    let spec = SeedSpec {
        accounts: scale("ACCOUNTS", 2000, 10),
        products: scale("PRODUCTS", 200, 5),
        opportunities: scale("OPPORTUNITIES", 10_000, 40),
        closed_won_fraction: 1.0,
        lines_per_opportunity: 3,
        orders: 0,
        seed: 2026,
    };
    let db = Database::in_memory()?;
    let seeding = Instant::now();
    // `LEDGERLINK_BENCH_UNLIMITED=1`: no QBO limits and no pacing, for a CPU profile of the
    // sync itself (the figures against the ceiling then mean nothing).
    let unlimited = std::env::var("LEDGERLINK_BENCH_UNLIMITED").is_ok_and(|v| v == "1");
    let mut qbo = QboConfig::default();
    qbo.rate_limits.enabled = !unlimited;
    let limits = qbo.rate_limits.clone();
    let company = LocalCompany::start(
        LocalOptions {
            seed: spec.clone(),
            qbo,
            pacing: !unlimited,
            ..LocalOptions::default()
        },
        &db,
    )?;
    eprintln!("seeded in {:?}", seeding.elapsed());
    // `LEDGERLINK_BENCH_BATCH_LATENCY_MS=N`: every QBO `/batch` answer takes N ms more, as a
    // batch of 30 creates does against the real API (the emulator answers in a few ms).
    let batch_latency = size("BATCH_LATENCY_MS", 0) as u64;
    if batch_latency > 0 {
        company.qbo.faults().push(FaultRule {
            method: Some("POST".into()),
            path_contains: Some("/batch".into()),
            fault: FaultKind::Latency { ms: batch_latency },
            probability: 1.0,
            times: None,
        });
    }
    let runtime = Runtime::embedded(Limits {
        memory_bytes: 1 << 30,
        cpu_deadline: Duration::from_secs(7200),
        wall_clock: Duration::from_secs(7200),
        ..Limits::default()
    })?;
    let tokio = tokio::runtime::Runtime::new()?;
    let started = Instant::now();
    let mut runs = 0;
    let mut waited = Duration::ZERO;
    loop {
        runs += 1;
        let result = tokio.block_on(flow_calls::run_job(
            &runtime,
            &company.tenant,
            "backfill",
            "{}",
        ))?;
        let retry_at = match &result {
            Ok(r) if r.failed == 0 => break,
            Ok(r) => {
                let permanent: Vec<_> = r
                    .records
                    .iter()
                    .filter(|o| o.outcome == Outcome::Failed && !o.retryable)
                    .collect();
                anyhow::ensure!(permanent.is_empty(), "permanent failures: {permanent:?}");
                r.records
                    .iter()
                    .filter(|o| o.code.as_deref() == Some("throttled"))
                    .filter_map(|o| o.detail.rsplit(' ').next())
                    .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .min()
            }
            Err(FlowError::Throttled(at)) => DateTime::parse_from_rfc3339(at)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            Err(e) => anyhow::bail!("backfill failed: {e:?}"),
        };
        // Honour the retry time the API (or the host's pacing) gave, as the scheduler does.
        let wait = retry_at
            .map(|t| (t - Utc::now()).to_std().unwrap_or_default())
            .unwrap_or(Duration::from_secs(1))
            .max(Duration::from_millis(200));
        waited += wait;
        std::thread::sleep(wait);
    }
    let elapsed = started.elapsed();
    let qbo_log = company.qbo.log();
    let invoices = company.qbo.entities(&company.realm, "Invoice").len();
    let qbo_calls = qbo_log.len();
    let throttled = qbo_log.count(|r| r.status == 429);
    let batches = qbo_log.count(|r| r.path.ends_with("/batch") && r.status == 200);
    let sf_calls = company.sf.log().len();
    let minutes = elapsed.as_secs_f64() / 60.0;
    let batch_rate = batches as f64 / minutes;
    let request_rate = (qbo_calls - throttled) as f64 / minutes;
    // The sliding one-minute windows let a full minute's budget through at once; after that,
    // the binding limit sets the shortest possible time.
    let ideal_minutes = ((batches as f64 - f64::from(limits.batch_per_minute))
        / f64::from(limits.batch_per_minute))
    .max((qbo_calls as f64 - f64::from(limits.per_minute)) / f64::from(limits.per_minute))
    .max(0.0);
    let fraction = ideal_minutes / minutes;
    // The window is a sliding minute (as the host keeps it): batch k goes no sooner than a
    // minute after batch k - 40, so the last of n batches is at least (n - 1) / 40 whole
    // minutes after the first, whatever the client does.
    let window_minutes = (batches.saturating_sub(1) / limits.batch_per_minute as usize) as f64;
    println!("opportunities        {}", spec.opportunities);
    println!("invoices created     {invoices}");
    println!(
        "wall time            {:.1} s ({runs} runs, {:.1} s waiting out throttles)",
        elapsed.as_secs_f64(),
        waited.as_secs_f64()
    );
    println!("QBO requests         {qbo_calls} ({throttled} answered 429, {batches} batches)");
    println!(
        "QBO per invoice      {:.4}",
        qbo_calls as f64 / invoices.max(1) as f64
    );
    println!(
        "Salesforce requests  {sf_calls} ({:.4} per invoice)",
        sf_calls as f64 / invoices.max(1) as f64
    );
    println!("invoices per minute  {:.0}", invoices as f64 / minutes);
    println!(
        "batch requests/min   {batch_rate:.1} of {} allowed",
        limits.batch_per_minute
    );
    println!(
        "requests/min         {request_rate:.1} of {} allowed",
        limits.per_minute
    );
    if ideal_minutes > 0.0 {
        println!(
            "fraction of ceiling  {:.0} % (shortest time the limits allow: {:.1} min)",
            fraction * 100.0,
            ideal_minutes
        );
    } else {
        println!("fraction of ceiling  n/a: the whole run fits in one minute's budget");
    }
    if window_minutes > 0.0 {
        println!(
            "window floor         {:.0} % ({:.0} s from the first batch to the last at the least)",
            window_minutes / minutes * 100.0,
            window_minutes * 60.0
        );
    }
    let mut by_kind: std::collections::BTreeMap<String, usize> = Default::default();
    for r in company.sf.log().entries() {
        let kind: String = r
            .path
            .split('/')
            .skip(4)
            .take(2)
            .collect::<Vec<_>>()
            .join("/");
        *by_kind.entry(format!("{} {kind}", r.method)).or_default() += 1;
    }
    println!("Salesforce calls by kind: {by_kind:?}");
    anyhow::ensure!(
        invoices == spec.opportunities,
        "every opportunity is invoiced once"
    );
    Ok(())
}

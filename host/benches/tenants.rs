//! Many tenants on one host (issue 16, point 3): the real `ledgerlink run` serves
//! `LEDGERLINK_BENCH_TENANTS` tenants (1,000) against emulators in the bench process, so that
//! the daemon's memory and CPU are its own. One QBO emulator serves a realm per tenant and
//! sends its signed webhooks to the daemon (aggregating `LEDGERLINK_BENCH_AGGREGATE_MS`, 200);
//! each tenant has its own Salesforce org (one emulator each, all served by one tokio runtime)
//! seeded with 2 accounts, 3 products and `LEDGERLINK_BENCH_WON` (3) Closed Won opportunities.
//! Each tenant polls every `LEDGERLINK_BENCH_POLL_SECS` (60), the tenants' slots spread evenly
//! over the period (`LEDGERLINK_BENCH_SPREAD=0`: every tenant on the component's default
//! schedule, every five minutes, which the host staggers per tenant); aging and reconcile are
//! off.
//!
//! Phases: (1) start, until every won opportunity of every tenant is invoiced and written back
//! (the first polls); (2) steady state for `LEDGERLINK_BENCH_STEADY_SECS` (300): the daemon's
//! RSS, peak RSS and CPU are read from `/proc` every second; meanwhile payments are recorded
//! through QBO's API one per `LEDGERLINK_BENCH_INTERVAL_MS` (1,000), round robin over
//! `LEDGERLINK_BENCH_PAID_TENANTS` (100) tenants, each paying one invoice in full, and each
//! payment's latency runs from QBO's answer to its create to the Opportunity's
//! `Payment_Status__c` written. Afterwards the daemon's `job_runs` tell how the runs went.
//!
//! `LEDGERLINK_BENCH_API_LATENCY_MS` adds that much to every API request in the steady window
//! (the real APIs' round trips), `LEDGERLINK_BENCH_INBOX_PARALLEL` sets the daemon's
//! `inbox-tenants-in-parallel` (8).
//!
//! `cargo bench -p ledgerlink --bench tenants --features emulators`; under `cargo test` it
//! runs 5 tenants polling every 5 s for 10 s as a smoke test. `LEDGERLINK_BENCH_DAEMON` names
//! a copy of the `ledgerlink` binary to run instead of the one built with the bench. Results
//! and their reading are in BENCHMARKS.md.

use ledgerlink::db::Database;
use ledgerlink::emulated_company::{connections_toml, NotifySink};
use ledgerlink_emulators::common::faults::{FaultKind, FaultRule};
use ledgerlink_emulators::common::server::RunningServer;
use ledgerlink_emulators::qbo::{QboConfig, QboEmulator};
use ledgerlink_emulators::salesforce::{SalesforceConfig, SalesforceEmulator};
use ledgerlink_emulators::seed::{self, SeedSpec};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[path = "support/daemon.rs"]
mod daemon_support;
#[path = "support/latency.rs"]
mod latency_support;
#[path = "support/payments.rs"]
mod payments_support;
#[path = "support/process.rs"]
mod process_support;
use daemon_support::Daemon;
use latency_support::{measure, percentile, print_latency, size};
use payments_support::pay_in_full;
use process_support::{mib, sample, ProcessSample};

const BIN: &str = env!("CARGO_BIN_EXE_ledgerlink");
const VERIFIER_ENV: &str = "LL_TENANTS_VERIFIER";

/// One tenant's Salesforce org, served on its own loopback port.
struct Org {
    sf: SalesforceEmulator,
    url: String,
}

/// The tenant's id, realm and token variables.
fn tenant_id(i: usize) -> String {
    format!("t{i:04}")
}

fn realm(i: usize) -> String {
    format!("{}", 9_130_355_377_100_000u64 + i as u64)
}

fn qbo_token_env(i: usize) -> String {
    format!("LL_TENANTS_QBO_{i}")
}

fn sf_token_env(i: usize) -> String {
    format!("LL_TENANTS_SF_{i}")
}

/// Starts `n` seeded orgs on `runtime` (one listener each: a tenant reaches only its own org,
/// as with the real Salesforce, without a thread and a runtime per org).
fn start_orgs(runtime: &tokio::runtime::Runtime, n: usize, won: usize) -> anyhow::Result<Vec<Org>> {
    let mut orgs = Vec::with_capacity(n);
    for i in 0..n {
        let sf = SalesforceEmulator::try_new(SalesforceConfig::default())?;
        seed::generate(&SeedSpec {
            accounts: 2,
            products: 3,
            opportunities: won,
            closed_won_fraction: 1.0,
            lines_per_opportunity: 2,
            orders: 0,
            seed: i as u64,
        })
        .load_into(&sf)?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let router = sf.router();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            let _ = axum::serve(listener, router).await;
        });
        orgs.push(Org { sf, url });
    }
    Ok(orgs)
}

/// The poll schedule of tenant `i`: every `period` seconds, the tenants' slots spread evenly
/// over it (a period that divides 60 or is a whole number of minutes up to 60).
fn poll_schedule(i: usize, n: usize, period: u64) -> String {
    let offset = (i as u64 * period) / n.max(1) as u64;
    if period < 60 {
        format!("{}/{period} * * * * *", offset % period)
    } else {
        let minutes = period / 60;
        format!(
            "{} {}/{minutes} * * * *",
            offset % 60,
            offset / 60 % minutes
        )
    }
}

/// Where the daemon and its tenants' services are.
struct Endpoints<'a> {
    listen: &'a str,
    qbo: &'a str,
    notify: &'a str,
}

/// `period`: the poll's period in seconds, the tenants' slots spread over it; `None`: the
/// component's default schedule (every five minutes; the host moves each tenant's slot by its
/// own offset, `scheduler::stagger`) for every tenant.
fn config(dir: &Path, at: &Endpoints, orgs: &[Org], period: Option<u64>) -> PathBuf {
    let mut text = format!(
        r#"[store]
path = "ledgerlink.db"

[server]
listen = "{listen}"
shutdown-grace-secs = 10
inbox-tenants-in-parallel = {parallel}
"#,
        listen = at.listen,
        // `LEDGERLINK_BENCH_INBOX_PARALLEL`: the inbox's tenants in flight at once.
        parallel = size("INBOX_PARALLEL", 8),
    );
    for (i, org) in orgs.iter().enumerate() {
        text.push_str(&format!(
            r#"
[[tenant]]
id = "{id}"

[tenant.settings]
realm-id = "{realm}"

[tenant.schedules]
{poll}aging = "off"
reconcile = "off"

[tenant.webhooks]
verifier-token-env = "{VERIFIER_ENV}"
{connections}
[tenant.connections.notify]
base-url = "{notify}"
"#,
            id = tenant_id(i),
            realm = realm(i),
            poll = period.map_or(String::new(), |p| format!(
                "poll = \"{}\"\n",
                poll_schedule(i, orgs.len(), p)
            )),
            connections = connections_toml(at.qbo, &qbo_token_env(i), &org.url, &sf_token_env(i)),
            notify = at.notify,
        ));
    }
    let path = dir.join("ledgerlink.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

/// A free loopback port for the daemon's receiver, so that QBO can be told where to send
/// before the daemon starts.
fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Tenants whose won opportunities all carry their invoice.
fn invoiced(orgs: &[Org]) -> usize {
    orgs.iter()
        .filter(|o| {
            o.sf.records("Opportunity")
                .iter()
                .filter(|r| r["IsWon"] == json!(true))
                .all(|r| r["QBO_Invoice_Id__c"].is_string())
        })
        .count()
}

/// Reads the daemon every second until told to stop.
struct Sampler {
    samples: Arc<Mutex<Vec<(Instant, ProcessSample)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let samples: Arc<Mutex<Vec<(Instant, ProcessSample)>>> = Arc::default();
        let stop: Arc<std::sync::atomic::AtomicBool> = Arc::default();
        let (into, halt) = (samples.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !halt.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(s) = sample(pid) {
                    into.lock().expect("samples").push((Instant::now(), s));
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        Self {
            samples,
            stop,
            thread: Some(thread),
        }
    }

    /// The samples taken at or after `from`.
    fn since(&self, from: Instant) -> Vec<ProcessSample> {
        self.samples
            .lock()
            .expect("samples")
            .iter()
            .filter(|(at, _)| *at >= from)
            .map(|(_, s)| *s)
            .collect()
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One finished run from the daemon's `job_runs`.
struct Run {
    job: String,
    status: String,
    started: String,
    millis: f64,
    summary: String,
}

fn runs(db: &Database) -> anyhow::Result<Vec<Run>> {
    let conn = anyhow::Context::context(db.sqlite(), "a SQLite store")?.lock();
    let mut stmt = conn.prepare(
        "SELECT job, status, started, (julianday(finished) - julianday(started)) * 86400000.0, summary
         FROM job_runs WHERE finished IS NOT NULL",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Run {
                job: r.get(0)?,
                status: r.get(1)?,
                started: r.get(2)?,
                millis: r.get::<_, Option<f64>>(3)?.unwrap_or(0.0),
                summary: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        println!("tenants: bench");
        return Ok(());
    }
    // `cargo test --all-targets` runs this without `--bench`: a smoke run of a few tenants.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let n = size("TENANTS", if smoke { 5 } else { 1000 }) as usize;
    let won = size("WON", 3) as usize;
    let period = size("POLL_SECS", if smoke { 5 } else { 60 });
    // `LEDGERLINK_BENCH_SPREAD=0`: every tenant on the component's default poll schedule.
    let spread = size("SPREAD", 1) == 1;
    let steady = Duration::from_secs(size("STEADY_SECS", if smoke { 10 } else { 300 }));
    let paid = (size("PAID_TENANTS", 100) as usize).min(n);
    let interval = Duration::from_millis(size("INTERVAL_MS", 1000));
    let aggregate = size("AGGREGATE_MS", 200);
    let payments = ((steady.as_millis() / interval.as_millis().max(1)) as usize).min(paid * won);

    let dir = tempfile::tempdir()?;
    let listen = format!("127.0.0.1:{}", free_port()?);
    let clock = Instant::now();
    let mut qbo_config = QboConfig {
        realms: (0..n).map(realm).collect(),
        webhook_url: Some(format!("http://{listen}/webhooks/quickbooks")),
        webhook_delay_ms: aggregate,
        ..QboConfig::default()
    };
    // The payments stand for a bookkeeper's entries in QBO, which do not count against the
    // app's limits; the host still paces the integration's own calls per realm.
    qbo_config.rate_limits.enabled = false;
    let verifier = qbo_config.verifier_token.clone();
    let (qbo, qbo_server) = QboEmulator::start(qbo_config, 0)?;
    let sf_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let orgs = start_orgs(&sf_runtime, n, won)?;
    // One sink takes every tenant's notifications (payment notices), as a chat service would.
    let notify = NotifySink::default();
    let notify_server = RunningServer::start(notify.router(), 0)?;
    let endpoints = Endpoints {
        listen: &listen,
        qbo: &qbo_server.url(),
        notify: &notify_server.url(),
    };
    let config = config(dir.path(), &endpoints, &orgs, spread.then_some(period));
    let emulators_up = clock.elapsed();

    let log = std::fs::File::create(dir.path().join("daemon.log"))?;
    // `LEDGERLINK_BENCH_DAEMON`: a copy of the binary to run instead (a shared target
    // directory may be rebuilt from another branch while this runs).
    let bin = std::env::var("LEDGERLINK_BENCH_DAEMON").unwrap_or_else(|_| BIN.to_string());
    let mut command = Command::new(bin);
    command
        .args(["run", "--config"])
        .arg(&config)
        .env(VERIFIER_ENV, &verifier)
        .env("LEDGERLINK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(log);
    for (i, org) in orgs.iter().enumerate() {
        command
            .env(qbo_token_env(i), qbo.issue_tokens(&realm(i)).access_token)
            .env(sf_token_env(i), org.sf.issue_token());
    }
    let started = Instant::now();
    let mut daemon = Daemon(command.spawn()?);
    let pid = daemon.0.id();
    let sampler = Sampler::start(pid);

    // (1) Up and listening, then every tenant's won opportunities invoiced.
    let http = reqwest::blocking::Client::new();
    let give_up = started + Duration::from_secs(if smoke { 120 } else { 1800 });
    while http
        .get(format!("http://{listen}/healthz"))
        .send()
        .map_or(true, |r| !r.status().is_success())
    {
        anyhow::ensure!(Instant::now() < give_up, "the daemon did not start");
        anyhow::ensure!(daemon.0.try_wait()?.is_none(), "the daemon exited");
        std::thread::sleep(Duration::from_millis(100));
    }
    let listening = started.elapsed();
    let mut done = 0;
    while done < n {
        anyhow::ensure!(
            Instant::now() < give_up,
            "only {done} of {n} tenants invoiced"
        );
        anyhow::ensure!(daemon.0.try_wait()?.is_none(), "the daemon exited");
        std::thread::sleep(Duration::from_secs(1));
        done = invoiced(&orgs);
    }
    let all_invoiced = started.elapsed();
    eprintln!(
        "{n} tenants invoiced at {:.1} s",
        all_invoiced.as_secs_f64()
    );
    // The first polls' own webhooks (every customer, item and invoice created) handled too,
    // so that the steady window starts steady.
    loop {
        anyhow::ensure!(Instant::now() < give_up, "the inbox did not drain");
        let health: Value = http
            .get(format!("http://{listen}/healthz"))
            .send()?
            .json()?;
        if health["inbox_pending"] == json!(0) {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let drained = started.elapsed();

    // (2) Steady state, with payments.
    let targets: Vec<(usize, String, Value)> = (0..payments)
        .map(|k| {
            let (t, o) = (k % paid, k / paid);
            let opportunity = orgs[t]
                .sf
                .records("Opportunity")
                .into_iter()
                .filter(|r| r["IsWon"] == json!(true))
                .nth(o)
                .expect("a won opportunity");
            let invoice_id = opportunity["QBO_Invoice_Id__c"].clone();
            let invoice = qbo
                .entities(&realm(t), "Invoice")
                .into_iter()
                .find(|i| i["Id"] == invoice_id)
                .expect("the invoice");
            (
                t,
                opportunity["Id"].as_str().unwrap_or_default().to_string(),
                invoice,
            )
        })
        .collect();
    let tokens: BTreeMap<usize, String> = (0..paid)
        .map(|t| (t, qbo.issue_tokens(&realm(t)).access_token))
        .collect();
    // `LEDGERLINK_BENCH_API_LATENCY_MS=N`: from here on every API request (QBO and each org)
    // takes N ms more, as the real APIs' round trips do; the emulators answer in about 1 ms.
    let api_latency = size("API_LATENCY_MS", 0);
    if api_latency > 0 {
        let rule = FaultRule {
            method: None,
            path_contains: Some("/".into()),
            fault: FaultKind::Latency { ms: api_latency },
            probability: 1.0,
            times: None,
        };
        qbo.faults().push(rule.clone());
        for org in &orgs {
            org.sf.faults().push(rule.clone());
        }
    }
    let qbo_before = qbo.log().entries();
    let window = Instant::now();
    let (latencies, _) = measure(
        payments,
        interval,
        Duration::from_millis(5),
        "payments not in Salesforce within two minutes of the last one",
        |k| {
            let (t, _, invoice) = &targets[k];
            pay_in_full(
                &http,
                &format!("{}/v3/company/{}/payment", qbo_server.url(), realm(*t)),
                &tokens[t],
                invoice,
            )
        },
        |k| {
            let (t, opportunity, _) = &targets[k];
            orgs[*t]
                .sf
                .get("Opportunity", opportunity)
                .is_some_and(|o| o["Payment_Status__c"].is_string())
        },
    )?;
    if let Some(rest) = steady.checked_sub(window.elapsed()) {
        std::thread::sleep(rest);
    }
    std::thread::sleep(Duration::from_millis(1100));
    let window_len = window.elapsed();
    let window_samples = sampler.since(window);
    let all_samples = sampler.since(started);
    drop(sampler);
    let qbo_after = qbo.log().entries();
    let window_stamp = ledgerlink::scheduler::runs::stamp(
        chrono::Utc::now() - chrono::Duration::from_std(window_len)?,
    );

    // (3) Stop the daemon and read its runs.
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    daemon.0.wait()?;
    let db = Database::open(&dir.path().join("ledgerlink.db"))?;
    let runs = runs(&db)?;

    let (first, last) = (
        window_samples.first().copied().unwrap_or_default(),
        window_samples.last().copied().unwrap_or_default(),
    );
    let cpu = last.cpu.saturating_sub(first.cpu);
    let hours = window_len.as_secs_f64() / 3600.0;
    let rss: Vec<u64> = window_samples.iter().map(|s| s.rss_kib).collect();
    let rss_mean = rss.iter().sum::<u64>() / rss.len().max(1) as u64;
    let rss_max = rss.iter().copied().max().unwrap_or(0);
    let peak = all_samples.iter().map(|s| s.hwm_kib).max().unwrap_or(0);
    let threads = window_samples.iter().map(|s| s.threads).max().unwrap_or(0);
    let new_qbo = &qbo_after[qbo_before.len().min(qbo_after.len())..];
    let paid_realms: Vec<String> = (0..paid).map(realm).collect();
    let cdc = new_qbo.iter().filter(|r| r.path.ends_with("/cdc")).count();
    let by_paid = new_qbo
        .iter()
        .filter(|r| paid_realms.iter().any(|p| r.path.contains(p.as_str())))
        .count();

    let schedule = if spread {
        format!("poll every {period} s, the tenants spread over it")
    } else {
        "poll on the default schedule (0 */5 * * * *, staggered per tenant by the host)".to_string()
    };
    println!("tenants              {n} ({won} won opportunities each), {schedule}; aging and reconcile off");
    println!(
        "emulators up         {:.1} s; daemon listening {:.1} s after its start; every tenant invoiced at {:.1} s, their webhooks handled at {:.1} s",
        emulators_up.as_secs_f64(),
        listening.as_secs_f64(),
        all_invoiced.as_secs_f64(),
        drained.as_secs_f64()
    );
    println!(
        "steady window        {:.1} s: RSS mean {}, max {}; peak RSS over the run (VmHWM) {}; threads {threads}",
        window_len.as_secs_f64(),
        mib(rss_mean),
        mib(rss_max),
        mib(peak)
    );
    println!(
        "CPU                  {:.1} s in the window ({:.1} % of one core), {:.3} CPU-s per tenant-hour",
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / window_len.as_secs_f64(),
        cpu.as_secs_f64() / n as f64 / hours
    );
    println!(
        "payments             {payments}, {} ms apart, round robin over {paid} tenants; QBO aggregating {aggregate} ms",
        interval.as_millis()
    );
    print_latency(&latencies);
    println!(
        "QBO requests         {} in the window ({cdc} CDC); {} for the {paid} paying tenants' realms, of which {payments} are the payments",
        new_qbo.len(),
        by_paid
    );
    // The runs, by job and outcome, over the whole run and in the window.
    let mut table: BTreeMap<(String, String), (usize, usize, Vec<f64>)> = BTreeMap::new();
    for r in &runs {
        let e = table.entry((r.job.clone(), r.status.clone())).or_default();
        e.0 += 1;
        if r.started >= window_stamp {
            e.1 += 1;
            e.2.push(r.millis);
        }
    }
    println!("runs                 job, status: all / in the window; duration in the window p50, p99, max");
    for ((job, status), (all, in_window, mut millis)) in table {
        millis.sort_by(f64::total_cmp);
        let durations: Vec<Duration> = millis
            .iter()
            .map(|m| Duration::from_secs_f64(m.max(0.0) / 1000.0))
            .collect();
        let line = if durations.is_empty() {
            String::new()
        } else {
            format!(
                "{} ms, {} ms, {} ms",
                percentile(&durations, 0.5).as_millis(),
                percentile(&durations, 0.99).as_millis(),
                durations.last().map_or(0, Duration::as_millis)
            )
        };
        println!("  {job:<20} {status:<10} {all} / {in_window}  {line}");
    }
    let troubled: Vec<&Run> = runs
        .iter()
        .filter(|r| !matches!(r.status.as_str(), "ok" | "throttled"))
        .collect();
    for r in troubled.iter().take(5) {
        println!(
            "  not ok: {} {} {}: {}",
            r.job, r.started, r.status, r.summary
        );
    }
    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default();
    println!("notifications        {} posted", notify.messages().len());
    println!("daemon log           {} lines at warn", log.lines().count());
    for line in log.lines().take(3) {
        println!("  {}", line.chars().take(300).collect::<String>());
    }
    anyhow::ensure!(
        troubled.is_empty(),
        "{} runs did not end ok",
        troubled.len()
    );
    Ok(())
}

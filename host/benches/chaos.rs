//! Chaos benchmark (issue 13): `ledgerlink run` serves one tenant against the emulators while
//! a share of every QBO and Salesforce write fails (503 before the commit, 503 after it, the
//! answer lost after the commit, QBO 429s) and the daemon is killed with SIGKILL at random
//! points and started again. Payments are recorded in QBO part-way. Then the faults stop and
//! the daemon is left to converge. Afterwards: every Closed Won opportunity has exactly one
//! invoice, written back; the invoices total the opportunities to the cent; every payment is on
//! its opportunity; every activated order has one balanced journal entry; and whatever is not
//! synced is in the error ledger with a reason.
//!
//! `cargo bench -p ledgerlink --bench chaos`. Sizes: `LEDGERLINK_CHAOS_OPPORTUNITIES` (10,000),
//! `..._PAYMENTS` (1,000), `..._ORDERS` (200), `..._KILLS` (5), `..._FAIL_PERCENT` (10),
//! `..._SEED` (the random points and faults), `..._CONVERGE_SECS` (3,600: how long to wait
//! after the faults stop). Under `cargo test` it runs a small company with
//! one kill as a smoke test. Results and their reading are in BENCHMARKS.md.

use ledgerlink::db::Database;
use ledgerlink::emulated_company::{LocalCompany, LocalOptions};
use ledgerlink::scheduler::{ErrorLedger, JobRuns};
use ledgerlink_emulators::common::faults::{FaultKind, FaultRule};
use ledgerlink_emulators::seed::SeedSpec;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

#[path = "support/daemon.rs"]
mod daemon_support;
use daemon_support::Daemon;

const BIN: &str = env!("CARGO_BIN_EXE_ledgerlink");
const QBO_TOKEN_ENV: &str = "LL_CHAOS_QBO_TOKEN";
const SF_TOKEN_ENV: &str = "LL_CHAOS_SF_TOKEN";

fn size(name: &str, full: u64, smoke: u64, is_smoke: bool) -> u64 {
    std::env::var(format!("LEDGERLINK_CHAOS_{name}"))
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if is_smoke { smoke } else { full })
}

fn money(v: &Value) -> Decimal {
    match v {
        Value::Number(n) => Decimal::from_str(&n.to_string()).unwrap_or_default(),
        Value::String(s) => Decimal::from_str(s).unwrap_or_default(),
        _ => Decimal::ZERO,
    }
}

fn config(dir: &Path, c: &LocalCompany) -> PathBuf {
    let path = dir.join("ledgerlink.toml");
    let text = format!(
        r#"[store]
path = "ledgerlink.db"

[server]
listen = "127.0.0.1:0"
scheduler-tick-ms = 200
shutdown-grace-secs = 5

[[tenant]]
id = "chaos"

[tenant.settings]
realm-id = "{realm}"

[tenant.schedules]
poll = "*/5 * * * * *"
aging = "off"
reconcile = "off"
{connections}"#,
        realm = c.realm,
        connections = c.connections_toml(QBO_TOKEN_ENV, SF_TOKEN_ENV),
    );
    std::fs::write(&path, text).expect("write the config");
    path
}

fn start(config: &Path, c: &LocalCompany) -> Daemon {
    let child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(config)
        .env(QBO_TOKEN_ENV, c.qbo.issue_tokens(&c.realm).access_token)
        .env(SF_TOKEN_ENV, c.sf.issue_token())
        .env("LEDGERLINK_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start ledgerlink run");
    Daemon(child)
}

/// The share `percent` of writes fails, split over the ways a write can fail.
fn faults_on(c: &LocalCompany, percent: f64) {
    let qbo = [
        FaultKind::Status { status: 503 },
        FaultKind::AfterCommit { status: 503 },
        FaultKind::LostResponse,
        FaultKind::Status { status: 429 },
    ];
    let sf = [
        FaultKind::Status { status: 503 },
        FaultKind::AfterCommit { status: 503 },
        FaultKind::LostResponse,
    ];
    for fault in qbo.iter().cloned() {
        c.qbo
            .faults()
            .push(rule("POST", fault, percent / 100.0 / qbo.len() as f64));
    }
    for method in ["POST", "PATCH"] {
        for fault in sf.iter().cloned() {
            c.sf.faults()
                .push(rule(method, fault, percent / 100.0 / sf.len() as f64));
        }
    }
}

fn rule(method: &str, fault: FaultKind, probability: f64) -> FaultRule {
    FaultRule {
        method: Some(method.into()),
        path_contains: Some("/".into()),
        fault,
        probability,
        times: None,
    }
}

/// What is not yet as it must end: (won opportunities without exactly one written-back
/// invoice, payments not on their opportunity, activated orders without one entry).
fn missing(c: &LocalCompany, payments: &BTreeMap<String, Decimal>) -> (usize, usize, usize) {
    let invoices = c.qbo.entities(&c.realm, "Invoice");
    let mut per_doc: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in &invoices {
        per_doc
            .entry(i["DocNumber"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(i["Id"].as_str().unwrap_or_default().to_string());
    }
    let opportunities = c.sf.records("Opportunity");
    let won: Vec<&Value> = opportunities
        .iter()
        .filter(|o| o["IsWon"] == json!(true))
        .collect();
    let not_invoiced = won
        .iter()
        .filter(|o| {
            let doc = format!("SF-{}", o["Id"].as_str().unwrap_or_default());
            !matches!(per_doc.get(&doc).map(Vec::as_slice),
                Some([one]) if o["QBO_Invoice_Id__c"] == json!(one))
        })
        .count();
    let by_invoice: BTreeMap<&str, &Value> = opportunities
        .iter()
        .filter_map(|o| Some((o["QBO_Invoice_Id__c"].as_str()?, o)))
        .collect();
    let unpaid = payments
        .iter()
        .filter(|(invoice, paid)| {
            by_invoice
                .get(invoice.as_str())
                .is_none_or(|o| money(&o["Amount_Paid__c"]) != **paid)
        })
        .count();
    let activated: Vec<Value> =
        c.sf.records("Order")
            .into_iter()
            .filter(|o| o["Status"] == "Activated")
            .collect();
    let entries = c.qbo.entities(&c.realm, "JournalEntry").len();
    let unposted = activated
        .iter()
        .filter(|o| !o["QBO_Journal_Entry_Id__c"].is_string())
        .count()
        + entries.abs_diff(activated.len());
    (not_invoiced, unpaid, unposted)
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        println!("chaos: bench");
        return Ok(());
    }
    let smoke = !std::env::args().any(|a| a == "--bench");
    let opportunities = size("OPPORTUNITIES", 10_000, 40, smoke) as usize;
    let payment_count = size("PAYMENTS", 1_000, 5, smoke) as usize;
    let orders = size("ORDERS", 200, 4, smoke) as usize;
    let kills = size("KILLS", 5, 1, smoke) as usize;
    let percent = size("FAIL_PERCENT", 10, 10, smoke) as f64;
    let seed = size("SEED", 2026, 2026, smoke);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let dir = tempfile::tempdir()?;
    let spec = SeedSpec {
        accounts: (opportunities / 5).max(2),
        products: (opportunities / 50).clamp(5, 200),
        opportunities,
        closed_won_fraction: 1.0,
        lines_per_opportunity: 3,
        orders,
        seed,
    };
    let mut qbo = ledgerlink_emulators::qbo::QboConfig::default();
    qbo.rate_limits.enabled = true;
    // The bench compresses a day of five-second polls into minutes: the org's daily API limit
    // is raised so that the quota reserve (its own alert) does not stop the run.
    let salesforce = ledgerlink_emulators::salesforce::SalesforceConfig {
        daily_api_limit: 10_000_000,
        ..Default::default()
    };
    let c = LocalCompany::start(
        LocalOptions {
            seed: spec,
            qbo,
            salesforce,
            pacing: false,
            ..LocalOptions::default()
        },
        &Database::in_memory()?,
    )?;
    let config = config(dir.path(), &c);
    faults_on(&c, percent);
    let started = Instant::now();
    let mut daemon = start(&config, &c);

    // Kills at random points while the work is under way: the first a few seconds in (the
    // customers and items are being created), the others once a random share of the invoices
    // exists (each share drawn from 5 % to 95 %, in order).
    let won = c.sf.records("Opportunity").len();
    let mut shares: Vec<f64> = (1..kills).map(|_| rng.gen_range(0.05..0.95)).collect();
    shares.sort_by(f64::total_cmp);
    for k in 0..kills {
        if k == 0 {
            let first = if smoke { 1.0..4.0 } else { 5.0..30.0 };
            std::thread::sleep(Duration::from_secs_f64(rng.gen_range(first)));
        } else {
            let target = (shares[k - 1] * won as f64) as usize;
            let give_up = Instant::now() + Duration::from_secs(if smoke { 120 } else { 3600 });
            while c.qbo.entities(&c.realm, "Invoice").len() < target && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        daemon.0.kill()?; // SIGKILL
        daemon.0.wait()?;
        let invoiced = c.qbo.entities(&c.realm, "Invoice").len();
        eprintln!(
            "kill {} at {:.1} s: {invoiced} of {won} invoiced",
            k + 1,
            started.elapsed().as_secs_f64()
        );
        daemon = start(&config, &c);
    }

    // Payments on invoices that exist by now (partial or full, one per invoice).
    let mut payments: BTreeMap<String, Decimal> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(if smoke { 120 } else { 3600 });
    while payments.len() < payment_count && Instant::now() < deadline {
        let invoices = c.qbo.entities(&c.realm, "Invoice");
        let fresh: Vec<&Value> = invoices
            .iter()
            .filter(|i| !payments.contains_key(i["Id"].as_str().unwrap_or_default()))
            .collect();
        for invoice in fresh {
            if payments.len() >= payment_count {
                break;
            }
            let total = money(&invoice["TotalAmt"]);
            let amount = if rng.gen_bool(0.5) {
                total
            } else {
                (total / Decimal::from(2)).round_dp(2)
            };
            let id = invoice["Id"].as_str().unwrap_or_default().to_string();
            let number = Value::from_str(&amount.to_string())?;
            // Written in QBO's own UI: no fault applies to it.
            c.qbo.insert(
                &c.realm,
                "Payment",
                json!({"CustomerRef": invoice["CustomerRef"], "TotalAmt": number,
                       "Line": [{"Amount": number, "LinkedTxn": [{"TxnId": id, "TxnType": "Invoice"}]}]}),
            )?;
            payments.insert(id, amount);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let injected = c.qbo.faults().injected() + c.sf.faults().injected();
    let chaos = started.elapsed();
    c.qbo.faults().clear();
    c.sf.faults().clear();
    eprintln!(
        "faults off at {:.1} s ({injected} injected)",
        chaos.as_secs_f64()
    );

    // Converge: the polls and the error ledger's retries (1, 2, 4 ... minutes) finish the work.
    let converge = size("CONVERGE_SECS", 3600, 600, smoke);
    let deadline = Instant::now() + Duration::from_secs(converge);
    let mut last = (usize::MAX, usize::MAX, usize::MAX);
    loop {
        let now = missing(&c, &payments);
        if now != last {
            eprintln!(
                "at {:.1} s missing (invoices, payments, orders) = {now:?}; Salesforce API use {}",
                started.elapsed().as_secs_f64(),
                c.sf.api_usage()
            );
            last = now;
        }
        if now == (0, 0, 0) || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let converged = started.elapsed();
    Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()?;
    daemon.0.wait()?;

    let db = Database::open(&dir.path().join("ledgerlink.db"))?;
    // The daemon's runs that did not end ok: why something did not converge, if it did not.
    let runs = JobRuns::new(db.clone())?;
    let mut troubled = 0;
    for job in [
        "poll",
        "sync-payments",
        "sync-quickbooks",
        "poll-quickbooks",
        "poll-salesforce",
    ] {
        for run in runs.history("chaos", job, 500)? {
            if run.status != "ok" {
                troubled += 1;
                if troubled <= 10 {
                    println!(
                        "run not ok: {} {} {} {}: {}",
                        run.job, run.trigger, run.started, run.status, run.summary
                    );
                }
            }
        }
    }
    println!("runs not ok            {troubled}");
    let open = ErrorLedger::new(db)?.list(Some("chaos"), Some("open"))?;
    let invoices = c.qbo.entities(&c.realm, "Invoice");
    let invoiced: Decimal = invoices.iter().map(|i| money(&i["TotalAmt"])).sum();
    let won_total: Decimal =
        c.sf.records("Opportunity")
            .iter()
            .filter(|o| o["IsWon"] == json!(true))
            .map(|o| money(&o["Amount"]))
            .sum();
    let (not_invoiced, unpaid, unposted) = missing(&c, &payments);
    println!(
        "opportunities          {won} Closed Won, {orders} orders, {} payments",
        payments.len()
    );
    println!("faults                 {percent}% of writes, {injected} injected; {kills} SIGKILLs");
    println!("chaos phase            {:.1} s", chaos.as_secs_f64());
    println!("converged              {:.1} s", converged.as_secs_f64());
    println!(
        "invoices               {} for {won} won ({not_invoiced} not exactly one and written back)",
        invoices.len()
    );
    println!(
        "totals                 invoiced {invoiced}, won {won_total}, difference {}",
        invoiced - won_total
    );
    println!("payments not reflected {unpaid}");
    println!("orders not posted once {unposted}");
    println!("QBO requests           {}", c.qbo.log().len());
    println!("Salesforce requests    {}", c.sf.log().len());
    println!("open in the ledger     {}", open.len());
    for e in open.iter().take(10) {
        println!("  {} {} {}: {}", e.job, e.entity, e.record_id, e.detail);
    }
    anyhow::ensure!(
        (not_invoiced, unpaid, unposted) == (0, 0, 0) || !open.is_empty(),
        "records out of sync with nothing in the error ledger"
    );
    let mut per_doc: BTreeMap<&str, usize> = BTreeMap::new();
    for i in &invoices {
        *per_doc
            .entry(i["DocNumber"].as_str().unwrap_or_default())
            .or_default() += 1;
    }
    let doubled = per_doc.values().filter(|n| **n > 1).count();
    println!("opportunities invoiced twice {doubled}");
    anyhow::ensure!(doubled == 0, "{doubled} opportunities were invoiced twice");
    anyhow::ensure!(not_invoiced > 0 || invoiced == won_total, "totals differ");
    Ok(())
}

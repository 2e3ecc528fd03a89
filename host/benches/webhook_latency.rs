//! Webhook latency benchmark (issue 16, point 1): QBO payments recorded through QBO's API reach
//! their Opportunities through signed webhooks, as in the daemon: the emulator's webhook sender
//! (aggregating `LEDGERLINK_BENCH_AGGREGATE_MS`, default 200), the host's receiver and durable
//! inbox, the inbox worker with the daemon's handler (the scheduler's runner) (one run per tenant of everything pending, `worker::coalesce`; one run
//! per delivery with `LEDGERLINK_BENCH_ONE_BY_ONE=1`) and the real component's `on-webhook`. Each payment's latency runs from QBO's answer to its create to
//! the Opportunity's `Payment_Status__c` written. `LEDGERLINK_BENCH_PAYMENTS` (default 200)
//! payments are made `LEDGERLINK_BENCH_INTERVAL_MS` (default 100: 10 a second) apart. No poll
//! runs. Results and their reading are in BENCHMARKS.md.

use ledgerlink::db::Database;
use ledgerlink::emulated_company::{LocalCompany, LocalOptions, TENANT};
use ledgerlink::flow_calls;
use ledgerlink::metrics::Metrics;
use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink::scheduler::Runner;
use ledgerlink::webhooks::{
    self, worker, Inbox, InboxItem, WebhookConfig, WebhookState, WebhookTenants,
};
use ledgerlink_emulators::qbo::QboConfig;
use ledgerlink_emulators::seed::SeedSpec;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[path = "support/latency.rs"]
mod latency_support;
#[path = "support/payments.rs"]
mod payments_support;
use latency_support::{measure, print_latency, size};
use payments_support::pay_in_full;

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        println!("webhook_latency: bench");
        return Ok(());
    }
    // `cargo test --all-targets` runs this without `--bench`: a smoke run of a few payments.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let payments = size("PAYMENTS", if smoke { 3 } else { 200 }) as usize;
    let interval = Duration::from_millis(size("INTERVAL_MS", 100));
    let aggregate = size("AGGREGATE_MS", 200);
    // `LEDGERLINK_BENCH_ONE_BY_ONE=1`: one run per delivery, as the inbox was drained before.
    let runs_as = if size("ONE_BY_ONE", 0) == 1 {
        worker::Runs::OneByOne
    } else {
        worker::Runs::Coalesced
    };
    let tokio = tokio::runtime::Runtime::new()?;
    let db = Database::in_memory()?;

    // The receiver first, so that QBO can be told where to send.
    let inbox = Inbox::new(db.clone())?;
    let tenants = WebhookTenants::new();
    let state = WebhookState::new(
        inbox.clone(),
        tenants.clone(),
        Metrics::new(),
        WebhookConfig::default(),
    );
    let receiver = tokio.block_on(webhooks::serve("127.0.0.1:0".parse()?, state.clone()))?;
    let mut qbo = QboConfig {
        webhook_url: Some(format!("{}/webhooks/quickbooks", receiver.url())),
        webhook_delay_ms: aggregate,
        ..QboConfig::default()
    };
    // The payments stand for a bookkeeper's entries in QBO, which do not count against the
    // app's limits; the emulator's limits are off so that they do not, and the host still paces
    // the integration's own calls under QBO's limits, as `ledgerlink run` does.
    qbo.rate_limits.enabled = false;
    let company = LocalCompany::start(
        LocalOptions {
            seed: SeedSpec {
                accounts: 50,
                products: 20,
                opportunities: payments + 10,
                closed_won_fraction: 1.0,
                lines_per_opportunity: 2,
                orders: 0,
                seed: 2026,
            },
            qbo: qbo.clone(),
            pacing: true,
            ..LocalOptions::default()
        },
        &db,
    )?;
    tenants.insert(&company.realm, TENANT, &qbo.verifier_token);
    let runtime = Runtime::embedded(Limits::default())?;
    let backfill = tokio.block_on(flow_calls::run_job(
        &runtime,
        &company.tenant,
        "backfill",
        "{}",
    ))?;
    anyhow::ensure!(
        backfill.as_ref().is_ok_and(|r| r.failed == 0),
        "backfill: {backfill:?}"
    );
    let invoices: Vec<(String, Value)> = company
        .sf
        .records("Opportunity")
        .into_iter()
        .filter_map(|o| {
            let invoice = o["QBO_Invoice_Id__c"].as_str()?.to_string();
            let found = company
                .qbo
                .entities(&company.realm, "Invoice")
                .into_iter()
                .find(|i| i["Id"] == json!(invoice))?;
            Some((o["Id"].as_str()?.to_string(), found))
        })
        .take(payments)
        .collect();
    anyhow::ensure!(
        invoices.len() == payments,
        "only {} invoiced opportunities",
        invoices.len()
    );

    // The backfill's own webhooks are drained before the clock starts.
    // The daemon's handler: the scheduler's runner (the tenant's one-writer lease, a `job_runs`
    // row and the error ledger for each run), then the component's `on-webhook`.
    let runner = Arc::new(Runner::new(
        runtime.clone(),
        BTreeMap::from([(TENANT.to_string(), company.tenant.clone())]),
        &db,
        Metrics::new(),
    )?);
    let runs = Arc::new(AtomicUsize::new(0));
    let handler = {
        let (runner, runs) = (runner.clone(), runs.clone());
        Arc::new(move |item: InboxItem| {
            let (runner, runs) = (runner.clone(), runs.clone());
            async move {
                runs.fetch_add(1, Ordering::Relaxed);
                let body = String::from_utf8(item.body)?;
                runner.run_webhook(&item.tenant, &item.source, &body).await
            }
        })
    };
    std::thread::sleep(Duration::from_millis(aggregate + 300));
    tokio.block_on(worker::drain_once(&inbox, handler.clone()))?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio.spawn(worker::run_as(
        inbox.clone(),
        handler.clone(),
        None,
        state.wake.clone(),
        Duration::from_millis(500),
        async move {
            let mut stopped = stopped;
            let _ = stopped.wait_for(|s| *s).await;
        },
        worker::Drain {
            runs: runs_as,
            ..worker::Drain::default()
        },
    ));
    runs.store(0, Ordering::Relaxed);
    let rows_before = inbox.list(None)?.len();
    let qbo_before = company.qbo.log().len();

    let url = format!("{}/v3/company/{}/payment", company.qbo_url(), company.realm);
    let token = company.qbo.issue_tokens(&company.realm).access_token;
    let http = reqwest::blocking::Client::new();
    let (measured, elapsed) = measure(
        payments,
        interval,
        Duration::from_millis(2),
        "payments not in Salesforce within two minutes of the last one",
        |i| {
            let (_, invoice) = &invoices[i];
            pay_in_full(&http, &url, &token, invoice)
        },
        |i| {
            company
                .sf
                .get("Opportunity", &invoices[i].0)
                .expect("opportunity")["Payment_Status__c"]
                .is_string()
        },
    )?;
    stop.send(true)?;
    let _ = tokio.block_on(task);

    let deliveries = inbox.list(None)?.len() - rows_before;
    // The payments' own creates are the test's, not the integration's.
    let qbo_calls = company.qbo.log().len() - qbo_before - payments;
    println!(
        "payments             {payments} ({} ms apart), QBO aggregating {aggregate} ms, runs {runs_as:?}",
        interval.as_millis()
    );
    println!("wall time            {:.1} s", elapsed.as_secs_f64());
    println!(
        "deliveries           {deliveries} stored, {} component runs",
        runs.load(Ordering::Relaxed)
    );
    print_latency(&measured);
    println!(
        "QBO requests         {qbo_calls} by Ledgerlink ({:.2} per delivery, {:.2} per payment)",
        qbo_calls as f64 / deliveries.max(1) as f64,
        qbo_calls as f64 / payments.max(1) as f64
    );
    tokio.block_on(receiver.shutdown())?;
    Ok(())
}

//! Change-event latency benchmark: Opportunities set to Closed Won in Salesforce (as a person
//! does in the UI, so the change is not the integration user's own) reach QBO as invoices through
//! the Pub/Sub API: the emulator's gRPC server, the host's subscriber, the real component. Each
//! change's latency runs from the Salesforce update to the invoice id written back on the
//! Opportunity (which happens after the invoice exists in QBO, so it bounds "invoice exists"
//! from above). No poll runs. `LEDGERLINK_BENCH_CHANGES` (default 200) changes are made
//! `LEDGERLINK_BENCH_INTERVAL_MS` (default 250) apart. Results and their reading are in
//! BENCHMARKS.md.

use ledgerlink::db::Database;
use ledgerlink::emulated_company::{LocalCompany, LocalOptions};
use ledgerlink::flow_calls;
use ledgerlink::pubsub::replays::Replays;
use ledgerlink::pubsub::subscriber::Subscriber;
use ledgerlink::pubsub::Direct;
use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink_emulators::qbo::QboConfig;
use ledgerlink_emulators::salesforce::pubsub::PubSubConfig;
use ledgerlink_emulators::seed::SeedSpec;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/latency.rs"]
mod latency_support;
use latency_support::{measure, print_latency, size};

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        println!("pubsub_latency: bench");
        return Ok(());
    }
    // `cargo test --all-targets` runs this without `--bench`: a smoke run of a few changes.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let changes = size("CHANGES", if smoke { 3 } else { 200 }) as usize;
    let interval = Duration::from_millis(size("INTERVAL_MS", 250));
    let spec = SeedSpec {
        accounts: 50,
        products: 20,
        opportunities: changes + 20,
        closed_won_fraction: 0.0,
        lines_per_opportunity: 3,
        orders: 0,
        seed: 2026,
    };
    let db = Database::in_memory()?;
    let mut qbo = QboConfig::default();
    // QBO's limits on (500 requests a minute): 200 invoices in under a minute fit.
    qbo.rate_limits.enabled = true;
    let company = LocalCompany::start(
        LocalOptions {
            seed: spec,
            qbo,
            pacing: true,
            ..LocalOptions::default()
        },
        &db,
    )?;
    let runtime = Runtime::embedded(Limits::default())?;
    let tokio = tokio::runtime::Runtime::new()?;
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
    let open: Vec<String> = company
        .sf
        .records("Opportunity")
        .into_iter()
        .filter(|o| o["IsClosed"] == json!(false))
        .filter_map(|o| o["Id"].as_str().map(String::from))
        .take(changes)
        .collect();
    anyhow::ensure!(
        open.len() == changes,
        "only {} open opportunities",
        open.len()
    );

    // A short keepalive, so the subscription's first position is stored at once: changes start
    // once the subscription (from LATEST) is open.
    let pubsub = company.sf.start_pubsub(
        PubSubConfig {
            keepalive: Duration::from_millis(100),
            ..PubSubConfig::default()
        },
        0,
    )?;
    let replays = Replays::new(db.clone())?;
    let handler = Arc::new(Direct::new(runtime.clone(), company.tenant.clone()));
    let topic = "/data/OpportunityChangeEvent";
    let subscriber = Subscriber {
        tenant: company.tenant.id.clone(),
        topic: topic.into(),
        endpoint: pubsub.url().parse()?,
        batch: 100,
        salesforce: company.tenant.connections["salesforce"].clone(),
        replays: replays.clone(),
        handler: handler.clone(),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio.spawn(subscriber.run(stopped));
    let opening = Instant::now();
    while replays.get(&company.tenant.id, topic)?.is_none() {
        anyhow::ensure!(
            opening.elapsed() < Duration::from_secs(30),
            "no subscription"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let api_before = company.sf.log().len();

    let (measured, elapsed) = measure(
        changes,
        interval,
        Duration::from_millis(5),
        "changes not invoiced within two minutes of the last one",
        |i| {
            company
                .sf
                .update("Opportunity", &open[i], json!({"StageName": "Closed Won"}))?;
            Ok(())
        },
        |i| {
            company
                .sf
                .get("Opportunity", &open[i])
                .expect("opportunity")["QBO_Invoice_Id__c"]
                .is_string()
        },
    )?;
    stop.send(true)?;
    let _ = tokio.block_on(task);

    let invoices = company.qbo.entities(&company.realm, "Invoice").len();
    let qbo_calls = company.qbo.log().len();
    let sf_calls = company.sf.log().len() - api_before;
    println!(
        "changes              {changes} ({} measured, {} ms apart)",
        measured.len(),
        interval.as_millis()
    );
    println!("wall time            {:.1} s", elapsed.as_secs_f64());
    println!("event batches        {}", handler.batches());
    print_latency(&measured);
    println!("invoices in QBO      {invoices}");
    println!("QBO requests         {qbo_calls} (all of the run, backfill included)");
    println!(
        "Salesforce requests  {sf_calls} during the changes ({:.1} per change)",
        sf_calls as f64 / changes.max(1) as f64
    );
    anyhow::ensure!(handler.gaps() == 0, "a gap pass ran");
    Ok(())
}

//! A kill -9 in the middle of a backfill, then a restart: afterwards every Closed Won
//! opportunity has exactly one invoice, each is written back, the totals reconcile to the cent,
//! and the store passes SQLite's integrity check.

use crate::support::{company, money, unthrottled, BIN};
use ledgerlink::db::Database;
use ledgerlink::emulated_company::LocalCompany;
use ledgerlink_emulators::common::faults::{FaultKind, FaultRule};
use ledgerlink_emulators::seed::SeedSpec;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn config(dir: &std::path::Path, c: &LocalCompany) -> std::path::PathBuf {
    let path = dir.join("ledgerlink.toml");
    std::fs::write(
        &path,
        format!(
            r#"[store]
path = "ledgerlink.db"

[[tenant]]
id = "demo"

[tenant.settings]
realm-id = "{realm}"

{connections}"#,
            realm = c.realm,
            connections = c.connections_toml("LL_TEST_QBO_TOKEN", "LL_TEST_SF_TOKEN"),
        ),
    )
    .unwrap();
    path
}

fn backfill(config: &std::path::Path, c: &LocalCompany) -> std::process::Child {
    Command::new(BIN)
        .args(["job", "backfill", "--config"])
        .arg(config)
        .env(
            "LL_TEST_QBO_TOKEN",
            c.qbo.issue_tokens(&c.realm).access_token,
        )
        .env("LL_TEST_SF_TOKEN", c.sf.issue_token())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_kill_during_a_backfill_then_a_restart_leaves_exactly_one_invoice_each() {
    let dir = tempfile::tempdir().unwrap();
    let c = company(unthrottled(SeedSpec {
        accounts: 20,
        products: 10,
        opportunities: 200,
        closed_won_fraction: 0.6,
        lines_per_opportunity: 2,
        orders: 0,
        seed: 11,
    }));
    let config = config(dir.path(), &c);
    // Slow batches so that the kill lands between two of them.
    c.qbo.faults().push(FaultRule {
        method: Some("POST".into()),
        path_contains: Some("/batch".into()),
        fault: FaultKind::Latency { ms: 300 },
        probability: 1.0,
        times: None,
    });
    let mut child = backfill(&config, &c);
    let started = Instant::now();
    loop {
        let n = c.qbo.entities(&c.realm, "Invoice").len();
        if n > 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no invoice was ever created"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the backfill ended before the kill: {status}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success());
    let won: Vec<Value> =
        c.sf.records("Opportunity")
            .into_iter()
            .filter(|o| o["IsWon"] == json!(true))
            .collect();
    let after_kill = c.qbo.entities(&c.realm, "Invoice").len();
    assert!(
        after_kill < won.len(),
        "killed mid-way ({after_kill} of {})",
        won.len()
    );

    c.qbo.faults().clear();
    let out = backfill(&config, &c).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "restart: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let invoices = c.qbo.entities(&c.realm, "Invoice");
    let mut per_doc: BTreeMap<String, usize> = BTreeMap::new();
    for i in &invoices {
        *per_doc
            .entry(i["DocNumber"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    let won: Vec<Value> =
        c.sf.records("Opportunity")
            .into_iter()
            .filter(|o| o["IsWon"] == json!(true))
            .collect();
    let mut won_total = Decimal::ZERO;
    for o in &won {
        let id = o["Id"].as_str().unwrap();
        assert_eq!(
            per_doc.get(&format!("SF-{id}")),
            Some(&1),
            "Opportunity {id}"
        );
        assert!(o["QBO_Invoice_Id__c"].is_string(), "{id} written back");
        won_total += money(&o["Amount"]);
    }
    assert_eq!(invoices.len(), won.len());
    let invoiced: Decimal = invoices.iter().map(|i| money(&i["TotalAmt"])).sum();
    assert_eq!(invoiced, won_total, "totals reconcile to the cent");

    let store = Database::open(&dir.path().join("ledgerlink.db")).unwrap();
    let check: String = store
        .sqlite()
        .expect("a SQLite store")
        .lock()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

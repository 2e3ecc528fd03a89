//! `ledgerlink errors list|retry|dismiss` on a store whose ledger was filled by a real run of
//! the test guest's `flaky` job.

use ledgerlink::caps::schedule::StoreSchedule;
use ledgerlink::caps::storage::sqlite::SqliteBackend;
use ledgerlink::caps::storage::KeyValueBackend;
use ledgerlink::db::Database;
use ledgerlink::metrics::Metrics;
use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink::scheduler::Runner;
use ledgerlink::tenant::TenantCaps;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::support::test_guest_cli;

fn cli(config: &Path, args: &[&str]) -> (bool, String) {
    let (code, text) = test_guest_cli(&[&["errors"], args].concat(), config);
    (code == Some(0), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_can_be_listed_retried_and_dismissed() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ledgerlink.toml");
    std::fs::write(&config, "[[tenant]]\nid = \"acme\"\n").unwrap();
    let db = Database::open(&dir.path().join("ledgerlink.db")).unwrap();
    let kv = SqliteBackend::new(db.clone());
    kv.set("acme", "flaky", "006A", b"retryable").unwrap();
    kv.set("acme", "flaky", "006B", b"permanent").unwrap();
    {
        let caps = TenantCaps {
            id: "acme".into(),
            settings: Arc::default(),
            connections: Arc::default(),
            storage: Arc::new(kv.clone()),
            schedule: Arc::new(StoreSchedule::new(db.clone())),
        };
        let rt =
            Runtime::from_file(Path::new(ledgerlink::TEST_GUEST_PATH), Limits::default()).unwrap();
        let runner = Runner::new(
            rt,
            BTreeMap::from([("acme".to_string(), caps)]),
            &db,
            Metrics::new(),
        )
        .unwrap();
        runner.run("acme", "flaky", "{}", "manual").await.unwrap();
    }

    let (ok, out) = cli(&config, &["list", "--json"]);
    assert!(ok, "{out}");
    let errors: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(errors.len(), 2);
    let id_of = |record: &str| {
        errors.iter().find(|e| e["record_id"] == record).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    let (a, b) = (id_of("006A"), id_of("006B"));
    let (ok, table) = cli(&config, &["list"]);
    assert!(
        ok && table.contains("006B") && table.contains("never (permanent)"),
        "{table}"
    );

    // The record behind the permanent error was fixed: retrying it by id resolves it.
    kv.set("acme", "flaky", "006B", b"ok").unwrap();
    let (ok, out) = cli(&config, &["retry", &b.to_string()]);
    assert!(ok, "{out}");
    let (_, out) = cli(&config, &["list", "--json", "--all"]);
    let all: Vec<Value> = serde_json::from_str(&out).unwrap();
    let state = |id: i64| all.iter().find(|e| e["id"] == id).unwrap()["state"].clone();
    assert_eq!(state(b), "resolved");
    assert_eq!(state(a), "open");
    assert_eq!(
        String::from_utf8(kv.get("acme", "flaky-runs", "006A").unwrap().unwrap()).unwrap(),
        "1",
        "retrying by id ran only that record"
    );

    let (ok, out) = cli(&config, &["dismiss", &a.to_string()]);
    assert!(ok, "{out}");
    let (_, out) = cli(&config, &["list", "--json"]);
    assert_eq!(serde_json::from_str::<Vec<Value>>(&out).unwrap().len(), 0);
    let (ok, out) = cli(&config, &["dismiss", "9999"]);
    assert!(!ok && out.contains("there is no error 9999"), "{out}");
    let (ok, out) = cli(&config, &["retry", &a.to_string()]);
    assert!(!ok && out.contains("dismissed"), "{out}");
}

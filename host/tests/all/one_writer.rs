//! One writer per tenant across processes: `ledgerlink job` waits while another run holds the
//! tenant's lease, and says clearly who holds it when it gives up.

use ledgerlink::caps::storage::sqlite::SqliteBackend;
use ledgerlink::caps::storage::KeyValueBackend;
use ledgerlink::db::Database;
use ledgerlink::scheduler::lease::Leases;
use std::path::Path;

use crate::support::test_guest_cli;

fn job(config: &Path, wait: &str) -> (Option<i32>, String) {
    test_guest_cli(&["job", "tick", "--wait", wait], config)
}

fn ticks(db: &Database) -> Option<Vec<u8>> {
    SqliteBackend::new(db.clone())
        .get("acme", "test", "ticks")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cli_job_waits_for_the_tenant_and_reports_who_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ledgerlink.toml");
    std::fs::write(&config, "[[tenant]]\nid = \"acme\"\n").unwrap();
    let db = Database::open(&dir.path().join("ledgerlink.db")).unwrap();
    let leases = Leases::new(db.clone()).unwrap();

    // Another run (this process, alive) holds the tenant: the job waits a second, then gives
    // up naming the holder, and ran nothing.
    let held = leases.try_acquire("acme", "backfill").unwrap().unwrap();
    let (code, out) = job(&config, "1");
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("waiting: tenant acme is busy: backfill is running"),
        "{out}"
    );
    assert!(out.contains(held.holder()), "{out}");
    assert_eq!(ticks(&db), None);

    // Released while the job waits: it runs as soon as the tenant is free.
    let release = tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        drop(held);
    });
    let (code, out) = tokio::task::spawn_blocking(move || job(&config, "30"))
        .await
        .unwrap();
    release.await.unwrap();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("waiting: tenant acme is busy"), "{out}");
    assert_eq!(ticks(&db), Some(b"1".to_vec()));
    assert!(
        leases.holder("acme").unwrap().is_none(),
        "the job let the tenant go"
    );
}

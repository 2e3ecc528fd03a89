//! `ledgerlink demo` as a user runs it: every Closed Won opportunity invoiced once, the reports
//! written, and every job and webhook run through the scheduler's runner as in the daemon (one
//! `job_runs` row each, nothing left open in the error ledger).

use crate::support::BIN;
use std::collections::BTreeMap;
use std::process::Command;

#[test]
fn the_demo_agrees_to_the_cent_and_runs_every_job_through_the_runner() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let run = Command::new(BIN)
        .args(["demo", "--out"])
        .arg(&out)
        .args([
            "--accounts",
            "12",
            "--products",
            "6",
            "--opportunities",
            "20",
        ])
        .args(["--orders", "3", "--payments", "4"])
        .output()
        .expect("run ledgerlink demo");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.contains("Every Closed Won opportunity has exactly one invoice."),
        "{stdout}"
    );
    assert!(
        stdout.contains("difference 0.00, 0 discrepancies"),
        "{stdout}"
    );
    // After the invoice: the subscription's template made its invoices, all linked, and the
    // credit memo and refund reached their deal.
    assert!(
        stdout.contains(
            "The subscription has one template, and each invoice QBO made from it is linked."
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("is Partially Paid")
            && stdout.contains("credited 50.00, refunded 120.00, open 70.00"),
        "{stdout}"
    );
    let written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for (prefix, ext) in [
        ("reconciliation-", "html"),
        ("reconciliation-", "csv"),
        ("reconciliation-", "json"),
        ("aging-", "html"),
        ("aging-", "csv"),
        ("aging-", "json"),
    ] {
        let file = written
            .iter()
            .find(|f| f.starts_with(prefix) && f.ends_with(ext))
            .unwrap_or_else(|| panic!("no {prefix}*.{ext} in {written:?}"));
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(text.lines().count() > 1, "{file} is empty");
    }

    let db = rusqlite::Connection::open(out.join("ledgerlink.db")).unwrap();
    let mut runs: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut stmt = db
        .prepare("SELECT job, trigger, status FROM job_runs WHERE tenant = 'demo' ORDER BY id")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get(1)?, r.get(2)?)))
        .unwrap();
    for row in rows {
        let (job, trigger, status) = row.unwrap();
        runs.entry(job).or_default().push((trigger, status));
    }
    for job in [
        "sync-accounts",
        "sync-products",
        "sync-invoices",
        "sync-orders",
        "poll-quickbooks",
        "aging",
        "reconcile",
    ] {
        let of_job = runs
            .get(job)
            .unwrap_or_else(|| panic!("no job_runs row for {job}: {runs:?}"));
        assert!(
            of_job.contains(&("demo".to_string(), "ok".to_string())),
            "{job}: {of_job:?}"
        );
    }
    let webhooks = runs.get("webhook:quickbooks").cloned().unwrap_or_default();
    assert!(
        !webhooks.is_empty(),
        "no webhook ran through the runner: {runs:?}"
    );
    assert!(
        webhooks.iter().all(|(t, s)| t == "webhook" && s == "ok"),
        "{webhooks:?}"
    );
    let open: i64 = db
        .query_row(
            "SELECT COUNT(*) FROM errors WHERE state = 'open'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(open, 0, "errors left open in the ledger");
}

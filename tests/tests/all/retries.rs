//! The error ledger's automatic retries with the real component: a record that failed inside a
//! job is redone, exactly, by the retry the scheduler runs for it.

use chrono::{Duration, Utc};
use ledgerlink::metrics::Metrics;
use ledgerlink::scheduler::{Runner, Scheduler};
use ledgerlink_emulators::common::faults::{FaultKind, FaultRule};
use ledgerlink_tests::{company, report, runtime, small};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_fails_inside_poll_is_fixed_by_the_automatic_retry() {
    let (c, db) = tokio::task::block_in_place(|| company(small()));
    tokio::task::block_in_place(|| report(&c, "backfill", json!({})));
    let tenant = c.tenant.id.clone();
    let runner = Arc::new(
        Runner::new(
            runtime(),
            BTreeMap::from([(tenant.clone(), c.tenant.clone())]),
            &db,
            Metrics::new(),
        )
        .unwrap(),
    );
    let off = ["poll", "aging", "reconcile"]
        .into_iter()
        .map(|j| (j.to_string(), "off".to_string()))
        .collect();
    let s = Scheduler::new(
        runner.clone(),
        &db,
        &BTreeMap::from([(tenant.clone(), off)]),
    )
    .await
    .unwrap();

    // A deal is won after the backfill; the poll that sees it gets a 500 on the invoice create.
    let opp =
        c.sf.records("Opportunity")
            .into_iter()
            .find(|o| o["IsWon"] == json!(false) && o["AccountId"].is_string())
            .expect("an open opportunity");
    let id = opp["Id"].as_str().unwrap().to_string();
    c.sf.update("Opportunity", &id, json!({"StageName": "Closed Won"}))
        .unwrap();
    // Get Updated covers whole minutes: the poll sees the change once its minute has passed.
    c.sf.clock().advance(chrono::Duration::minutes(2));
    // The one invoice is created by a plain POST (a /batch of one would spend the batch budget).
    c.qbo.faults().push(FaultRule {
        method: Some("POST".into()),
        path_contains: Some("/invoice".into()),
        fault: FaultKind::Status { status: 500 },
        probability: 1.0,
        times: Some(1),
    });
    runner.run(&tenant, "poll", "{}", "manual").await.unwrap();
    let open = runner.ledger().list(Some(&tenant), Some("open")).unwrap();
    let row = open
        .iter()
        .find(|e| e.record_id == id)
        .unwrap_or_else(|| panic!("the failure is in the ledger: {open:#?}"));
    assert_eq!((row.entity.as_str(), row.retryable), ("Opportunity", true));
    assert!(c.sf.get("Opportunity", &id).unwrap()["QBO_Invoice_Id__c"].is_null());

    // The automatic retry (after its backoff) redoes exactly that record.
    let now = Utc::now();
    s.start(now).await.unwrap();
    let r = s.tick(now + Duration::minutes(2)).await.unwrap();
    assert_eq!(
        r.started,
        vec![(tenant.clone(), row.job.clone(), "retry".into())]
    );
    assert!(s.wait_idle(std::time::Duration::from_secs(120)).await);
    let last = runner
        .runs()
        .history(&tenant, &row.job, 1)
        .unwrap()
        .remove(0);
    assert_eq!(last.args, format!(r#"{{"only":["Opportunity:{id}"]}}"#));
    assert_eq!(
        runner.ledger().get(row.id).unwrap().unwrap().state,
        "resolved",
        "{}",
        last.summary
    );
    let invoice = c.sf.get("Opportunity", &id).unwrap()["QBO_Invoice_Id__c"].clone();
    assert!(invoice.is_string(), "invoiced by the retry");
    let docs: Vec<_> = c
        .qbo
        .entities(&c.realm, "Invoice")
        .into_iter()
        .filter(|i| i["DocNumber"] == json!(format!("SF-{id}")))
        .collect();
    assert_eq!(docs.len(), 1, "exactly one invoice");
}

//! The error ledger mirrored into Salesforce (`Ledgerlink_Sync_Error__c`): a record that failed
//! shows up in Salesforce as Open with its flow, code and reason, is closed (Resolved) when its
//! retry succeeds, and a Salesforce that refuses the mirror neither blocks the sync nor loses
//! the entry (it goes with the next pass).

use ledgerlink::metrics::Metrics;
use ledgerlink::scheduler::{LedgerMirror, Runner};
use ledgerlink_emulators::common::faults::{FaultKind, FaultRule};
use ledgerlink_tests::{company, report, runtime, small};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn mirrored(c: &ledgerlink::emulated_company::LocalCompany, record: &str) -> Vec<Value> {
    c.sf.records("Ledgerlink_Sync_Error__c")
        .into_iter()
        .filter(|r| r["Source_Record__c"] == format!("Opportunity {record}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_record_is_mirrored_open_then_resolved_and_a_refusing_salesforce_blocks_nothing() {
    let (c, db) = tokio::task::block_in_place(|| company(small()));
    tokio::task::block_in_place(|| report(&c, "backfill", json!({})));
    let tenant = c.tenant.id.clone();
    let salesforce = c.tenant.connections["salesforce"].clone();
    let mirror =
        LedgerMirror::new(db.clone(), BTreeMap::from([(tenant.clone(), salesforce)])).unwrap();
    let runner_of = |mirror: Option<LedgerMirror>| {
        let runner = Runner::new(
            runtime(),
            BTreeMap::from([(tenant.clone(), c.tenant.clone())]),
            &db,
            Metrics::new(),
        )
        .unwrap();
        match mirror {
            Some(m) => runner.with_ledger_mirror(m),
            None => runner,
        }
    };
    let runner = runner_of(None);

    // A deal won after the backfill meets a 500 on its invoice create.
    let opp =
        c.sf.records("Opportunity")
            .into_iter()
            .find(|o| o["IsWon"] == json!(false) && o["AccountId"].is_string())
            .expect("an open opportunity");
    let id = opp["Id"].as_str().unwrap().to_string();
    c.sf.update("Opportunity", &id, json!({"StageName": "Closed Won"}))
        .unwrap();
    c.sf.clock().advance(chrono::Duration::minutes(2));
    c.qbo.faults().push(FaultRule {
        method: Some("POST".into()),
        path_contains: Some("/invoice".into()),
        fault: FaultKind::Status { status: 500 },
        probability: 1.0,
        times: Some(1),
    });
    runner.run(&tenant, "poll", "{}", "manual").await.unwrap();
    let open = runner.ledger().list(Some(&tenant), Some("open")).unwrap();
    let entry = open
        .iter()
        .find(|e| e.record_id == id)
        .expect("in the ledger");

    // Salesforce refuses the first mirror write: nothing is lost, the next pass sends it.
    c.sf.faults().push(FaultRule {
        method: Some("PATCH".into()),
        path_contains: Some("Ledgerlink_Sync_Error__c".into()),
        fault: FaultKind::Status { status: 503 },
        probability: 1.0,
        times: Some(1),
    });
    let refused = mirror.sync(&tenant).await.unwrap();
    assert_eq!(refused.failed.len(), 1, "{refused:?}");
    assert!(mirrored(&c, &id).is_empty());
    let sent = mirror.sync(&tenant).await.unwrap();
    assert_eq!((sent.upserted, sent.failed.len()), (1, 0), "{sent:?}");
    let rows = mirrored(&c, &id);
    assert_eq!(
        rows.len(),
        1,
        "one Salesforce record per ledger entry: {rows:#?}"
    );
    let row = &rows[0];
    assert_eq!(row["Status__c"], "Open");
    assert_eq!(row["Flow__c"], entry.job.as_str());
    assert_eq!(row["Retryable__c"], true);
    assert_eq!(row["Ledger_Id__c"], format!("{tenant}-{}", entry.id));
    assert!(
        row["Message__c"].as_str().unwrap().contains("500"),
        "{row:#}"
    );

    // The retry succeeds: the same Salesforce record is closed.
    let only = json!({"only": [format!("Opportunity:{id}")]}).to_string();
    // Through a runner that mirrors after each run, as the daemon's does.
    let mirroring = runner_of(Some(mirror.clone()));
    mirroring
        .run(&tenant, &entry.job, &only, "retry")
        .await
        .unwrap();
    assert!(mirroring
        .ledger()
        .list(Some(&tenant), Some("open"))
        .unwrap()
        .iter()
        .all(|e| e.record_id != id));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while mirrored(&c, &id)[0]["Status__c"] != "Resolved" {
        assert!(
            std::time::Instant::now() < deadline,
            "never resolved in Salesforce"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(mirrored(&c, &id).len(), 1);
    assert!(c.sf.get("Opportunity", &id).unwrap()["QBO_Invoice_Id__c"].is_string());
    // Nothing changed since: a pass sends nothing.
    assert_eq!(mirror.sync(&tenant).await.unwrap().upserted, 0);
}

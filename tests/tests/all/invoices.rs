//! Closed Won -> Invoice end to end: a backfill invoices every Closed Won opportunity exactly
//! once, writes the invoice back, and a rerun changes nothing.

use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_tests::{company, lines, report, small, stored};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[test]
fn a_backfill_invoices_each_closed_won_opportunity_once_and_a_rerun_changes_nothing() {
    let (c, _db) = company(small());
    let first = report(&c, "backfill", json!({}));
    assert!(
        first.failed == 0,
        "failures: {:#?}",
        lines(&first, Outcome::Failed)
    );
    let won: Vec<Value> =
        c.sf.records("Opportunity")
            .into_iter()
            .filter(|o| o["IsWon"] == json!(true))
            .collect();
    assert!(!won.is_empty());
    let invoices = c.qbo.entities(&c.realm, "Invoice");
    assert_eq!(
        invoices.len(),
        won.len(),
        "one invoice per Closed Won opportunity"
    );
    let mut by_doc: BTreeMap<String, Value> = BTreeMap::new();
    for inv in &invoices {
        by_doc.insert(inv["DocNumber"].as_str().unwrap().to_string(), inv.clone());
    }
    for o in &won {
        let id = o["Id"].as_str().unwrap();
        let inv_id = o["QBO_Invoice_Id__c"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} not written back"));
        let inv = invoices.iter().find(|i| i["Id"] == json!(inv_id)).unwrap();
        assert_eq!(o["QBO_Invoice_Number__c"], inv["DocNumber"]);
        assert_eq!(
            o["Amount"]
                .to_string()
                .parse::<rust_decimal::Decimal>()
                .unwrap(),
            inv["TotalAmt"]
                .to_string()
                .parse::<rust_decimal::Decimal>()
                .unwrap(),
            "Opportunity {id} total"
        );
    }
    let customers = c.qbo.entities(&c.realm, "Customer");
    assert_eq!(customers.len(), 6, "one customer per account");

    let again = report(&c, "backfill", json!({}));
    assert_eq!(
        (again.created, again.failed),
        (0, 0),
        "{:#?}",
        lines(&again, Outcome::Created)
    );
    assert_eq!(c.qbo.entities(&c.realm, "Invoice").len(), won.len());

    // The progress record a host shows as a bar ends at every selected opportunity.
    report(&c, "sync-invoices", json!({"full": true}));
    assert_eq!(
        stored(&c, "state", "progress"),
        Some(json!({"step": "Opportunity", "done": won.len(), "total": won.len()}))
    );
}

#[test]
fn a_write_back_lost_after_the_invoice_was_linked_is_repaired_without_a_second_invoice() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let invoices_before = c.qbo.entities(&c.realm, "Invoice").len();
    let won =
        c.sf.records("Opportunity")
            .into_iter()
            .find(|o| o["IsWon"] == json!(true))
            .unwrap();
    let id = won["Id"].as_str().unwrap().to_string();
    let invoice_id = won["QBO_Invoice_Id__c"].clone();
    // What a kill between storing the link and the Salesforce write-back leaves behind.
    c.sf.update(
        "Opportunity",
        &id,
        json!({"QBO_Invoice_Id__c": null, "QBO_Invoice_Number__c": null, "QBO_Invoice_Link__c": null}),
    )
    .unwrap();

    let again = report(&c, "sync-invoices", json!({"full": true}));
    assert_eq!((again.created, again.failed), (0, 0));
    let repaired = c.sf.get("Opportunity", &id).unwrap();
    assert_eq!(repaired["QBO_Invoice_Id__c"], invoice_id);
    assert!(repaired["QBO_Invoice_Number__c"]
        .as_str()
        .is_some_and(|n| n.starts_with("SF-")));
    assert_eq!(c.qbo.entities(&c.realm, "Invoice").len(), invoices_before);
    let line = lines(&again, Outcome::Updated).join("\n");
    assert!(line.contains(&id), "{line}");
}

//! Salesforce changes reach QBO through the change-event stream: a new Closed Won opportunity is
//! invoiced, a changed line updates its invoice, and a dry run writes nothing.

use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_tests::{company, lines, money, report, small};
use rust_decimal::Decimal;
use serde_json::json;

#[test]
fn change_events_invoice_new_wins_and_update_changed_ones() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let invoices_before = c.qbo.entities(&c.realm, "Invoice").len();

    // An open opportunity is won; a won one gets a bigger quantity.
    let open =
        c.sf.records("Opportunity")
            .into_iter()
            .find(|o| o["IsWon"] == json!(false) && o["IsClosed"] == json!(false))
            .expect("an open opportunity");
    let open_id = open["Id"].as_str().unwrap().to_string();
    c.sf.update("Opportunity", &open_id, json!({"StageName": "Closed Won"}))
        .unwrap();
    let won =
        c.sf.records("Opportunity")
            .into_iter()
            .find(|o| o["IsWon"] == json!(true) && o["Id"] != json!(open_id))
            .unwrap();
    let won_id = won["Id"].as_str().unwrap().to_string();
    let line =
        c.sf.records("OpportunityLineItem")
            .into_iter()
            .find(|l| l["OpportunityId"] == json!(won_id))
            .unwrap();
    let qty = money(&line["Quantity"]);
    c.sf.update(
        "OpportunityLineItem",
        line["Id"].as_str().unwrap(),
        json!({"Quantity": (qty + Decimal::ONE).to_string().parse::<f64>().unwrap()}),
    )
    .unwrap();

    // A dry run reports both and writes nothing.
    let plan = report(&c, "poll-salesforce", json!({"dry-run": true}));
    assert!(
        plan.records.iter().any(|o| o.record_id == open_id),
        "{:#?}",
        plan.records
    );
    assert_eq!(c.qbo.entities(&c.realm, "Invoice").len(), invoices_before);

    let r = report(&c, "poll-salesforce", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    assert_eq!(
        c.qbo.entities(&c.realm, "Invoice").len(),
        invoices_before + 1
    );
    assert!(c.sf.get("Opportunity", &open_id).unwrap()["QBO_Invoice_Id__c"].is_string());
    let won_now = c.sf.get("Opportunity", &won_id).unwrap();
    let invoice = c
        .qbo
        .entities(&c.realm, "Invoice")
        .into_iter()
        .find(|i| i["Id"] == won_now["QBO_Invoice_Id__c"])
        .unwrap();
    assert_eq!(
        money(&invoice["TotalAmt"]),
        money(&won_now["Amount"]),
        "invoice follows the change"
    );
    assert_ne!(invoice["SyncToken"], json!("0"));

    // Nothing new: a second poll changes nothing.
    let again = report(&c, "poll-salesforce", json!({}));
    assert_eq!(again.created + again.updated, 0, "{:#?}", again.records);
}

#[test]
fn an_expired_replay_id_falls_back_to_get_updated_and_get_deleted() {
    let (mut c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let open =
        c.sf.records("Opportunity")
            .into_iter()
            .find(|o| o["IsWon"] == json!(false) && o["IsClosed"] == json!(false))
            .expect("an open opportunity");
    let open_id = open["Id"].as_str().unwrap().to_string();
    c.sf.update("Opportunity", &open_id, json!({"StageName": "Closed Won"}))
        .unwrap();
    // Four days pass: the change events (kept 72 h) are gone, and the stored replay id with them.
    c.sf.clock().advance(chrono::Duration::days(4));
    c.reissue_tokens();
    let r = report(&c, "poll-salesforce", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    assert!(
        r.records
            .iter()
            .any(|o| o.entity == "ChangeEvents" && o.detail.contains("Get Updated")),
        "{:#?}",
        r.records
    );
    assert!(
        c.sf.get("Opportunity", &open_id).unwrap()["QBO_Invoice_Id__c"].is_string(),
        "the change was found through Get Updated"
    );
}

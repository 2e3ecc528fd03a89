//! Salesforce changes reach QBO by public REST polling alone (Get Updated / Get Deleted, then
//! `SystemModstamp` cursors), and through decoded change events handed to `on-webhook`; the
//! integration's own writes are not echoed back.

use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_tests::{company, lines, money, on_change_events, report, small, Company};
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn open_opportunity(c: &Company) -> String {
    c.sf.records("Opportunity")
        .into_iter()
        .find(|o| o["IsWon"] == json!(false) && o["IsClosed"] == json!(false))
        .expect("an open opportunity")["Id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn calls(c: &Company, path_end: &str) -> usize {
    c.sf.log()
        .count(|r| r.path.trim_end_matches('/').ends_with(path_end))
}

#[test]
fn polling_alone_invoices_new_wins_and_updates_changed_ones() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let invoices_before = c.qbo.entities(&c.realm, "Invoice").len();

    // An open opportunity is won; a won one gets a bigger quantity.
    let open_id = open_opportunity(&c);
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
    // Get Updated covers whole minutes: the changes show once their minute has passed.
    c.sf.clock().advance(chrono::Duration::minutes(2));

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
    assert!(calls(&c, "/sobjects/Opportunity/updated") >= 2);
    assert!(calls(&c, "/sobjects/Order/deleted") >= 2);
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

    // Nothing new: the scheduled poll (both sides) changes nothing and fails nothing, within
    // the same minute and after it.
    for _ in 0..2 {
        let again = report(&c, "poll", json!({}));
        assert_eq!(again.failed, 0, "{:#?}", lines(&again, Outcome::Failed));
        assert_eq!(again.created + again.updated, 0, "{:#?}", again.records);
        c.sf.clock().advance(chrono::Duration::minutes(2));
    }
}

#[test]
fn a_poll_after_weeks_off_reads_changes_by_system_modstamp() {
    let (mut c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let open_id = open_opportunity(&c);
    c.sf.update("Opportunity", &open_id, json!({"StageName": "Closed Won"}))
        .unwrap();
    // Twenty days pass: beyond Get Deleted's 15-day window.
    c.sf.clock().advance(chrono::Duration::days(20));
    c.reissue_tokens();
    let r = report(&c, "poll", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    assert!(
        r.records
            .iter()
            .any(|o| o.entity == "Replication" && o.detail.contains("SystemModstamp")),
        "{:#?}",
        r.records
    );
    assert!(
        c.sf.get("Opportunity", &open_id).unwrap()["QBO_Invoice_Id__c"].is_string(),
        "the change was found by its SystemModstamp"
    );
    // From there, Get Updated again.
    c.sf.update(
        "Opportunity",
        &open_opportunity(&c),
        json!({"StageName": "Closed Won"}),
    )
    .unwrap();
    c.sf.clock().advance(chrono::Duration::minutes(10));
    let before = calls(&c, "/sobjects/Opportunity/updated");
    let r = report(&c, "poll-salesforce", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    assert_eq!(r.created, 1, "{:#?}", r.records);
    assert_eq!(calls(&c, "/sobjects/Opportunity/updated"), before + 1);
}

/// The change events the emulator recorded after the first `from`.
fn events_since(c: &Company, from: usize) -> Value {
    Value::Array(c.sf.change_events().into_iter().skip(from).collect())
}

#[test]
fn change_events_are_synced_and_the_integrations_own_writes_are_not_echoed() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let invoices = || c.qbo.entities(&c.realm, "Invoice").len();
    let before = invoices();

    // A sales rep wins a deal in the UI: its event invoices it.
    let start = c.sf.change_events().len();
    let open_id = open_opportunity(&c);
    c.sf.update("Opportunity", &open_id, json!({"StageName": "Closed Won"}))
        .unwrap();
    let events = events_since(&c, start);
    assert!(!events.as_array().unwrap().is_empty());
    let r = on_change_events(&c, &events).expect("the events are handled");
    assert_eq!(r.job, "poll-salesforce");
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    assert_eq!(invoices(), before + 1);
    let invoice_id = c.sf.get("Opportunity", &open_id).unwrap()["QBO_Invoice_Id__c"].clone();
    assert!(invoice_id.is_string());

    // The write-back of the invoice id is the integration user's own change: not echoed.
    let start = start + events.as_array().unwrap().len();
    let echo = events_since(&c, start);
    assert!(echo
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["payload"]["ChangeEventHeader"]["recordIds"] == json!([open_id])));
    let qbo_calls = c.qbo.log().len();
    let r = on_change_events(&c, &echo).expect("handled");
    assert!(
        r.records
            .iter()
            .any(|o| o.record_id == open_id && o.detail.contains("integration user")),
        "{:#?}",
        r.records
    );
    assert_eq!(r.created + r.updated + r.failed, 0, "{:#?}", r.records);
    assert_eq!(c.qbo.log().len(), qbo_calls, "an echo costs no QBO call");

    // A person changing only fields Ledgerlink writes, and a deleted opportunity: reported,
    // nothing written.
    let header = |change: &str, fields: Value| {
        json!({"ChangeEventHeader": {"entityName": "Opportunity", "changeType": change,
            "recordIds": [open_id], "changedFields": fields, "commitUser": "005000000000001AAA"}})
    };
    let r = on_change_events(
        &c,
        &json!([
            header("UPDATE", json!(["Payment_Status__c", "LastModifiedDate"])),
            header("DELETE", json!([])),
        ]),
    )
    .expect("handled");
    assert_eq!(r.skipped, 2, "{:#?}", r.records);
    assert!(r.records[0].detail.contains("only Payment_Status__c"));
    assert!(r.records[1].detail.contains("deleted in Salesforce"));
    assert_eq!(invoices(), before + 1);
    assert_eq!(
        c.sf.get("Opportunity", &open_id).unwrap()["QBO_Invoice_Id__c"],
        invoice_id
    );

    // A GAP_OVERFLOW means "too many to list": everything since the last poll is re-read.
    let won = open_opportunity(&c);
    c.sf.update("Opportunity", &won, json!({"StageName": "Closed Won"}))
        .unwrap();
    c.sf.clock().advance(chrono::Duration::minutes(2));
    let overflow = json!([{"ChangeEventHeader": {"entityName": "Opportunity",
        "changeType": "GAP_OVERFLOW", "recordIds": []}}]);
    let r = on_change_events(&c, &overflow).expect("handled");
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    assert!(c.sf.get("Opportunity", &won).unwrap()["QBO_Invoice_Id__c"].is_string());
    assert_eq!(invoices(), before + 2);

    // A malformed event is refused, naming the event and the field.
    let bad = json!([{"ChangeEventHeader": {"entityName": "Opportunity",
        "changeType": "UPDATE"}}]);
    let err = on_change_events(&c, &bad).expect_err("refused");
    assert!(
        format!("{err:?}").contains("event [0]: ChangeEventHeader.recordIds is empty"),
        "{err:?}"
    );
}

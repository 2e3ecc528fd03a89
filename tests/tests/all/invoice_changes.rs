//! A won opportunity changed after invoicing: its invoice follows the change, through a 5010
//! when a bookkeeper saved the invoice in between (re-read, merge, retry), and is left alone
//! (the change reported) once the invoice is paid.

use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_emulators::{FaultKind, FaultRule};
use ledgerlink_tests::{
    company, invoiced_opportunity, lines, money, number, pay, qbo_invoice, report, small,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// An invoiced opportunity, its invoice id, and one of its line items.
fn invoiced(c: &ledgerlink::emulated_company::LocalCompany) -> (String, String, Value) {
    let (opp, _) = invoiced_opportunity(c);
    let id = opp["Id"].as_str().unwrap().to_string();
    let invoice_id = opp["QBO_Invoice_Id__c"].as_str().unwrap().to_string();
    let line =
        c.sf.records("OpportunityLineItem")
            .into_iter()
            .find(|l| l["OpportunityId"] == json!(id))
            .unwrap();
    (id, invoice_id, line)
}

fn add_one_to_quantity(c: &ledgerlink::emulated_company::LocalCompany, line: &Value) {
    let qty = money(&line["Quantity"]);
    c.sf.update(
        "OpportunityLineItem",
        line["Id"].as_str().unwrap(),
        json!({"Quantity": number(qty + Decimal::ONE)}),
    )
    .unwrap();
}

#[test]
fn a_5010_from_a_concurrent_edit_is_re_read_merged_and_retried() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let invoices_before = c.qbo.entities(&c.realm, "Invoice").len();
    let (opp_id, invoice_id, line) = invoiced(&c);
    add_one_to_quantity(&c, &line);

    // Hold our update (of one invoice: a plain POST, not a /batch) long enough for a
    // bookkeeper to save the invoice first.
    c.qbo.faults().push(FaultRule {
        method: Some("POST".into()),
        path_contains: Some("/invoice".into()),
        fault: FaultKind::Latency { ms: 800 },
        probability: 1.0,
        times: Some(1),
    });
    let faults = c.qbo.faults();
    let (qbo, realm, edited) = (c.qbo.clone(), c.realm.clone(), invoice_id.clone());
    let bookkeeper = std::thread::spawn(move || {
        let started = Instant::now();
        while faults.injected() == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no update came"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        qbo.edit(
            &realm,
            "Invoice",
            &edited,
            json!({"CustomerMemo": {"value": "Thank you: paid by card on delivery"}}),
        )
        .unwrap();
    });

    let r = report(&c, "sync-invoices", json!({}));
    bookkeeper.join().unwrap();
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    // The update met a genuine 5010; the invoice was re-read and updated again.
    let retried = c
        .qbo
        .log()
        .count(|q| q.method == "POST" && q.path.ends_with("/invoice") && q.status == 200);
    assert_eq!(retried, 1, "one update after the 5010");
    let updated = lines(&r, Outcome::Updated).join("\n");
    assert!(updated.contains(&opp_id), "{updated}");

    let after = qbo_invoice(&c, &invoice_id);
    let opp = c.sf.get("Opportunity", &opp_id).unwrap();
    assert_eq!(money(&after["TotalAmt"]), money(&opp["Amount"]));
    assert_eq!(
        after["CustomerMemo"]["value"], "Thank you: paid by card on delivery",
        "the bookkeeper's edit survives the retry"
    );
    assert_eq!(after["SyncToken"], json!("2"), "the edit, then our update");
    assert_eq!(c.qbo.entities(&c.realm, "Invoice").len(), invoices_before);
}

#[test]
fn a_change_after_the_invoice_is_paid_is_reported_and_the_invoice_left_alone() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let (opp_id, invoice_id, line) = invoiced(&c);
    let before = qbo_invoice(&c, &invoice_id);
    pay(&c, &before, Decimal::new(1000, 2));
    let paid = qbo_invoice(&c, &invoice_id);
    add_one_to_quantity(&c, &line);

    let r = report(&c, "sync-invoices", json!({}));
    let failed = lines(&r, Outcome::Failed).join("\n");
    assert!(
        failed.contains(&opp_id) && failed.contains("paid"),
        "the change is reported: {failed}"
    );
    let after = qbo_invoice(&c, &invoice_id);
    assert_eq!(after["SyncToken"], paid["SyncToken"], "not updated");
    assert_eq!(money(&after["TotalAmt"]), money(&before["TotalAmt"]));
}

#[test]
fn changes_to_many_invoiced_opportunities_go_in_one_read_and_one_batch() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let won: Vec<String> =
        c.sf.records("Opportunity")
            .into_iter()
            .filter(|o| o["IsWon"] == json!(true))
            .map(|o| o["Id"].as_str().unwrap().to_string())
            .collect();
    assert!(won.len() >= 3, "the seed has several won opportunities");
    for id in &won {
        let line =
            c.sf.records("OpportunityLineItem")
                .into_iter()
                .find(|l| l["OpportunityId"] == json!(id))
                .unwrap();
        add_one_to_quantity(&c, &line);
    }
    c.qbo.log().clear();

    let r = report(&c, "sync-invoices", json!({}));
    assert_eq!(
        (r.updated, r.failed),
        (won.len() as u32, 0),
        "{:#?}",
        r.records
    );
    let log = c.qbo.log();
    assert_eq!(log.count(|q| q.path.ends_with("/batch")), 1);
    assert_eq!(
        log.count(|q| q.path.contains("/invoice")),
        0,
        "no single reads or updates"
    );
    for id in &won {
        let opp = c.sf.get("Opportunity", id).unwrap();
        let inv = qbo_invoice(&c, opp["QBO_Invoice_Id__c"].as_str().unwrap());
        assert_eq!(money(&inv["TotalAmt"]), money(&opp["Amount"]), "{id}");
    }
}

//! Activated Order -> JournalEntry: posted once, never edited; a cancellation posts a reversal.

use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_tests::{company, lines, money, report, small};
use rust_decimal::Decimal;
use serde_json::json;

#[test]
fn activated_orders_post_balanced_entries_and_a_cancellation_reverses_one() {
    let (c, _db) = company(small());
    let r = report(&c, "backfill", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let activated: Vec<_> =
        c.sf.records("Order")
            .into_iter()
            .filter(|o| o["Status"] == "Activated")
            .collect();
    assert!(!activated.is_empty(), "the seed activates some orders");
    let entries = c.qbo.entities(&c.realm, "JournalEntry");
    assert_eq!(entries.len(), activated.len());
    for e in &entries {
        let (mut debit, mut credit) = (Decimal::ZERO, Decimal::ZERO);
        for line in e["Line"].as_array().unwrap() {
            let amount = money(&line["Amount"]);
            match line["JournalEntryLineDetail"]["PostingType"].as_str() {
                Some("Debit") => debit += amount,
                _ => credit += amount,
            }
        }
        assert_eq!(debit, credit, "entry {} balances", e["Id"]);
    }
    for o in &activated {
        assert!(o["QBO_Journal_Entry_Id__c"].is_string(), "written back");
    }

    // Rerun: nothing new.
    let again = report(&c, "sync-orders", json!({"full": true}));
    assert_eq!(again.created + again.updated, 0, "{:#?}", again.records);

    // Deleting an order in Salesforce reverses its entry.
    let order_id = activated[0]["Id"].as_str().unwrap().to_string();
    c.sf.delete("Order", &order_id).ok();
    let gone = c.sf.get("Order", &order_id).is_none();
    if !gone {
        // Activated orders cannot be deleted: cancel it by changing its status instead.
        c.sf.update("Order", &order_id, json!({"Status": "Draft"}))
            .unwrap();
    }
    let r = report(&c, "sync-orders", json!({"only": [order_id]}));
    assert_eq!(r.updated, 1, "{:#?}", r.records);
    let entries = c.qbo.entities(&c.realm, "JournalEntry");
    assert_eq!(entries.len(), activated.len() + 1, "one reversing entry");
    if let Some(o) = c.sf.get("Order", &order_id) {
        assert!(
            o["QBO_Journal_Entry_Id__c"].is_null(),
            "a cancelled order names no entry: {o:#}"
        );
    }
    let r = report(&c, "sync-orders", json!({"only": [order_id]}));
    assert_eq!(r.created + r.updated, 0, "reversed once: {:#?}", r.records);
}

/// The receivable account's net debit of every entry posted for `order` (a reversal credits it):
/// the order's total once while it stands, zero after it is cancelled.
fn net_receivable(c: &ledgerlink::emulated_company::LocalCompany, order: &str) -> Decimal {
    let docs: Vec<serde_json::Value> = c.qbo.entities(&c.realm, "JournalEntry");
    let mut net = Decimal::ZERO;
    // Each entry's private note names its order ("Salesforce Order <id>").
    for e in docs
        .iter()
        .filter(|e| e["PrivateNote"].as_str().is_some_and(|n| n.contains(order)))
    {
        for line in e["Line"].as_array().unwrap() {
            let d = &line["JournalEntryLineDetail"];
            if d["AccountRef"]["value"] != "3" {
                continue;
            }
            match d["PostingType"].as_str() {
                Some("Debit") => net += money(&line["Amount"]),
                _ => net -= money(&line["Amount"]),
            }
        }
    }
    net
}

#[test]
fn an_order_activated_again_with_the_same_content_is_posted_again_not_replayed() {
    let (c, _db) = company(small());
    let id = backfilled_activated_order(&c);
    let first = order_entry(&c, &id);
    let total = net_receivable(&c, &id);
    assert!(total > Decimal::ZERO, "posted: {total}");
    let before = c.qbo.entities(&c.realm, "JournalEntry").len();

    // Activated -> Draft: reversed.
    c.sf.update("Order", &id, json!({"Status": "Draft"}))
        .unwrap();
    let r = report(&c, "sync-orders", json!({"only": [id]}));
    assert_eq!(r.updated, 1, "{:#?}", r.records);
    assert_eq!(
        net_receivable(&c, &id),
        Decimal::ZERO,
        "cancelled nets to zero"
    );

    // Draft -> Activated with the very same content: a new posting, not QBO's replay of the
    // first (already reversed) entry.
    c.sf.update("Order", &id, json!({"Status": "Activated"}))
        .unwrap();
    let r = report(&c, "sync-orders", json!({"only": [id]}));
    assert_eq!(r.created, 1, "{:#?}", r.records);
    let second = order_entry(&c, &id);
    assert_ne!(second, first, "a new entry, not the reversed one");
    assert_eq!(
        c.qbo.entities(&c.realm, "JournalEntry").len(),
        before + 2,
        "the reversal and the new posting"
    );
    assert_eq!(net_receivable(&c, &id), total, "one net posting");

    // Draft again: the second entry is reversed too (its reversal is not the first one's).
    c.sf.update("Order", &id, json!({"Status": "Draft"}))
        .unwrap();
    let r = report(&c, "sync-orders", json!({"only": [id]}));
    assert_eq!(r.updated, 1, "{:#?}", r.records);
    assert_eq!(c.qbo.entities(&c.realm, "JournalEntry").len(), before + 3);
    assert_eq!(net_receivable(&c, &id), Decimal::ZERO);
}

/// Backfills `c` (no failure) and returns the id of an activated order, posted by it.
fn backfilled_activated_order(c: &ledgerlink::emulated_company::LocalCompany) -> String {
    let r = report(c, "backfill", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let order =
        c.sf.records("Order")
            .into_iter()
            .find(|o| o["Status"] == "Activated")
            .expect("an activated order");
    order["Id"].as_str().unwrap().to_string()
}

fn order_entry(c: &ledgerlink::emulated_company::LocalCompany, id: &str) -> String {
    c.sf.get("Order", id).expect("the order")["QBO_Journal_Entry_Id__c"]
        .as_str()
        .expect("written back")
        .to_string()
}

#[test]
fn a_lost_journal_entry_write_back_is_repaired_without_a_second_posting() {
    let (c, _db) = company(small());
    let id = backfilled_activated_order(&c);
    let entry = order_entry(&c, &id);
    let entries = c.qbo.entities(&c.realm, "JournalEntry").len();
    // The write-back was lost (a crash after the entry was stored, a failed Salesforce call).
    c.sf.update("Order", &id, json!({"QBO_Journal_Entry_Id__c": null}))
        .unwrap();
    let r = report(&c, "sync-orders", json!({"full": true}));
    assert_eq!(r.updated, 1, "{:#?}", r.records);
    assert_eq!(order_entry(&c, &id), entry, "written back again");
    assert_eq!(
        c.qbo.entities(&c.realm, "JournalEntry").len(),
        entries,
        "no second posting"
    );
    let again = report(&c, "sync-orders", json!({"full": true}));
    assert_eq!(again.created + again.updated, 0, "{:#?}", again.records);
}

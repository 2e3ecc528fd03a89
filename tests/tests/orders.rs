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
    let r = report(&c, "sync-orders", json!({"only": [order_id]}));
    assert_eq!(r.created + r.updated, 0, "reversed once: {:#?}", r.records);
}

//! Aging alerts only on newly crossed thresholds; the month-end reconciliation agrees to the cent
//! and names an invoice that has no opportunity.

use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_tests::{company, lines, money, report, small, stored};
use rust_decimal::Decimal;
use serde_json::json;

#[test]
fn aging_writes_days_outstanding_and_alerts_once_per_threshold() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let r = report(&c, "aging", json!({"as-of": "2026-01-15"}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let aged = stored(&c, "reports", "aging/latest").expect("aging report stored");
    assert!(!aged["invoices"].as_array().unwrap().is_empty());
    let won =
        c.sf.records("Opportunity")
            .into_iter()
            .filter(|o| o["IsWon"] == json!(true))
            .collect::<Vec<_>>();
    assert!(
        won.iter().all(|o| o["Days_Outstanding__c"].is_number()),
        "{won:#?}"
    );
    let alerts_first = c.notify.messages().len();
    assert!(alerts_first > 0, "overdue invoices alert");
    let first_alerts = aged["alerts"].as_array().unwrap().len();
    assert!(first_alerts > 0);

    // Same day again: nothing newly crossed.
    report(&c, "aging", json!({"as-of": "2026-01-15"}));
    let again = stored(&c, "reports", "aging/latest").unwrap();
    assert_eq!(again["alerts"].as_array().unwrap().len(), 0);
}

#[test]
fn reconciliation_matches_to_the_cent_and_names_an_invoice_without_opportunity() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let args = json!({"period-start": "2025-01-01", "period-end": "2025-12-31"});
    report(&c, "reconcile", args.clone());
    let rec = stored(&c, "reports", "reconcile/latest").expect("stored");
    assert_eq!(money(&rec["difference"]), Decimal::ZERO, "{rec:#}");
    assert!(
        rec["discrepancies"].as_array().unwrap().is_empty(),
        "{rec:#}"
    );
    let won_total: Decimal =
        c.sf.records("Opportunity")
            .into_iter()
            .filter(|o| o["IsWon"] == json!(true))
            .map(|o| money(&o["Amount"]))
            .sum();
    assert_eq!(money(&rec["salesforce-total"]), won_total);

    let customer = c.qbo.entities(&c.realm, "Customer")[0]["Id"].clone();
    c.qbo
        .insert(&c.realm, "Invoice", json!({"CustomerRef": {"value": customer}, "TxnDate": "2025-06-30",
            "Line": [{"Amount": 99.99, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": 99.99}}]}))
        .unwrap();
    report(&c, "reconcile", args);
    let rec = stored(&c, "reports", "reconcile/latest").unwrap();
    assert_eq!(
        money(&rec["difference"]).abs(),
        Decimal::new(9999, 2),
        "{rec:#}"
    );
    assert_eq!(
        rec["discrepancies"][0]["kind"],
        "invoice-without-opportunity"
    );
}

//! Aging alerts only on newly crossed thresholds; the month-end reconciliation agrees to the cent
//! and names an invoice that has no opportunity; a host reads the stored reports through the
//! component's `report` export.

use ledgerlink::flow_calls;
use ledgerlink::runtime::exports::ledgerlink::sync::flows::{Outcome, ReportKind, StoredReport};
use ledgerlink_tests::{block_on, company, lines, money, report, runtime, small, stored};
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

/// What the host reads through the component's `report` export (never its buckets).
fn exported(
    c: &ledgerlink::emulated_company::LocalCompany,
    kind: ReportKind,
    period: Option<&str>,
) -> Option<StoredReport> {
    block_on(flow_calls::report(&runtime(), &c.tenant, kind, period)).expect("the report export")
}

#[test]
fn a_host_reads_stored_reports_by_period_through_the_report_export() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    assert!(exported(&c, ReportKind::Reconcile, None).is_none());
    let year = json!({"period-start": "2025-01-01", "period-end": "2025-12-31"});
    let march = json!({"period-start": "2025-03-01", "period-end": "2025-03-31"});
    report(&c, "reconcile", year);
    report(&c, "reconcile", march);

    let Some(StoredReport::Reconcile(latest)) = exported(&c, ReportKind::Reconcile, None) else {
        panic!("no reconciliation through the export");
    };
    assert_eq!(
        (latest.period_start.as_str(), latest.period_end.as_str()),
        ("2025-03-01", "2025-03-31")
    );
    let Some(StoredReport::Reconcile(by_month)) =
        exported(&c, ReportKind::Reconcile, Some("2025-03"))
    else {
        panic!("no March reconciliation");
    };
    assert_eq!(by_month.salesforce_total, latest.salesforce_total);
    let Some(StoredReport::Reconcile(by_year)) =
        exported(&c, ReportKind::Reconcile, Some("2025-01-01/2025-12-31"))
    else {
        panic!("no 2025 reconciliation");
    };
    // The export answers what the job stored, to the cent.
    let stored_year = stored(&c, "reports", "reconcile/2025-01-01/2025-12-31").unwrap();
    assert_eq!(
        money(&json!(by_year.salesforce_total)),
        money(&stored_year["salesforce-total"])
    );
    assert_eq!(
        by_year.matched.len(),
        stored_year["matched"].as_array().unwrap().len()
    );
    assert!(exported(&c, ReportKind::Reconcile, Some("2024-03")).is_none());
    let e = block_on(flow_calls::report(
        &runtime(),
        &c.tenant,
        ReportKind::Reconcile,
        Some("March"),
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("\"March\"") && e.contains("YYYY-MM"), "{e}");

    report(&c, "aging", json!({}));
    let Some(StoredReport::Aging(aging)) = exported(&c, ReportKind::Aging, None) else {
        panic!("no aging report through the export");
    };
    let Some(StoredReport::Aging(same_day)) = exported(&c, ReportKind::Aging, Some(&aging.as_of))
    else {
        panic!("no aging report for {}", aging.as_of);
    };
    assert_eq!(same_day.total_open, aging.total_open);
}

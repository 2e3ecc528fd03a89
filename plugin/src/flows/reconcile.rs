//! Month-end reconciliation: Closed Won opportunities vs QBO invoices, credit memos and refund
//! receipts for a period through
//! `reconcile`, stored for the host to render (CSV, HTML) and summarised in a notification.

use super::context::{Abort, Ctx, FlowResult};
use super::credits;
use super::links::opportunity_of;
use super::report::Failure;
use super::state::REPORTS;
use super::stored_reports::{reconcile_key, RECONCILE_LATEST};
use crate::clients::json::{date, money, non_empty};
use crate::clients::quickbooks::literal;
use crate::clients::quickbooks_json::invoice_view;
use crate::clients::salesforce_fields::QBO_INVOICE_ID;
use crate::mapping::{
    reconcile, AdjustmentKind, DocumentKind, LedgerDocument, ReconcileInput, WonOpportunity,
};
use chrono::{Datelike, Duration, NaiveDate};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::BTreeSet;

/// The previous calendar month of `day`.
pub fn previous_month(day: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first_this = day.with_day(1).unwrap_or(day);
    let end = first_this - Duration::days(1);
    (end.with_day(1).unwrap_or(end), end)
}

/// Reconciles `period-start`..`period-end` (default: last month).
pub fn run(ctx: &mut Ctx<'_>) -> FlowResult {
    let (start, end) = match (ctx.args.period_start, ctx.args.period_end) {
        (Some(s), Some(e)) => (s, e),
        _ => previous_month(ctx.today()),
    };
    let rows = ctx.sf.query(&format!(
        "SELECT Id, Name, AccountId, CloseDate, Amount, {QBO_INVOICE_ID} FROM Opportunity \
         WHERE IsWon = true AND CloseDate >= {start} AND CloseDate <= {end}"
    ))?;
    let mut opportunities = Vec::new();
    for r in &rows {
        let id = non_empty(r, "Id").unwrap_or_default();
        let (Some(close_date), Some(amount)) = (date(r, "CloseDate"), money(r, "Amount")) else {
            ctx.report.failed(
                "Opportunity",
                &id,
                Failure::Invalid(format!("Opportunity {id}: CloseDate or Amount is missing")),
            );
            continue;
        };
        opportunities.push(WonOpportunity {
            name: non_empty(r, "Name").unwrap_or_default(),
            account_id: non_empty(r, "AccountId"),
            invoice_id: non_empty(r, QBO_INVOICE_ID),
            id,
            close_date,
            amount,
        });
    }
    let mut invoices = ctx.qbo.query(&format!(
        "select * from Invoice where TxnDate >= '{start}' and TxnDate <= '{end}'"
    ))?;
    let have: BTreeSet<String> = invoices
        .iter()
        .filter_map(|v| v.get("Id").and_then(|i| i.as_str()).map(str::to_string))
        .collect();
    let linked: BTreeSet<String> = opportunities
        .iter()
        .filter_map(|o| o.invoice_id.clone())
        .filter(|i| !have.contains(i))
        .collect();
    for chunk in linked.iter().collect::<Vec<_>>().chunks(100) {
        let list = chunk
            .iter()
            .map(|i| literal(i))
            .collect::<Vec<_>>()
            .join(", ");
        invoices.extend(
            ctx.qbo
                .query(&format!("select * from Invoice where Id in ({list})"))?,
        );
    }
    let mut documents = Vec::new();
    for v in &invoices {
        let Some(inv) = invoice_view(v) else { continue };
        let Some(txn_date) = inv.txn_date else {
            continue;
        };
        documents.push(LedgerDocument {
            opportunity_id: opportunity_of(ctx, &inv.id)?,
            doc_number: inv.doc_number.clone(),
            kind: DocumentKind::Invoice,
            total_amt: revenue(v, inv.total_amt),
            voided: inv.voided,
            id: inv.id,
            txn_date,
        });
    }
    // Credits and refunds dated in the period lower QuickBooks' side; each belongs to the deal
    // whose invoice it counts against (see `credits`).
    for (kind, entity) in [
        (DocumentKind::CreditMemo, "CreditMemo"),
        (DocumentKind::RefundReceipt, "RefundReceipt"),
    ] {
        let rows = ctx.qbo.query(&format!(
            "select * from {entity} where TxnDate >= '{start}' and TxnDate <= '{end}'"
        ))?;
        for v in &rows {
            let (Some(id), Some(txn_date)) = (non_empty(v, "Id"), date(v, "TxnDate")) else {
                continue;
            };
            let adjustment = match kind {
                DocumentKind::CreditMemo => AdjustmentKind::CreditMemo,
                _ => AdjustmentKind::Refund,
            };
            let opportunity_id = match credits::invoice_of(ctx, adjustment, &id)? {
                Some(invoice) => opportunity_of(ctx, &invoice)?,
                None => None,
            };
            documents.push(LedgerDocument {
                opportunity_id,
                doc_number: non_empty(v, "DocNumber"),
                kind,
                total_amt: revenue(v, money(v, "TotalAmt").unwrap_or_default()),
                voided: non_empty(v, "PrivateNote").is_some_and(|n| n.starts_with("Voided")),
                id,
                txn_date,
            });
        }
    }
    let report = reconcile(&ReconcileInput {
        period_start: start,
        period_end: end,
        opportunities,
        documents,
    })
    .map_err(|e| Abort(Failure::Mapping(e)))?;
    ctx.notice(format!(
        "Reconciliation {start} to {end}: Salesforce {} vs QuickBooks {} (difference {}), {} matched, {} discrepancies",
        report.salesforce_total,
        report.quickbooks_total,
        report.difference,
        report.matched.len(),
        report.discrepancies.len()
    ));
    if !ctx.dry_run() {
        ctx.state
            .put(REPORTS, &reconcile_key(start, end), &report)?;
        ctx.state.put(REPORTS, RECONCILE_LATEST, &report)?;
    }
    ctx.report.updated(
        "Reconciliation",
        &format!("{start}/{end}"),
        &format!("reconcile/{start}/{end}"),
        format!(
            "difference {} with {} discrepancies",
            report.difference,
            report.discrepancies.len()
        ),
    );
    Ok(())
}

/// An invoice's revenue: `TotalAmt` less the sales tax QBO added (tax is owed to the
/// authority, not earned). With `TaxInclusive` amounts the prices in Salesforce included the
/// tax too, so the total is compared as it is.
fn revenue(invoice: &Value, total_amt: Decimal) -> Decimal {
    if invoice.get("GlobalTaxCalculation").and_then(Value::as_str) == Some("TaxInclusive") {
        return total_amt;
    }
    let tax = invoice
        .get("TxnTaxDetail")
        .and_then(|t| money(t, "TotalTax"))
        .unwrap_or_default();
    total_amt.checked_sub(tax).unwrap_or(total_amt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::links::invoice_reverse_key;
    use crate::flows::state::{State, LINKS, STATE};
    use crate::flows::stored_reports::{read, ReportKind, Stored};
    use crate::flows::test_support::{assert_run, qbo_query, soql, REALM};
    use crate::flows::{run_job, Kind};
    use crate::mapping::DiscrepancyKind::{
        self, InvoiceWithoutOpportunity, MissingInvoice, OtherPeriod,
    };
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch, Post};
    use rust_decimal_macros::dec;
    use serde_json::json;

    #[test]
    fn the_default_period_is_the_previous_calendar_month() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            previous_month(d(2026, 3, 15)),
            (d(2026, 2, 1), d(2026, 2, 28))
        );
        assert_eq!(
            previous_month(d(2026, 1, 1)),
            (d(2025, 12, 1), d(2025, 12, 31))
        );
    }

    #[test]
    fn revenue_leaves_out_the_sales_tax_unless_prices_include_it() {
        use rust_decimal_macros::dec;
        let v = serde_json::json!({"TotalAmt": 107.25, "TxnTaxDetail": {"TotalTax": 7.25}});
        assert_eq!(super::revenue(&v, dec!(107.25)), dec!(100.00));
        let v = serde_json::json!({"TotalAmt": 120, "GlobalTaxCalculation": "TaxInclusive", "TxnTaxDetail": {"TotalTax": 20}});
        assert_eq!(super::revenue(&v, dec!(120)), dec!(120));
        assert_eq!(super::revenue(&serde_json::json!({}), dec!(5)), dec!(5));
    }

    #[test]
    fn a_period_is_reconciled_from_won_deals_and_invoices_and_stored_for_the_host() {
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "FROM Opportunity WHERE IsWon = true AND CloseDate >= 2026-02-01 AND CloseDate <= 2026-02-28", |_| {
                    soql(json!([
                        {"Id": "006A000001DealAAA", "Name": "Acme - 4 seats", "AccountId": "001A000001AcmeAAA",
                         "CloseDate": "2026-02-27", "Amount": 1250.50, "QBO_Invoice_Id__c": "130"},
                        {"Id": "006A000001LateAAA", "Name": "Beta - renewal", "AccountId": "001A000001BetaAAA",
                         "CloseDate": "2026-02-10", "Amount": 99.99, "QBO_Invoice_Id__c": "129"},
                        {"Id": "006A000001NoneAAA", "Name": "Cool Cars - pilot", "AccountId": "001A000009CoolAAA",
                         "CloseDate": "2026-02-14", "Amount": 400.00, "QBO_Invoice_Id__c": null}
                    ]))
                })
                .on(Get, "select * from Invoice where TxnDate >= '2026-02-01' and TxnDate <= '2026-02-28'", |_| {
                    qbo_query("Invoice", json!([
                        // Revenue is the total less the sales tax QBO added.
                        {"Id": "130", "DocNumber": "SF-006A000001DealAAA", "TxnDate": "2026-02-27",
                         "CustomerRef": {"value": "58"}, "TotalAmt": 1357.79, "Balance": 1357.79,
                         "TxnTaxDetail": {"TotalTax": 107.29}},
                        {"Id": "132", "DocNumber": "1043", "TxnDate": "2026-02-20",
                         "CustomerRef": {"value": "61"}, "TotalAmt": 75.00, "Balance": 0}
                    ]))
                })
                // A linked invoice dated outside the period is read by its id.
                .on(Get, "select * from Invoice where Id in ('129')", |_| {
                    qbo_query("Invoice", json!([
                        {"Id": "129", "DocNumber": "SF-006A000001LateAAA", "TxnDate": "2026-03-02",
                         "CustomerRef": {"value": "59"}, "TotalAmt": 99.99, "Balance": 99.99}
                    ]))
                })
                // No credit memo or refund in the period.
                .on(Get, "select * from CreditMemo where TxnDate", |_| qbo_query("CreditMemo", json!([])))
                .on(Get, "select * from RefundReceipt where TxnDate", |_| qbo_query("RefundReceipt", json!([])))
                .json(Post, "http://notify/", 200, json!({"ok": true})),
        );
        let state = State::new(&platform.kv);
        state
            .put(LINKS, &invoice_reverse_key("130"), &"006A000001DealAAA")
            .unwrap();
        state
            .put(LINKS, &invoice_reverse_key("129"), &"006A000001LateAAA")
            .unwrap();
        let args = r#"{"period-start": "2026-02-01", "period-end": "2026-02-28"}"#;
        let report = run_job(&platform.platform(), "reconcile", args).unwrap();
        assert_run(
            &report,
            &platform,
            vec![(
                "Reconciliation",
                "2026-02-01/2026-02-28",
                Kind::Updated,
                Some("reconcile/2026-02-01/2026-02-28"),
            )],
        );
        // A reconciliation only reads: nothing is written to either side.
        assert_eq!(platform.http.count(Patch, "http://salesforce/"), 0);
        assert_eq!(platform.http.count(Post, "http://quickbooks/"), 0);
        let Ok(Some(Stored::Reconcile(r))) =
            read(&platform.platform(), ReportKind::Reconcile, Some("2026-02"))
        else {
            panic!("no reconciliation stored for 2026-02");
        };
        assert_eq!(
            (r.salesforce_total, r.quickbooks_total, r.difference),
            (dec!(1750.49), dec!(1325.50), dec!(424.99)),
            "{r:#?}"
        );
        let matched: Vec<_> = r
            .matched
            .iter()
            .map(|m| (m.opportunity_id.as_str(), m.amount))
            .collect();
        assert_eq!(matched, vec![("006A000001DealAAA", dec!(1250.50))]);
        let found: Vec<_> = r
            .discrepancies
            .iter()
            .map(|d| {
                (
                    d.kind,
                    d.opportunity_id.as_deref(),
                    d.document_id.as_deref(),
                    d.difference,
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    MissingInvoice,
                    Some("006A000001NoneAAA"),
                    None,
                    dec!(400.00)
                ),
                (InvoiceWithoutOpportunity, None, Some("132"), dec!(-75.00)),
                // Counted in Salesforce's total, not in QBO's: it explains the rest.
                (
                    OtherPeriod,
                    Some("006A000001LateAAA"),
                    Some("129"),
                    dec!(99.99)
                ),
            ]
        );
        let notice = &platform.http.bodies(Post, "http://notify/")[0]["text"];
        assert!(
            notice
                .as_str()
                .unwrap()
                .contains("Reconciliation 2026-02-01 to 2026-02-28"),
            "{notice}"
        );
    }

    #[test]
    fn credits_and_refunds_of_the_period_lower_quickbooks_side_and_the_discrepancies_still_add_up()
    {
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "FROM Opportunity WHERE IsWon = true", |_| {
                    soql(json!([{"Id": "006A000001DealAAA", "Name": "Acme", "AccountId": "001A000001AcmeAAA",
                        "CloseDate": "2026-02-03", "Amount": 1000.00, "QBO_Invoice_Id__c": "130"}]))
                })
                .on(Get, "select * from Invoice where TxnDate", |_| {
                    qbo_query("Invoice", json!([{"Id": "130", "TxnDate": "2026-02-03",
                        "CustomerRef": {"value": "58"}, "TotalAmt": 1000.00, "Balance": 0}]))
                })
                .on(Get, "select * from CreditMemo where TxnDate", |_| {
                    qbo_query("CreditMemo", json!([{"Id": "9", "DocNumber": "CM-9", "TxnDate": "2026-02-10",
                        "CustomerRef": {"value": "58"}, "TotalAmt": 100.10}]))
                })
                .on(Get, "select * from RefundReceipt where TxnDate", |_| {
                    qbo_query("RefundReceipt", json!([{"Id": "12", "TxnDate": "2026-02-12",
                        "CustomerRef": {"value": "77"}, "TotalAmt": 49.95}]))
                })
                .json(Post, "http://notify/", 200, json!({"ok": true})),
        );
        let state = State::new(&platform.kv);
        state
            .put(LINKS, &invoice_reverse_key("130"), &"006A000001DealAAA")
            .unwrap();
        // Credit memo 9 was counted against invoice 130; refund 12 named no invoice.
        state.put(STATE, "credited/CreditMemo/9", &"130").unwrap();
        let args = r#"{"period-start": "2026-02-01", "period-end": "2026-02-28"}"#;
        run_job(&platform.platform(), "reconcile", args).unwrap();
        let Ok(Some(Stored::Reconcile(r))) =
            read(&platform.platform(), ReportKind::Reconcile, Some("2026-02"))
        else {
            panic!("no reconciliation stored for 2026-02");
        };
        assert_eq!(
            (r.salesforce_total, r.quickbooks_total, r.difference),
            (dec!(1000.00), dec!(849.95), dec!(150.05)),
            "{r:#?}"
        );
        let found: Vec<_> = r
            .discrepancies
            .iter()
            .map(|d| (d.kind, d.opportunity_id.as_deref(), d.difference))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    DiscrepancyKind::AmountDiffers,
                    Some("006A000001DealAAA"),
                    dec!(100.10)
                ),
                (
                    DiscrepancyKind::InvoiceWithoutOpportunity,
                    None,
                    dec!(49.95)
                ),
            ]
        );
        let explained: Decimal = r.discrepancies.iter().map(|d| d.difference).sum();
        assert_eq!(explained, r.difference);
    }
}

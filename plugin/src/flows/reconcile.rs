//! Month-end reconciliation: Closed Won opportunities vs QBO invoices for a period through
//! `reconcile`, stored for the host to render (CSV, HTML) and summarised in a notification.

use super::context::{Abort, Ctx, FlowResult};
use super::links::opportunity_of;
use super::report::Failure;
use super::state::REPORTS;
use super::stored_reports::{reconcile_key, RECONCILE_LATEST};
use crate::clients::json::{date, money, non_empty};
use crate::clients::quickbooks::literal;
use crate::clients::quickbooks_json::invoice_view;
use crate::clients::salesforce_fields::QBO_INVOICE_ID;
use crate::mapping::{reconcile, DocumentKind, LedgerDocument, ReconcileInput, WonOpportunity};
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
}

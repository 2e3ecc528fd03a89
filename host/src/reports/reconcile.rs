//! The reconciliation report as CSV (one row per matched pair and discrepancy) and as an HTML
//! page with the totals, a bar chart of Salesforce vs QuickBooks per discrepancy kind, and the
//! tables. Amounts are printed as the component wrote them (exact decimal text), never through
//! floats; the chart's bar lengths are whole pixels computed with decimal arithmetic.

use super::{csv_field, escape};
use crate::runtime::ledgerlink::sync::types::{DiscrepancyKind, ReconcileReport};
use rust_decimal::Decimal;
use std::str::FromStr;

fn kind(k: DiscrepancyKind) -> &'static str {
    match k {
        DiscrepancyKind::MissingInvoice => "missing invoice",
        DiscrepancyKind::AmountDiffers => "amount differs",
        DiscrepancyKind::InvoiceWithoutOpportunity => "invoice without opportunity",
        DiscrepancyKind::OtherPeriod => "other period",
    }
}

fn opt(d: &Option<String>) -> &str {
    d.as_deref().unwrap_or_default()
}

/// An amount the component wrote (WIT `money`, decimal text); zero if it is not one.
fn amount(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap_or_default()
}

/// CSV: `status,kind,opportunity,documents,salesforce,quickbooks,difference,detail`.
pub fn csv(r: &ReconcileReport) -> String {
    let mut out =
        String::from("status,kind,opportunity,documents,salesforce,quickbooks,difference,detail\n");
    for m in &r.matched {
        out.push_str(&format!(
            "matched,,{},{},{},{},0,\n",
            csv_field(&m.opportunity_id),
            csv_field(&m.document_ids.join(" ")),
            m.amount,
            m.amount
        ));
    }
    for d in &r.discrepancies {
        out.push_str(&format!(
            "discrepancy,{},{},{},{},{},{},{}\n",
            kind(d.kind),
            csv_field(d.opportunity_id.as_deref().unwrap_or_default()),
            csv_field(d.document_id.as_deref().unwrap_or_default()),
            opt(&d.salesforce_amount),
            opt(&d.quickbooks_amount),
            d.difference,
            csv_field(&d.detail)
        ));
    }
    out.push_str(&format!(
        "total,,,,{},{},{},\n",
        r.salesforce_total, r.quickbooks_total, r.difference
    ));
    out
}

/// Width in pixels of a bar for `value` against `max` over `full` pixels.
fn bar(value: Decimal, max: Decimal, full: u32) -> u32 {
    if max <= Decimal::ZERO || value <= Decimal::ZERO {
        return 0;
    }
    let px = (value * Decimal::from(full) / max).round();
    u32::try_from(px.mantissa() / 10i128.pow(px.scale())).unwrap_or(full)
}

/// A self-contained HTML page.
pub fn html(r: &ReconcileReport) -> String {
    let (sf_total, qb_total) = (amount(&r.salesforce_total), amount(&r.quickbooks_total));
    let max = sf_total.max(qb_total);
    let sf = bar(sf_total, max, 480);
    let qb = bar(qb_total, max, 480);
    let status = if amount(&r.difference).is_zero() && r.discrepancies.is_empty() {
        "<p class=ok>Salesforce and QuickBooks agree to the cent.</p>".to_string()
    } else {
        format!(
            "<p class=bad>{} discrepancies; difference {}.</p>",
            r.discrepancies.len(),
            r.difference
        )
    };
    let mut rows = String::new();
    for d in &r.discrepancies {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>\n",
            kind(d.kind),
            escape(d.opportunity_id.as_deref().unwrap_or("")),
            escape(d.document_id.as_deref().unwrap_or("")),
            escape(opt(&d.salesforce_amount)),
            escape(opt(&d.quickbooks_amount)),
            escape(&d.difference),
            escape(&d.detail)
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=7>None</td></tr>");
    }
    format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reconciliation {start} to {end}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3rem .6rem}}.n{{text-align:right;font-variant-numeric:tabular-nums}}
.ok{{color:#11702b}}.bad{{color:#a4161a}}</style></head>
<body><h1>Month-end reconciliation</h1>
<p>Period {start} to {end}: Closed Won opportunities in Salesforce against invoices in QuickBooks Online.</p>
{status}
<svg width="640" height="90" role="img" aria-label="Totals">
<text x="0" y="25">Salesforce</text><rect x="110" y="10" width="{sf}" height="22" fill="#1f77b4"/><text x="{sf_label}" y="25">{sf_total}</text>
<text x="0" y="65">QuickBooks</text><rect x="110" y="50" width="{qb}" height="22" fill="#2ca02c"/><text x="{qb_label}" y="65">{qb_total}</text>
</svg>
<table><tr><th>Salesforce total</th><th>QuickBooks total</th><th>Difference</th><th>Matched</th></tr>
<tr><td class=n>{sf_total}</td><td class=n>{qb_total}</td><td class=n>{diff}</td><td class=n>{matched}</td></tr></table>
<h2>Discrepancies</h2>
<table><tr><th>Kind</th><th>Opportunity</th><th>Invoice</th><th>Salesforce</th><th>QuickBooks</th><th>Difference</th><th>Detail</th></tr>
{rows}</table>
</body></html>
"##,
        start = escape(&r.period_start),
        end = escape(&r.period_end),
        sf_label = 116 + sf,
        qb_label = 116 + qb,
        sf_total = escape(&r.salesforce_total),
        qb_total = escape(&r.quickbooks_total),
        diff = escape(&r.difference),
        matched = r.matched.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ledgerlink::sync::types::{Discrepancy, MatchedPair};

    fn report() -> ReconcileReport {
        ReconcileReport {
            period_start: "2025-01-01".into(),
            period_end: "2025-01-31".into(),
            salesforce_total: "300.00".into(),
            quickbooks_total: "200.00".into(),
            difference: "100.00".into(),
            matched: vec![MatchedPair {
                opportunity_id: "006A".into(),
                document_ids: vec!["41".into()],
                amount: "200.00".into(),
            }],
            discrepancies: vec![Discrepancy {
                kind: DiscrepancyKind::MissingInvoice,
                opportunity_id: Some("006B".into()),
                document_id: None,
                salesforce_amount: Some("100.00".into()),
                quickbooks_amount: None,
                difference: "100.00".into(),
                detail: "no invoice, yet".into(),
            }],
        }
    }

    #[test]
    fn the_csv_has_a_row_per_match_and_discrepancy_and_exact_totals() {
        let text = csv(&report());
        let rows: Vec<&str> = text.lines().collect();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1], "matched,,006A,41,200.00,200.00,0,");
        assert!(rows[2]
            .starts_with("discrepancy,missing invoice,006B,,100.00,,100.00,\"no invoice, yet\""));
        assert_eq!(rows[3], "total,,,,300.00,200.00,100.00,");
    }

    #[test]
    fn the_page_scales_bars_to_the_larger_total() {
        let page = html(&report());
        assert!(page.contains(r##"width="480" height="22" fill="#1f77b4""##));
        assert!(page.contains(r##"width="320" height="22" fill="#2ca02c""##));
        assert!(page.contains("1 discrepancies; difference 100.00"));
    }
}

//! The reconciliation report: CSV (one row per matched pair and discrepancy, then the totals),
//! JSON, and an HTML page with the totals, a bar chart of Salesforce against QuickBooks, the
//! discrepancies and the matched opportunities. Amounts are the component's exact decimal text,
//! shown with the tenant's currency and thousands separators, never passed through floats.

use super::chart::{self, Bar};
use super::{amount, csv_field, display_money, escape, page};
use crate::runtime::ledgerlink::sync::types::{DiscrepancyKind, ReconcileReport};
use chrono::{Datelike, NaiveDate};
use serde_json::{json, Value};

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

/// `March 2025` for a whole calendar month, else `2025-01-01 to 2025-12-31`.
pub fn period_label(start: &str, end: &str) -> String {
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    if let (Some(s), Some(e)) = (day(start), day(end)) {
        let last = s
            .checked_add_months(chrono::Months::new(1))
            .and_then(|d| d.pred_opt());
        if s.day() == 1 && Some(e) == last {
            return format!("{} {}", s.format("%B"), s.year());
        }
    }
    format!("{start} to {end}")
}

/// `March 2025` for `2025-03`; other text as it is.
fn month_label(month: &str) -> String {
    NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map(|d| format!("{} {}", d.format("%B"), d.year()))
        .unwrap_or_else(|_| month.to_string())
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
            csv_field(opt(&d.opportunity_id)),
            csv_field(opt(&d.document_id)),
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

/// The report as JSON, with the WIT's kebab-case names and amounts as exact decimal text.
pub fn json(r: &ReconcileReport) -> Value {
    json!({
        "period-start": r.period_start,
        "period-end": r.period_end,
        "salesforce-total": r.salesforce_total,
        "quickbooks-total": r.quickbooks_total,
        "difference": r.difference,
        "matched": r.matched.iter().map(|m| json!({
            "opportunity-id": m.opportunity_id, "document-ids": m.document_ids, "amount": m.amount,
        })).collect::<Vec<_>>(),
        "months": r.months.iter().map(|m| json!({
            "month": m.month, "salesforce-total": m.salesforce_total,
            "quickbooks-total": m.quickbooks_total, "difference": m.difference,
        })).collect::<Vec<_>>(),
        "discrepancies": r.discrepancies.iter().map(|d| json!({
            "kind": kind(d.kind).replace(' ', "-"),
            "opportunity-id": d.opportunity_id, "document-id": d.document_id,
            "salesforce-amount": d.salesforce_amount, "quickbooks-amount": d.quickbooks_amount,
            "difference": d.difference, "detail": d.detail,
        })).collect::<Vec<_>>(),
    })
}

/// A self-contained HTML page; amounts in `currency`.
pub fn html(r: &ReconcileReport, currency: &str) -> String {
    let money = |t: &str| escape(&display_money(t, currency));
    let period = period_label(&r.period_start, &r.period_end);
    let agree = amount(&r.difference).is_zero() && r.discrepancies.is_empty();
    let status = if agree {
        "<p class=ok>Salesforce and QuickBooks agree to the cent.</p>".to_string()
    } else {
        format!(
            "<p class=bad>{} discrepancies; difference {}.</p>",
            r.discrepancies.len(),
            money(&r.difference)
        )
    };
    let chart = chart::bars(
        "Closed Won in Salesforce against invoiced in QuickBooks",
        &[
            Bar {
                label: "Salesforce".into(),
                value: amount(&r.salesforce_total),
                shown: display_money(&r.salesforce_total, currency),
                color: "#1f77b4",
            },
            Bar {
                label: "QuickBooks".into(),
                value: amount(&r.quickbooks_total),
                shown: display_money(&r.quickbooks_total, currency),
                color: "#2ca02c",
            },
        ],
    );
    let mut discrepancies = String::new();
    for d in &r.discrepancies {
        discrepancies.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>\n",
            kind(d.kind),
            escape(opt(&d.opportunity_id)),
            escape(opt(&d.document_id)),
            d.salesforce_amount.as_deref().map(money).unwrap_or_default(),
            d.quickbooks_amount.as_deref().map(money).unwrap_or_default(),
            money(&d.difference),
            escape(&d.detail)
        ));
    }
    if discrepancies.is_empty() {
        discrepancies.push_str("<tr><td colspan=7>None</td></tr>");
    }
    let mut months = String::new();
    for m in &r.months {
        let class = if amount(&m.difference).is_zero() {
            "n"
        } else {
            "n bad"
        };
        months.push_str(&format!(
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=\"{class}\">{}</td></tr>\n",
            escape(&month_label(&m.month)),
            money(&m.salesforce_total),
            money(&m.quickbooks_total),
            money(&m.difference)
        ));
    }
    let by_month = if months.is_empty() {
        String::new()
    } else {
        format!(
            "<h2>Month by month</h2>\n<p class=muted>Closed Won by close date, QuickBooks documents by their date.</p>\n<div class=scroll><table id=months><tr><th>Month</th><th class=n>Salesforce</th><th class=n>QuickBooks</th><th class=n>Difference</th></tr>\n{months}</table></div>"
        )
    };
    let mut matched = String::new();
    for m in &r.matched {
        matched.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td></tr>\n",
            escape(&m.opportunity_id),
            escape(&m.document_ids.join(", ")),
            money(&m.amount)
        ));
    }
    if matched.is_empty() {
        matched.push_str("<tr><td colspan=3>None</td></tr>");
    }
    let body = format!(
        r##"<h1>Reconciliation {period}</h1>
<p class=muted>{start} to {end}: Closed Won opportunities in Salesforce against their invoices in QuickBooks Online (revenue, before tax).</p>
{status}
<div class=cards>
<div class=card>Salesforce<b id=salesforce-total>{sf}</b></div>
<div class=card>QuickBooks<b id=quickbooks-total>{qb}</b></div>
<div class=card>Difference<b id=difference>{diff}</b></div>
<div class=card>Matched<b id=matched-count>{n_matched}</b></div>
<div class=card>Discrepancies<b id=discrepancy-count>{n_disc}</b></div>
</div>
<h2>Totals</h2>
{chart}
{by_month}
<h2>Discrepancies</h2>
<div class=scroll><table id=discrepancies><tr><th>Kind</th><th>Opportunity</th><th>Invoice</th><th class=n>Salesforce</th><th class=n>QuickBooks</th><th class=n>Difference</th><th>Detail</th></tr>
{discrepancies}</table></div>
<h2>Matched opportunities</h2>
<div class=scroll><table id=matched><tr><th>Opportunity</th><th>Invoices</th><th class=n>Amount</th></tr>
{matched}</table></div>"##,
        period = escape(&period),
        start = escape(&r.period_start),
        end = escape(&r.period_end),
        sf = money(&r.salesforce_total),
        qb = money(&r.quickbooks_total),
        diff = money(&r.difference),
        n_matched = r.matched.len(),
        n_disc = r.discrepancies.len(),
    );
    page(&format!("Reconciliation {period}"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ledgerlink::sync::types::{Discrepancy, MatchedPair, MonthTotal};

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
            months: vec![MonthTotal {
                month: "2025-01".into(),
                salesforce_total: "300.00".into(),
                quickbooks_total: "200.00".into(),
                difference: "100.00".into(),
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
        let page = html(&report(), "USD");
        assert!(page.contains(r##"width="250" height="28" fill="#1f77b4""##));
        assert!(page.contains(r##"width="167" height="28" fill="#2ca02c""##));
        assert!(page.contains("1 discrepancies; difference USD 100.00"));
    }

    #[test]
    fn the_page_names_its_month_lists_the_matches_and_shows_currency() {
        let page = html(&report(), "EUR");
        assert!(page.contains("<h1>Reconciliation January 2025</h1>"));
        assert!(page.contains("<td>006A</td><td>41</td><td class=n>EUR 200.00</td>"));
        assert!(page.contains("<b id=salesforce-total>EUR 300.00</b>"));
        assert!(page.contains("<tr><td>January 2025</td><td class=n>EUR 300.00</td><td class=n>EUR 200.00</td><td class=\"n bad\">EUR 100.00</td></tr>"), "{page}");
        assert_eq!(
            period_label("2025-01-01", "2025-12-31"),
            "2025-01-01 to 2025-12-31"
        );
        assert_eq!(period_label("2024-02-01", "2024-02-29"), "February 2024");
    }

    #[test]
    fn the_json_keeps_exact_amounts() {
        let v = json(&report());
        assert_eq!(v["salesforce-total"], "300.00");
        assert_eq!(v["discrepancies"][0]["kind"], "missing-invoice");
        assert_eq!(v["matched"][0]["document-ids"][0], "41");
    }
}

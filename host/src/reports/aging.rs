//! The aging report: CSV (one row per open invoice with its bucket, then the bucket totals),
//! JSON, and an HTML page with the open total, a chart of the balance per bucket, the
//! thresholds newly crossed and the open invoices, oldest first.

use super::chart::{self, Bar};
use super::{amount, csv_field, display_money, escape, page};
use crate::runtime::ledgerlink::sync::types::{AgingBucket, AgingReport};
use serde_json::{json, Value};

fn bucket(b: AgingBucket) -> &'static str {
    match b {
        AgingBucket::Current => "current",
        AgingBucket::Days1To30 => "1-30",
        AgingBucket::Days31To60 => "31-60",
        AgingBucket::Days61To90 => "61-90",
        AgingBucket::Over90 => "over 90",
    }
}

/// Current to over 90 days: green to red.
fn color(b: AgingBucket) -> &'static str {
    match b {
        AgingBucket::Current => "#2ca02c",
        AgingBucket::Days1To30 => "#bcbd22",
        AgingBucket::Days31To60 => "#ff9f1c",
        AgingBucket::Days61To90 => "#e4572e",
        AgingBucket::Over90 => "#a4161a",
    }
}

/// CSV: `invoice,opportunity,days_outstanding,bucket,balance`, then `total` rows per bucket.
pub fn csv(r: &AgingReport) -> String {
    let mut out = String::from("invoice,opportunity,days_outstanding,bucket,balance\n");
    for i in &r.invoices {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            csv_field(&i.invoice_id),
            csv_field(i.opportunity_id.as_deref().unwrap_or_default()),
            i.days_outstanding,
            bucket(i.bucket),
            i.balance
        ));
    }
    for b in &r.buckets {
        out.push_str(&format!(
            "total,,{},{},{}\n",
            b.count,
            bucket(b.bucket),
            b.balance
        ));
    }
    out
}

/// The report as JSON, with the WIT's kebab-case names and amounts as exact decimal text.
pub fn json(r: &AgingReport) -> Value {
    json!({
        "as-of": r.as_of,
        "total-open": r.total_open,
        "buckets": r.buckets.iter().map(|b| json!({
            "bucket": bucket(b.bucket), "count": b.count, "balance": b.balance,
        })).collect::<Vec<_>>(),
        "invoices": r.invoices.iter().map(|i| json!({
            "invoice-id": i.invoice_id, "opportunity-id": i.opportunity_id,
            "days-outstanding": i.days_outstanding, "bucket": bucket(i.bucket), "balance": i.balance,
        })).collect::<Vec<_>>(),
        "alerts": r.alerts.iter().map(|a| json!({
            "invoice-id": a.invoice_id, "opportunity-id": a.opportunity_id, "threshold": a.threshold,
            "days-outstanding": a.days_outstanding, "balance": a.balance, "message": a.message,
        })).collect::<Vec<_>>(),
    })
}

/// A self-contained HTML page; amounts in `currency`.
pub fn html(r: &AgingReport, currency: &str) -> String {
    let money = |t: &str| escape(&display_money(t, currency));
    let bars: Vec<Bar> = r
        .buckets
        .iter()
        .map(|b| Bar {
            label: format!("{} ({})", bucket(b.bucket), b.count),
            value: amount(&b.balance),
            shown: display_money(&b.balance, currency),
            color: color(b.bucket),
        })
        .collect();
    let chart = chart::bars("Open balance per aging bucket", &bars);
    let mut alerts = String::new();
    for a in &r.alerts {
        alerts.push_str(&format!(
            "<li>{} days: invoice {} ({}), {} open</li>\n",
            a.threshold,
            escape(&a.invoice_id),
            escape(a.opportunity_id.as_deref().unwrap_or("no opportunity")),
            money(&a.balance)
        ));
    }
    if alerts.is_empty() {
        alerts.push_str("<li>No threshold newly crossed.</li>");
    }
    let mut invoices: Vec<_> = r.invoices.iter().collect();
    invoices.sort_by_key(|i| std::cmp::Reverse(i.days_outstanding));
    let mut rows = String::new();
    for i in invoices {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td>{}</td><td class=n>{}</td></tr>\n",
            escape(&i.invoice_id),
            escape(i.opportunity_id.as_deref().unwrap_or("")),
            i.days_outstanding,
            bucket(i.bucket),
            money(&i.balance)
        ));
    }
    if rows.is_empty() {
        rows.push_str("<tr><td colspan=5>No open invoices</td></tr>");
    }
    let body = format!(
        r##"<h1>Invoice aging as of {as_of}</h1>
<p class=muted>Open QuickBooks Online invoices by days past their due date.</p>
<div class=cards>
<div class=card>Open balance<b id=total-open>{total}</b></div>
<div class=card>Open invoices<b id=open-count>{count}</b></div>
<div class=card>Thresholds crossed<b id=alert-count>{n_alerts}</b></div>
</div>
<h2>Balance per bucket</h2>
{chart}
<h2>Newly crossed</h2>
<ul id=alerts>{alerts}</ul>
<h2>Open invoices</h2>
<div class=scroll><table id=invoices><tr><th>Invoice</th><th>Opportunity</th><th class=n>Days</th><th>Bucket</th><th class=n>Balance</th></tr>
{rows}</table></div>"##,
        as_of = escape(&r.as_of),
        total = money(&r.total_open),
        count = r.invoices.len(),
        n_alerts = r.alerts.len(),
    );
    page(&format!("Invoice aging as of {}", r.as_of), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ledgerlink::sync::types::{AgingAlert, BucketTotal, InvoiceAge};

    fn report() -> AgingReport {
        AgingReport {
            as_of: "2026-03-31".into(),
            buckets: vec![
                BucketTotal {
                    bucket: AgingBucket::Current,
                    count: 1,
                    balance: "1000.00".into(),
                },
                BucketTotal {
                    bucket: AgingBucket::Over90,
                    count: 1,
                    balance: "2500.50".into(),
                },
            ],
            invoices: vec![
                InvoiceAge {
                    invoice_id: "41".into(),
                    opportunity_id: Some("006A".into()),
                    days_outstanding: 3,
                    bucket: AgingBucket::Current,
                    balance: "1000.00".into(),
                },
                InvoiceAge {
                    invoice_id: "42".into(),
                    opportunity_id: None,
                    days_outstanding: 120,
                    bucket: AgingBucket::Over90,
                    balance: "2500.50".into(),
                },
            ],
            alerts: vec![AgingAlert {
                invoice_id: "42".into(),
                opportunity_id: None,
                threshold: 90,
                days_outstanding: 120,
                balance: "2500.50".into(),
                message: "Invoice 42 is 120 days past due".into(),
            }],
            total_open: "3500.50".into(),
            state: Vec::new(),
        }
    }

    #[test]
    fn the_csv_lists_each_invoice_then_each_bucket() {
        let text = csv(&report());
        assert_eq!(text.lines().nth(2), Some("42,,120,over 90,2500.50"));
        assert_eq!(text.lines().last(), Some("total,,1,over 90,2500.50"));
    }

    #[test]
    fn the_page_shows_the_oldest_first_with_currency_and_the_alerts() {
        let page = html(&report(), "USD");
        assert!(page.contains("<b id=total-open>USD 3,500.50</b>"));
        let oldest = page.find("<td>42</td>").unwrap();
        let newest = page.find("<td>41</td>").unwrap();
        assert!(oldest < newest);
        assert!(page.contains("<li>90 days: invoice 42 (no opportunity), USD 2,500.50 open</li>"));
        assert!(page.contains(r##"width="250" height="28" fill="#a4161a""##));
        assert_eq!(json(&report())["buckets"][1]["bucket"], "over 90");
    }
}

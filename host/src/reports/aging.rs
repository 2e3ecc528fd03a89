//! The aging report as CSV: one row per open invoice with its bucket, then the bucket totals.

use super::csv_field;
use crate::runtime::ledgerlink::sync::types::{AgingBucket, AgingReport};

fn bucket(b: AgingBucket) -> &'static str {
    match b {
        AgingBucket::Current => "current",
        AgingBucket::Days1To30 => "1-30",
        AgingBucket::Days31To60 => "31-60",
        AgingBucket::Days61To90 => "61-90",
        AgingBucket::Over90 => "over 90",
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

//! `age-invoices`: open invoices -> aging buckets and newly crossed thresholds.

use crate::model::MappingError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// An open invoice to age.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct OpenInvoice {
    pub invoice_id: String,
    pub doc_number: Option<String>,
    pub opportunity_id: Option<String>,
    pub customer_name: Option<String>,
    pub txn_date: NaiveDate,
    pub due_date: NaiveDate,
    pub balance: Decimal,
}

/// The highest threshold an invoice had crossed at the last run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AgingState {
    pub invoice_id: String,
    pub threshold: u32,
}

/// Input of `age-invoices`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AgingInput {
    pub invoices: Vec<OpenInvoice>,
    pub as_of: NaiveDate,
    pub previous: Vec<AgingState>,
    pub thresholds: Vec<u32>,
}

/// Aging buckets by days past due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum AgingBucket {
    Current,
    Days1To30,
    Days31To60,
    Days61To90,
    Over90,
}

/// One bucket's totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct BucketTotal {
    pub bucket: AgingBucket,
    pub count: u32,
    pub balance: Decimal,
}

/// One invoice's age.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct InvoiceAge {
    pub invoice_id: String,
    pub opportunity_id: Option<String>,
    pub days_outstanding: i32,
    pub bucket: AgingBucket,
    pub balance: Decimal,
}

/// A threshold newly crossed since the last run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AgingAlert {
    pub invoice_id: String,
    pub opportunity_id: Option<String>,
    pub threshold: u32,
    pub days_outstanding: i32,
    pub balance: Decimal,
    pub message: String,
}

/// Output of `age-invoices`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AgingReport {
    pub as_of: NaiveDate,
    pub buckets: Vec<BucketTotal>,
    pub invoices: Vec<InvoiceAge>,
    pub alerts: Vec<AgingAlert>,
    pub total_open: Decimal,
    pub state: Vec<AgingState>,
}

/// Ages open invoices as of a date.
pub fn age_invoices(input: &AgingInput) -> Result<AgingReport, MappingError> {
    let _ = input;
    Err(MappingError::one(
        crate::model::ErrorKind::NotAvailable,
        "aging",
        "",
        "age-invoices is not implemented yet",
    ))
}

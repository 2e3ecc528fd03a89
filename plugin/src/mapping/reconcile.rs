//! `reconcile`: Closed Won vs invoiced for a period -> totals, matches and discrepancies.

use crate::model::MappingError;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A Closed Won Opportunity of the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct WonOpportunity {
    pub id: String,
    pub name: String,
    pub account_id: Option<String>,
    pub close_date: NaiveDate,
    pub amount: Decimal,
    pub invoice_id: Option<String>,
}

/// What a QBO document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum DocumentKind {
    Invoice,
    CreditMemo,
}

/// A QBO invoice or credit memo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct LedgerDocument {
    pub id: String,
    pub doc_number: Option<String>,
    pub kind: DocumentKind,
    pub txn_date: NaiveDate,
    pub total_amt: Decimal,
    pub opportunity_id: Option<String>,
    pub voided: bool,
}

/// Input of `reconcile`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct ReconcileInput {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub opportunities: Vec<WonOpportunity>,
    pub documents: Vec<LedgerDocument>,
}

/// A matched Opportunity and its net invoiced amount.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct MatchedPair {
    pub opportunity_id: String,
    pub document_ids: Vec<String>,
    pub amount: Decimal,
}

/// What disagrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum DiscrepancyKind {
    MissingInvoice,
    AmountDiffers,
    InvoiceWithoutOpportunity,
    OtherPeriod,
}

/// One disagreement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct Discrepancy {
    pub kind: DiscrepancyKind,
    pub opportunity_id: Option<String>,
    pub document_id: Option<String>,
    pub salesforce_amount: Option<Decimal>,
    pub quickbooks_amount: Option<Decimal>,
    pub difference: Decimal,
    pub detail: String,
}

/// Output of `reconcile`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct ReconcileReport {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub salesforce_total: Decimal,
    pub quickbooks_total: Decimal,
    pub difference: Decimal,
    pub matched: Vec<MatchedPair>,
    pub discrepancies: Vec<Discrepancy>,
}

/// Reconciles a period.
pub fn reconcile(input: &ReconcileInput) -> Result<ReconcileReport, MappingError> {
    let _ = input;
    Err(MappingError::one(
        crate::model::ErrorKind::NotAvailable,
        "reconcile",
        "",
        "reconcile is not implemented yet",
    ))
}

//! `build-journal-entry`: Salesforce Order -> balanced QBO JournalEntry (or its reversal).

use crate::model::{MappingError, QboJournalEntry, Reference, SfOrder};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A share of an allocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AllocationSplit {
    pub percent: Decimal,
    pub account: Option<Reference>,
    pub department: Option<Reference>,
    pub class: Option<Reference>,
}

/// Where an order item's revenue goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AllocationRule {
    pub product_code: Option<String>,
    pub product_family: Option<String>,
    pub account: Reference,
    pub department: Option<Reference>,
    pub class: Option<Reference>,
    pub splits: Vec<AllocationSplit>,
}

/// Input of `build-journal-entry`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct JournalInput {
    pub order: SfOrder,
    pub rules: Vec<AllocationRule>,
    pub receivable_account: Reference,
    pub customer: Option<Reference>,
    pub reversal: bool,
    pub reversal_date: Option<NaiveDate>,
}

/// Builds the journal entry for an activated (or cancelled) order.
pub fn build_journal_entry(input: &JournalInput) -> Result<QboJournalEntry, MappingError> {
    Err(MappingError::one(
        crate::model::ErrorKind::NotAvailable,
        &input.order.id,
        "",
        "build-journal-entry is not implemented yet",
    ))
}

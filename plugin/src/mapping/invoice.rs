//! `build-invoice`: Closed Won Opportunity + lines + resolved references -> QBO Invoice.

use crate::model::{MappingError, QboInvoice, Reference, SfOpportunity};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// How `DocNumber` is chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum DocNumberRule {
    QboAssigns,
    Prefix(String),
}

/// Company settings that shape an invoice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct InvoiceSettings {
    pub us_company: bool,
    pub home_currency: String,
    pub multicurrency: bool,
    pub terms: Option<Reference>,
    pub terms_days: Option<u32>,
    pub doc_number: DocNumberRule,
    pub default_tax_code: Option<Reference>,
    pub department: Option<Reference>,
    pub class: Option<Reference>,
    pub amount_tolerance: Decimal,
    pub opportunity_field_id: Option<String>,
}

/// The QBO item and tax treatment resolved for one Opportunity line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct LineResolution {
    pub line_id: String,
    pub item: Reference,
    pub taxable: bool,
    pub tax_code: Option<Reference>,
    pub class: Option<Reference>,
}

/// Input of `build-invoice`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct InvoiceInput {
    pub opportunity: SfOpportunity,
    pub customer: Option<Reference>,
    pub customer_email: Option<String>,
    pub lines: Vec<LineResolution>,
    pub settings: InvoiceSettings,
}

/// Builds the QBO Invoice for a Closed Won Opportunity.
pub fn build_invoice(input: &InvoiceInput) -> Result<QboInvoice, MappingError> {
    Err(MappingError::one(
        crate::model::ErrorKind::NotAvailable,
        &input.opportunity.id,
        "",
        "build-invoice is not implemented yet",
    ))
}

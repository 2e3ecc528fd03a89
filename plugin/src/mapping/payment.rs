//! `apply-payment`: QBO Payment + the invoices it links -> Opportunity payment-status updates.

use crate::model::{MappingError, PaymentStatus, QboPayment};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A payment already applied to an invoice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AppliedPayment {
    pub payment_id: String,
    pub amount: Decimal,
    pub txn_date: NaiveDate,
}

/// An invoice with what Ledgerlink knows of the payments applied to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct InvoiceLedger {
    pub invoice_id: String,
    pub opportunity_id: Option<String>,
    pub total_amt: Decimal,
    pub applied: Vec<AppliedPayment>,
}

/// Input of `apply-payment`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct PaymentInput {
    pub payment: QboPayment,
    pub invoices: Vec<InvoiceLedger>,
}

/// The payment fields to write on one Opportunity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct OpportunityPaymentUpdate {
    pub opportunity_id: String,
    pub invoice_id: String,
    pub amount_paid: Decimal,
    pub open_balance: Decimal,
    pub status: PaymentStatus,
    pub paid_date: Option<NaiveDate>,
    pub reversed: bool,
}

/// Output of `apply-payment`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct PaymentOutput {
    pub invoices: Vec<InvoiceLedger>,
    pub updates: Vec<OpportunityPaymentUpdate>,
    pub unapplied: Decimal,
}

/// Applies (or reverses) a payment against the invoices it links.
pub fn apply_payment(input: &PaymentInput) -> Result<PaymentOutput, MappingError> {
    Err(MappingError::one(
        crate::model::ErrorKind::NotAvailable,
        &input.payment.id,
        "",
        "apply-payment is not implemented yet",
    ))
}

//! One invoice as planned from its opportunity, shared by the create path (`invoices.rs`) and
//! the update path (`invoice_updates.rs`), and the invoice fields written back to the
//! opportunity once it exists.

use crate::clients::salesforce_fields::{QBO_INVOICE_ID, QBO_INVOICE_LINK, QBO_INVOICE_NUMBER};
use crate::flows::context::Ctx;
use crate::flows::links::Owner;
use crate::model::SfOpportunity;
use serde_json::{json, Value};

/// One invoice to create or update.
pub struct Planned {
    /// The record it bills (reported under, written back to): the opportunity, or the invoice
    /// record `opportunity` was adapted from.
    pub owner: Owner,
    pub opportunity: SfOpportunity,
    /// The full invoice as built from the opportunity.
    pub body: Value,
    /// Its fingerprint (stored in the link once written).
    pub hash: String,
    pub doc_number: Option<String>,
}

/// The opportunity's invoice fields: `QBO_Invoice_Id__c`, `QBO_Invoice_Number__c` and
/// `QBO_Invoice_Link__c`, as one sObject Collections record.
pub fn invoice_fields(
    ctx: &Ctx<'_>,
    opportunity_id: &str,
    invoice_id: &str,
    doc_number: Option<&str>,
) -> Value {
    json!({
        "Id": opportunity_id,
        QBO_INVOICE_ID: invoice_id,
        QBO_INVOICE_NUMBER: doc_number,
        QBO_INVOICE_LINK: format!("{}{invoice_id}", ctx.settings.invoice_link_base),
    })
}

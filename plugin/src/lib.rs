//! Ledgerlink's sync logic, built as a WASI component (`wasm32-wasip2`) and as an rlib for
//! native tests.
//!
//! - `model`: the records in exact types (money is `Decimal`).
//! - `mapping`: the pure per-flow functions.
//! - `boundary`: the translation between the WIT bindings and `model` (parsing money and dates,
//!   naming the record and field of every bad value).
//!
//! The generated bindings live in this file and are used only here and in `boundary`.

pub mod boundary;
pub mod mapping;
pub mod model;
pub mod native;

#[allow(warnings)]
#[rustfmt::skip]
mod bindings {
    wit_bindgen::generate!({ path: "../wit", world: "ledgerlink:sync/plugin", generate_all });
}

use bindings::exports::ledgerlink::sync::flows::{self, FlowError, Job, RunReport};
use bindings::exports::ledgerlink::sync::mapping as mapping_api;
use bindings::ledgerlink::sync::types as wit;

/// The component: each export converts its input through `boundary`, calls the pure function in
/// `mapping` and converts the answer back.
struct Component;

impl mapping_api::Guest for Component {
    fn map_account(input: wit::AccountInput) -> Result<wit::AccountOutput, wit::MappingError> {
        boundary::call("map-account", input, mapping::map_account)
    }

    fn map_customer(input: wit::CustomerInput) -> Result<wit::CustomerOutput, wit::MappingError> {
        boundary::call("map-customer", input, mapping::map_customer)
    }

    fn map_product(input: wit::ProductInput) -> Result<wit::ItemChange, wit::MappingError> {
        boundary::call("map-product", input, mapping::map_product)
    }

    fn build_invoice(input: wit::InvoiceInput) -> Result<wit::QboInvoice, wit::MappingError> {
        boundary::call("build-invoice", input, mapping::build_invoice)
    }

    fn apply_payment(input: wit::PaymentInput) -> Result<wit::PaymentOutput, wit::MappingError> {
        boundary::call("apply-payment", input, mapping::apply_payment)
    }

    fn build_journal_entry(
        input: wit::JournalInput,
    ) -> Result<wit::QboJournalEntry, wit::MappingError> {
        boundary::call("build-journal-entry", input, mapping::build_journal_entry)
    }

    fn age_invoices(input: wit::AgingInput) -> Result<wit::AgingReport, wit::MappingError> {
        boundary::call("age-invoices", input, mapping::age_invoices)
    }

    fn reconcile(input: wit::ReconcileInput) -> Result<wit::ReconcileReport, wit::MappingError> {
        boundary::call("reconcile", input, mapping::reconcile)
    }
}

impl flows::Guest for Component {
    fn describe() -> Vec<Job> {
        Vec::new()
    }

    fn run_job(name: String, _args: String) -> Result<RunReport, FlowError> {
        Err(FlowError::NotAvailable(format!(
            "flows are built in a later issue: {name}"
        )))
    }

    fn on_webhook(source: String, _body: String) -> Result<RunReport, FlowError> {
        Err(FlowError::NotAvailable(format!(
            "flows are built in a later issue: {source}"
        )))
    }
}

// Exported symbols only in the component: a native cdylib would choke on their `:` and `/`.
#[cfg(target_arch = "wasm32")]
bindings::export!(Component with_types_in bindings);

//! The pure per-flow functions: no I/O, no clock, no randomness. Each file holds one function,
//! its input and output types, and the accounting rules it encodes, each rule a named function
//! with a test named after it.

pub mod account;
pub mod aging;
pub mod customer;
#[cfg(test)]
mod fixtures;
pub mod invoice;
pub mod journal_entry;
mod party;
pub mod payment;
pub mod product;
pub mod reconcile;
pub mod settlement;
mod text;

pub use account::{map_account, AccountInput, AccountOutput, CustomerChange, CustomerUpdate};
pub use aging::{
    age_invoices, alert_wording, AgingAlert, AgingBucket, AgingInput, AgingReport, AgingState,
    BucketTotal, InvoiceAge, OpenInvoice,
};
pub use customer::{map_customer, AccountChange, CustomerInput, CustomerOutput, QboOwnedFields};
pub use invoice::{build_invoice, DocNumberRule, InvoiceInput, InvoiceSettings, LineResolution};
pub use journal_entry::{build_journal_entry, AllocationRule, AllocationSplit, JournalInput};
pub use payment::{
    apply_payment, AppliedPayment, InvoiceLedger, OpportunityPaymentUpdate, PaymentInput,
    PaymentOutput,
};
pub use product::{map_product, ItemChange, ItemSettings, ItemUpdate, ProductInput};
pub use reconcile::{
    reconcile, Discrepancy, DiscrepancyKind, DocumentKind, LedgerDocument, MatchedPair, MonthTotal,
    ReconcileInput, ReconcileReport, WonOpportunity,
};
pub use settlement::{
    settle, Adjustment, AdjustmentKind, InvoiceMoney, InvoiceState, Settlement, SettlementStatus,
};

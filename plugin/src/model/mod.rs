//! The records Ledgerlink reasons about, in exact types: money is `Decimal`, dates are
//! `NaiveDate`. They mirror the WIT `types` interface one to one; their serde form is the WIT's
//! JSON form (kebab-case names, money as decimal strings), so one JSON fixture drives both the
//! native tests and the component tests.

mod common;
pub mod money;
mod quickbooks;
mod rules;
mod salesforce;

pub use common::{ErrorKind, FieldError, MappingError, PostalAddress, Reference};
pub use quickbooks::{
    GlobalTaxCalculation, ItemType, JournalLine, PaymentLine, PaymentState, PaymentStatus,
    PostingType, QboCustomField, QboCustomer, QboInvoice, QboInvoiceLine, QboItem, QboJournalEntry,
    QboPayment,
};
pub use rules::{FieldConflict, FieldOwner, FieldRule, PartyField, PartySnapshot};
pub use salesforce::{
    SfAccount, SfField, SfOpportunity, SfOpportunityLine, SfOrder, SfOrderItem, SfPricebookEntry,
    SfProduct, SfValue,
};

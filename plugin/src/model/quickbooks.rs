use super::{PostalAddress, Reference};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A QBO Customer; in a sparse update only the changed fields are set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct QboCustomer {
    pub id: Option<String>,
    pub sync_token: Option<String>,
    pub display_name: Option<String>,
    pub company_name: Option<String>,
    pub bill_addr: Option<PostalAddress>,
    pub ship_addr: Option<PostalAddress>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub notes: Option<String>,
    pub active: Option<bool>,
    pub sales_term: Option<Reference>,
    pub taxable: Option<bool>,
    pub default_tax_code: Option<Reference>,
    pub resale_num: Option<String>,
    pub balance: Option<Decimal>,
    pub salesforce_id: Option<String>,
}

/// QBO Item types Ledgerlink creates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum ItemType {
    Service,
    NonInventory,
}

/// A QBO Item.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct QboItem {
    pub id: Option<String>,
    pub sync_token: Option<String>,
    pub name: Option<String>,
    pub sku: Option<String>,
    pub description: Option<String>,
    pub unit_price: Option<Decimal>,
    pub item_type: Option<ItemType>,
    pub income_account: Option<Reference>,
    pub active: Option<bool>,
}

/// One SalesItemLineDetail line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct QboInvoiceLine {
    pub line_num: u32,
    pub description: Option<String>,
    pub amount: Decimal,
    pub item: Reference,
    pub qty: Decimal,
    pub unit_price: Decimal,
    pub tax_code: Option<Reference>,
    pub class: Option<Reference>,
    pub service_date: Option<NaiveDate>,
}

/// A custom field value on a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct QboCustomField {
    pub definition_id: String,
    pub name: Option<String>,
    pub value: String,
}

/// A QBO Invoice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct QboInvoice {
    pub id: Option<String>,
    pub sync_token: Option<String>,
    pub doc_number: Option<String>,
    pub txn_date: NaiveDate,
    pub due_date: Option<NaiveDate>,
    pub customer: Reference,
    pub lines: Vec<QboInvoiceLine>,
    pub currency: Option<Reference>,
    pub department: Option<Reference>,
    pub class: Option<Reference>,
    pub sales_term: Option<Reference>,
    pub bill_email: Option<String>,
    pub bill_email_cc: Option<String>,
    pub private_note: Option<String>,
    pub custom_fields: Vec<QboCustomField>,
    pub exchange_rate: Option<Decimal>,
    pub global_tax_calculation: Option<GlobalTaxCalculation>,
    pub txn_tax_code: Option<Reference>,
    pub total_amt: Decimal,
    pub balance: Option<Decimal>,
}

/// `GlobalTaxCalculation` of a non-US transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum GlobalTaxCalculation {
    TaxExcluded,
    TaxInclusive,
    NotApplicable,
}

impl GlobalTaxCalculation {
    /// The value QBO writes (`TaxExcluded`, ...).
    pub fn as_qbo(self) -> &'static str {
        match self {
            Self::TaxExcluded => "TaxExcluded",
            Self::TaxInclusive => "TaxInclusive",
            Self::NotApplicable => "NotApplicable",
        }
    }

    /// Reads QBO's (or a setting's) spelling, case-insensitively.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::TaxExcluded, Self::TaxInclusive, Self::NotApplicable]
            .into_iter()
            .find(|g| g.as_qbo().eq_ignore_ascii_case(text.trim()))
    }
}

/// Payment status written to the Opportunity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum PaymentStatus {
    Unpaid,
    PartiallyPaid,
    Paid,
    Overpaid,
}

/// The state of a QBO Payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum PaymentState {
    Active,
    Voided,
    Deleted,
}

/// One application of a payment to an invoice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct PaymentLine {
    pub invoice_id: String,
    pub amount: Decimal,
}

/// A QBO Payment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct QboPayment {
    pub id: String,
    pub txn_date: NaiveDate,
    pub customer: Option<Reference>,
    pub total_amt: Decimal,
    pub lines: Vec<PaymentLine>,
    pub state: PaymentState,
}

/// Debit or credit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum PostingType {
    Debit,
    Credit,
}

/// One JournalEntryLineDetail line; `amount` is always positive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct JournalLine {
    pub description: Option<String>,
    pub amount: Decimal,
    pub posting_type: PostingType,
    pub account: Reference,
    pub department: Option<Reference>,
    pub class: Option<Reference>,
    pub customer: Option<Reference>,
}

/// A balanced QBO JournalEntry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct QboJournalEntry {
    pub doc_number: Option<String>,
    pub txn_date: NaiveDate,
    pub private_note: Option<String>,
    pub lines: Vec<JournalLine>,
    pub total: Decimal,
}

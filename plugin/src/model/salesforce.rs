use super::PostalAddress;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A Salesforce Account.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct SfAccount {
    pub id: String,
    pub name: String,
    pub billing_address: Option<PostalAddress>,
    pub shipping_address: Option<PostalAddress>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub description: Option<String>,
    pub qbo_customer_id: Option<String>,
    pub payment_terms: Option<String>,
    pub tax_exempt: Option<bool>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub class: Option<String>,
    pub system_modstamp: Option<String>,
}

/// An OpportunityLineItem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct SfOpportunityLine {
    pub id: String,
    pub product_id: Option<String>,
    pub product_code: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub total_price: Option<Decimal>,
    /// A percentage: 10 means 10 %.
    pub discount_percent: Option<Decimal>,
    pub service_date: Option<NaiveDate>,
    pub sort_order: Option<u32>,
}

/// An Opportunity with its line items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct SfOpportunity {
    pub id: String,
    pub name: String,
    pub account_id: Option<String>,
    pub stage_name: String,
    pub close_date: NaiveDate,
    pub amount: Option<Decimal>,
    pub is_won: bool,
    pub is_closed: bool,
    pub currency_code: Option<String>,
    pub description: Option<String>,
    pub qbo_invoice_id: Option<String>,
    pub system_modstamp: Option<String>,
    pub line_items: Vec<SfOpportunityLine>,
}

/// A Product2.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct SfProduct {
    pub id: String,
    pub name: String,
    pub product_code: Option<String>,
    pub description: Option<String>,
    pub family: Option<String>,
    pub is_active: bool,
}

/// A PricebookEntry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct SfPricebookEntry {
    pub id: String,
    pub unit_price: Decimal,
    pub is_active: bool,
    pub currency_code: Option<String>,
}

/// An OrderItem with the product fields allocation rules match on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct SfOrderItem {
    pub id: String,
    pub product_id: Option<String>,
    pub product_code: Option<String>,
    pub product_family: Option<String>,
    pub description: Option<String>,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub total_price: Option<Decimal>,
}

/// A Salesforce Order with its items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct SfOrder {
    pub id: String,
    pub order_number: Option<String>,
    pub account_id: Option<String>,
    pub effective_date: NaiveDate,
    pub status: String,
    pub total_amount: Option<Decimal>,
    pub items: Vec<SfOrderItem>,
}

/// A typed value for a Salesforce field write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum SfValue {
    Null,
    Text(String),
    Boolean(bool),
    Number(Decimal),
    Date(NaiveDate),
}

/// One field write.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct SfField {
    pub name: String,
    pub value: SfValue,
}

impl SfField {
    /// A field write.
    pub fn new(name: impl Into<String>, value: SfValue) -> Self {
        Self {
            name: name.into(),
            value,
        }
    }
}

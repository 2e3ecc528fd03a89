use super::PostalAddress;
use serde::{Deserialize, Serialize};

/// A field both systems hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum PartyField {
    DisplayName,
    CompanyName,
    BillingAddress,
    ShippingAddress,
    Email,
    Phone,
    Website,
    Notes,
}

impl PartyField {
    /// Every field, in a fixed order (the order of the WIT enum).
    pub const ALL: [PartyField; 8] = [
        PartyField::DisplayName,
        PartyField::CompanyName,
        PartyField::BillingAddress,
        PartyField::ShippingAddress,
        PartyField::Email,
        PartyField::Phone,
        PartyField::Website,
        PartyField::Notes,
    ];
}

/// Which system is the source of truth for a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum FieldOwner {
    Salesforce,
    Quickbooks,
    Both,
}

/// The owner of one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct FieldRule {
    pub field: PartyField,
    pub owner: FieldOwner,
}

/// The shared fields as last synced.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct PartySnapshot {
    pub display_name: Option<String>,
    pub company_name: Option<String>,
    pub billing_address: Option<PostalAddress>,
    pub shipping_address: Option<PostalAddress>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub website: Option<String>,
    pub notes: Option<String>,
}

/// A field both sides changed since the last sync.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct FieldConflict {
    pub field: PartyField,
    pub salesforce_value: Option<String>,
    pub quickbooks_value: Option<String>,
    pub resolution: String,
}

impl FieldConflict {
    /// `email: Salesforce "a@x", QuickBooks "b@x"; <resolution>`.
    pub fn describe(&self) -> String {
        let shown = |v: &Option<String>| {
            v.as_deref()
                .map_or("(empty)".to_string(), |v| format!("{v:?}"))
        };
        format!(
            "{:?} changed on both sides: Salesforce {}, QuickBooks {}; {}",
            self.field,
            shown(&self.salesforce_value),
            shown(&self.quickbooks_value),
            self.resolution
        )
    }
}

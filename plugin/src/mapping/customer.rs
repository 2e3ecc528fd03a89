//! `map-customer`: QBO Customer -> Salesforce Account fields, including the QBO-owned ones.

use crate::model::{
    FieldConflict, FieldRule, MappingError, PartySnapshot, QboCustomer, SfAccount, SfField,
};
use serde::{Deserialize, Serialize};

/// Which Salesforce fields receive the QBO-owned values (API names; none = not synced).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct QboOwnedFields {
    pub payment_terms: Option<String>,
    pub tax_exempt: Option<String>,
    pub department: Option<String>,
    pub class: Option<String>,
}

/// Input of `map-customer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct CustomerInput {
    pub customer: QboCustomer,
    pub existing: Option<SfAccount>,
    pub last_synced: Option<PartySnapshot>,
    pub rules: Vec<FieldRule>,
    pub targets: QboOwnedFields,
    pub department_name: Option<String>,
    pub class_name: Option<String>,
    pub email_field: Option<String>,
}

/// What to do on the Salesforce side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum AccountChange {
    Create(Vec<SfField>),
    Update((String, Vec<SfField>)),
    Unchanged,
}

/// Output of `map-customer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct CustomerOutput {
    pub change: AccountChange,
    pub snapshot: PartySnapshot,
    pub conflicts: Vec<FieldConflict>,
}

/// Maps a QBO Customer to Salesforce Account field writes.
pub fn map_customer(input: &CustomerInput) -> Result<CustomerOutput, MappingError> {
    Err(MappingError::one(
        crate::model::ErrorKind::NotAvailable,
        input.customer.id.clone().unwrap_or_default(),
        "",
        "map-customer is not implemented yet",
    ))
}

//! `map-account`: Salesforce Account -> QBO Customer create or sparse update.

use crate::model::{
    FieldConflict, FieldRule, MappingError, PartyField, PartySnapshot, QboCustomer, SfAccount,
};
use serde::{Deserialize, Serialize};

/// Input of `map-account`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AccountInput {
    pub account: SfAccount,
    pub existing: Option<QboCustomer>,
    pub last_synced: Option<PartySnapshot>,
    pub rules: Vec<FieldRule>,
}

/// A sparse customer update: only `fields` changed, and only they are set in `customer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct CustomerUpdate {
    pub id: String,
    pub sync_token: String,
    pub fields: Vec<PartyField>,
    pub customer: QboCustomer,
}

/// What to do on the QBO side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum CustomerChange {
    Create(QboCustomer),
    Update(CustomerUpdate),
    Unchanged,
}

/// Output of `map-account`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AccountOutput {
    pub change: CustomerChange,
    pub snapshot: PartySnapshot,
    pub conflicts: Vec<FieldConflict>,
}

/// Maps a Salesforce Account to a QBO Customer change.
pub fn map_account(input: &AccountInput) -> Result<AccountOutput, MappingError> {
    Err(MappingError::one(
        crate::model::ErrorKind::NotAvailable,
        &input.account.id,
        "",
        "map-account is not implemented yet",
    ))
}

//! `map-product`: Product2 + PricebookEntry -> QBO Item create or sparse update.

use crate::model::{ItemType, MappingError, QboItem, Reference, SfPricebookEntry, SfProduct};
use serde::{Deserialize, Serialize};

/// How products become items.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct ItemSettings {
    pub income_account: Reference,
    pub default_type: ItemType,
    pub non_inventory_families: Vec<String>,
}

/// Input of `map-product`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct ProductInput {
    pub product: SfProduct,
    pub price: Option<SfPricebookEntry>,
    pub existing: Option<QboItem>,
    pub settings: ItemSettings,
}

/// A sparse item update.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct ItemUpdate {
    pub id: String,
    pub sync_token: String,
    pub fields: Vec<String>,
    pub item: QboItem,
}

/// What to do on the QBO side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum ItemChange {
    Create(QboItem),
    Update(ItemUpdate),
    Unchanged,
}

/// Maps a product and its price to a QBO Item change.
pub fn map_product(input: &ProductInput) -> Result<ItemChange, MappingError> {
    Err(MappingError::one(
        crate::model::ErrorKind::NotAvailable,
        &input.product.id,
        "",
        "map-product is not implemented yet",
    ))
}

//! `map-product`: Product2 + PricebookEntry -> QBO Item create or sparse update.
//!
//! Salesforce owns products: every mapped field follows it.
//!
//! | QBO field          | from                                                                 |
//! |--------------------|----------------------------------------------------------------------|
//! | `Name`             | `Product2.Name` by the QBO name rules: trimmed, whitespace collapsed, `:` -> `-`, 100 characters |
//! | `Sku`              | `ProductCode`, trimmed, 100 characters                               |
//! | `Description`      | `Description`, trimmed, 4000 characters                              |
//! | `UnitPrice`        | the PricebookEntry `UnitPrice`, exact; none without a price entry    |
//! | `Type`             | `NonInventory` when the family is listed (case-insensitive), else the default type |
//! | `IncomeAccountRef` | the configured income account                                        |
//! | `Active`           | `Product2.IsActive` and (when there is one) `PricebookEntry.IsActive` |
//!
//! **Create** (no `existing`): all of the above. **Update**: a sparse update of the fields that
//! differ, named by their QBO names in the order of the table, with `Id` and `SyncToken` from
//! `existing`; nothing differs -> `Unchanged`. Comparisons ignore cosmetic differences
//! (surrounding whitespace, `10.0` vs `10.00`, the income account's name next to its id). Rules
//! of the update:
//! - `Type` is never changed on an existing item: QBO refuses some type changes (an item with
//!   transactions, Inventory to anything) and a type change alters the books, so it is left to
//!   the bookkeeper; the existing type stays;
//! - no price entry means the price is unknown, not zero: the existing `UnitPrice` stays;
//! - a product code or description removed in Salesforce is cleared (sent as the empty string).
//!
//! The price entry's currency is not checked: an Item has one price, in the home currency, and
//! the flow picks the entry of the configured price book.
//!
//! **Refusals** (all collected, `invalid-input`, record `Product2 <Id>`): a name empty once
//! cleaned (`name`), a negative price (`price.unit-price`), an existing item without `Id` or
//! `SyncToken` (`existing.id`, `existing.sync-token`).

use crate::mapping::text::{limited, qbo_name};
use crate::model::{
    ErrorKind, FieldError, ItemType, MappingError, QboItem, Reference, SfPricebookEntry, SfProduct,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// QBO Item `Name`: at most 100 characters.
const ITEM_NAME_MAX: usize = 100;
/// QBO Item `Sku`: at most 100 characters.
const ITEM_SKU_MAX: usize = 100;
/// QBO Item `Description`: at most 4000 characters.
const ITEM_DESCRIPTION_MAX: usize = 4000;

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
    let product = &input.product;
    let record = format!("Product2 {}", product.id);
    let mut errors = Vec::new();
    let desired = desired_item(input);
    if desired.name.as_deref().is_none_or(str::is_empty) {
        errors.push(FieldError::new(
            &record,
            "name",
            "the product Name is empty once cleaned; a QuickBooks item needs a Name",
        ));
    }
    if let Some(price) = input
        .price
        .as_ref()
        .filter(|p| p.unit_price < Decimal::ZERO)
    {
        errors.push(FieldError::new(
            &record,
            "price.unit-price",
            format!(
                "the price {} is negative; a QuickBooks item price cannot be",
                price.unit_price
            ),
        ));
    }
    let change = match &input.existing {
        None => ItemChange::Create(desired),
        Some(existing) => update(existing, desired, &record, &mut errors),
    };
    if errors.is_empty() {
        Ok(change)
    } else {
        Err(MappingError::new(ErrorKind::InvalidInput, errors))
    }
}

/// QBO Item `Name`: the QBO name rules at 100 characters.
pub fn item_name(name: &str) -> String {
    qbo_name(name, ITEM_NAME_MAX)
}

/// `NonInventory` for the listed families (compared trimmed and case-insensitively), else the
/// default type.
pub fn item_type_for_family(family: Option<&str>, settings: &ItemSettings) -> ItemType {
    let family = family.map(|f| f.trim().to_lowercase());
    let listed = family.is_some_and(|family| {
        settings
            .non_inventory_families
            .iter()
            .any(|listed| listed.trim().to_lowercase() == family)
    });
    if listed {
        ItemType::NonInventory
    } else {
        settings.default_type
    }
}

/// Active only while the product and (when there is one) its price entry are.
pub fn item_is_active(product: &SfProduct, price: Option<&SfPricebookEntry>) -> bool {
    product.is_active && price.is_none_or(|price| price.is_active)
}

/// The item as Salesforce says it should be.
fn desired_item(input: &ProductInput) -> QboItem {
    let product = &input.product;
    QboItem {
        id: None,
        sync_token: None,
        name: Some(item_name(&product.name)),
        sku: limited(product.product_code.as_deref(), ITEM_SKU_MAX),
        description: limited(product.description.as_deref(), ITEM_DESCRIPTION_MAX),
        unit_price: input.price.as_ref().map(|p| p.unit_price),
        item_type: Some(item_type_for_family(
            product.family.as_deref(),
            &input.settings,
        )),
        income_account: Some(input.settings.income_account.clone()),
        active: Some(item_is_active(product, input.price.as_ref())),
    }
}

/// The sparse update of the fields that differ from `existing`.
fn update(
    existing: &QboItem,
    desired: QboItem,
    record: &str,
    errors: &mut Vec<FieldError>,
) -> ItemChange {
    let mut required = |value: &Option<String>, field: &str, qbo: &str| {
        let value = value
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_string();
        if value.is_empty() {
            errors.push(FieldError::new(
                record,
                field,
                format!("the QuickBooks item has no {qbo}; read it again before updating"),
            ));
        }
        value
    };
    let id = required(&existing.id, "existing.id", "Id");
    let sync_token = required(&existing.sync_token, "existing.sync-token", "SyncToken");
    let mut item = QboItem {
        id: Some(id.clone()),
        sync_token: Some(sync_token.clone()),
        ..Default::default()
    };
    let mut fields = Vec::new();
    let text_differs =
        |want: &Option<String>, have: &Option<String>, max| *want != limited(have.as_deref(), max);
    if text_differs(
        &desired.name,
        &existing.name.as_deref().map(item_name),
        ITEM_NAME_MAX,
    ) {
        item.name = desired.name;
        fields.push("Name");
    }
    if text_differs(&desired.sku, &existing.sku, ITEM_SKU_MAX) {
        item.sku = Some(desired.sku.unwrap_or_default());
        fields.push("Sku");
    }
    if text_differs(
        &desired.description,
        &existing.description,
        ITEM_DESCRIPTION_MAX,
    ) {
        item.description = Some(desired.description.unwrap_or_default());
        fields.push("Description");
    }
    // No price entry: the price is unknown, the existing one stays.
    if desired.unit_price.is_some() && desired.unit_price != existing.unit_price {
        item.unit_price = desired.unit_price;
        fields.push("UnitPrice");
    }
    // `Type` is never changed on an existing item (see the module docs).
    let account_id = |r: &Option<Reference>| r.as_ref().map(|r| r.value.trim().to_string());
    if account_id(&desired.income_account) != account_id(&existing.income_account) {
        item.income_account = desired.income_account;
        fields.push("IncomeAccountRef");
    }
    if desired.active != existing.active {
        item.active = desired.active;
        fields.push("Active");
    }
    if fields.is_empty() {
        ItemChange::Unchanged
    } else {
        ItemChange::Update(ItemUpdate {
            id,
            sync_token,
            fields: fields.into_iter().map(str::to_string).collect(),
            item,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn settings() -> ItemSettings {
        ItemSettings {
            income_account: Reference::named("79", "Sales of Product Income"),
            default_type: ItemType::Service,
            non_inventory_families: vec!["Hardware".into(), " Supplies ".into()],
        }
    }

    fn input() -> ProductInput {
        ProductInput {
            product: SfProduct {
                id: "01t5e000003AbCdAAK".into(),
                name: "Consulting Hour".into(),
                product_code: Some("CONS-1".into()),
                description: Some("One hour of consulting".into()),
                family: Some("Services".into()),
                is_active: true,
            },
            price: Some(SfPricebookEntry {
                id: "01u5e000001XyZaAAK".into(),
                unit_price: dec!(150.00),
                is_active: true,
                currency_code: Some("USD".into()),
            }),
            existing: None,
            settings: settings(),
        }
    }

    fn created(input: &ProductInput) -> QboItem {
        match map_product(input).unwrap() {
            ItemChange::Create(item) => item,
            other => panic!("create expected, got {other:?}"),
        }
    }

    /// The item QBO holds after our create.
    fn existing() -> QboItem {
        QboItem {
            id: Some("21".into()),
            sync_token: Some("0".into()),
            ..created(&input())
        }
    }

    fn with_existing(existing: QboItem) -> ProductInput {
        ProductInput {
            existing: Some(existing),
            ..input()
        }
    }

    fn update_fields(input: &ProductInput) -> Vec<String> {
        match map_product(input).unwrap() {
            ItemChange::Update(u) => u.fields,
            ItemChange::Unchanged => Vec::new(),
            other => panic!("update expected, got {other:?}"),
        }
    }

    #[test]
    fn create_maps_every_field() {
        let item = created(&input());
        assert_eq!(
            item,
            QboItem {
                id: None,
                sync_token: None,
                name: Some("Consulting Hour".into()),
                sku: Some("CONS-1".into()),
                description: Some("One hour of consulting".into()),
                unit_price: Some(dec!(150.00)),
                item_type: Some(ItemType::Service),
                income_account: Some(Reference::named("79", "Sales of Product Income")),
                active: Some(true),
            }
        );
    }

    #[test]
    fn item_name_colon_is_replaced_and_length_is_100_characters() {
        let mut i = input();
        i.product.name = format!("  Widget:  Pro {}", "ü".repeat(200));
        let name = created(&i).name.unwrap_or_default();
        assert!(name.starts_with("Widget- Pro üü"));
        assert_eq!(name.chars().count(), 100);
    }

    #[test]
    fn sku_and_description_are_limited() {
        let mut i = input();
        i.product.product_code = Some("K".repeat(150));
        i.product.description = Some("説".repeat(5000));
        let item = created(&i);
        assert_eq!(item.sku.map(|s| s.chars().count()), Some(100));
        assert_eq!(item.description.map(|s| s.chars().count()), Some(4000));
    }

    #[test]
    fn listed_family_is_non_inventory_case_insensitively() {
        let s = settings();
        assert_eq!(
            item_type_for_family(Some("hardware"), &s),
            ItemType::NonInventory
        );
        assert_eq!(
            item_type_for_family(Some("SUPPLIES "), &s),
            ItemType::NonInventory
        );
        assert_eq!(
            item_type_for_family(Some("Services"), &s),
            ItemType::Service
        );
        assert_eq!(item_type_for_family(None, &s), ItemType::Service);
    }

    #[test]
    fn inactive_product_or_price_makes_an_inactive_item() {
        let mut i = input();
        if let Some(p) = i.price.as_mut() {
            p.is_active = false;
        }
        assert_eq!(created(&i).active, Some(false));
        let mut i = input();
        i.product.is_active = false;
        assert_eq!(created(&i).active, Some(false));
    }

    #[test]
    fn missing_price_entry_leaves_the_price_unset() {
        let mut i = input();
        i.price = None;
        let item = created(&i);
        assert_eq!(item.unit_price, None);
        assert_eq!(item.active, Some(true));
        let mut i = with_existing(existing());
        i.price = None;
        assert!(update_fields(&i).is_empty());
    }

    #[test]
    fn missing_optional_fields_are_left_unset() {
        let mut i = input();
        i.product.product_code = None;
        i.product.description = Some("   ".into());
        i.product.family = None;
        let item = created(&i);
        assert_eq!((item.sku, item.description), (None, None));
    }

    #[test]
    fn negative_price_is_refused_on_price_unit_price() {
        let mut i = input();
        if let Some(p) = i.price.as_mut() {
            p.unit_price = dec!(-0.01);
        }
        i.product.name = " ".into();
        let err = map_product(&i).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "price.unit-price"]);
        assert!(err
            .errors
            .iter()
            .all(|e| e.record_id == "Product2 01t5e000003AbCdAAK"));
    }

    #[test]
    fn zero_price_is_allowed() {
        let mut i = input();
        if let Some(p) = i.price.as_mut() {
            p.unit_price = dec!(0);
        }
        assert_eq!(created(&i).unit_price, Some(dec!(0)));
    }

    #[test]
    fn echo_of_our_own_write_is_unchanged() {
        assert_eq!(
            map_product(&with_existing(existing())).unwrap(),
            ItemChange::Unchanged
        );
    }

    #[test]
    fn cosmetic_differences_do_not_cause_writes() {
        let mut e = existing();
        e.unit_price = Some(dec!(150.0));
        e.name = Some(" Consulting Hour ".into());
        e.income_account = Some(Reference::id("79"));
        assert_eq!(
            map_product(&with_existing(e)).unwrap(),
            ItemChange::Unchanged
        );
    }

    #[test]
    fn sparse_update_names_the_changed_qbo_fields_in_order() {
        let mut i = with_existing(existing());
        i.product.name = "Consulting Hour (Senior)".into();
        if let Some(p) = i.price.as_mut() {
            p.unit_price = dec!(175);
        }
        i.product.is_active = false;
        let ItemChange::Update(u) = map_product(&i).unwrap() else {
            panic!("update expected")
        };
        assert_eq!(u.fields, ["Name", "UnitPrice", "Active"]);
        assert_eq!((u.id.as_str(), u.sync_token.as_str()), ("21", "0"));
        assert_eq!(
            u.item,
            QboItem {
                id: Some("21".into()),
                sync_token: Some("0".into()),
                name: Some("Consulting Hour (Senior)".into()),
                unit_price: Some(dec!(175)),
                active: Some(false),
                ..Default::default()
            }
        );
    }

    #[test]
    fn existing_item_type_is_never_changed() {
        let mut i = with_existing(existing());
        i.product.family = Some("Hardware".into());
        assert_eq!(map_product(&i).unwrap(), ItemChange::Unchanged);
    }

    #[test]
    fn removed_product_code_clears_the_sku() {
        let mut i = with_existing(existing());
        i.product.product_code = None;
        let ItemChange::Update(u) = map_product(&i).unwrap() else {
            panic!("update expected")
        };
        assert_eq!(u.fields, ["Sku"]);
        assert_eq!(u.item.sku.as_deref(), Some(""));
    }

    #[test]
    fn changed_income_account_is_updated() {
        let mut i = with_existing(existing());
        i.settings.income_account = Reference::id("80");
        assert_eq!(update_fields(&i), ["IncomeAccountRef"]);
    }

    #[test]
    fn update_without_id_or_sync_token_is_refused() {
        let mut e = existing();
        e.id = None;
        e.sync_token = None;
        let err = map_product(&with_existing(e)).unwrap_err();
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["existing.id", "existing.sync-token"]);
    }

    #[test]
    fn fixtures_give_the_declared_outcome() {
        crate::mapping::fixtures::assert_declared_outcomes::<ProductInput, _>(
            "map-product",
            map_product,
        );
    }
}

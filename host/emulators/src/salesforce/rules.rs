//! The standard objects' built-in behaviour that the sync depends on:
//!
//! | object | rule |
//! |---|---|
//! | Opportunity | `IsClosed`/`IsWon` follow `StageName` (`Closed Won` → both true, `Closed Lost` → closed, not won); `Probability` and `ForecastCategoryName` default from the stage; `Amount` is the sum of the line items' `TotalPrice` while it has line items |
//! | OpportunityLineItem | give `UnitPrice` or `TotalPrice`, not both; `TotalPrice = Quantity × UnitPrice × (1 − Discount%)`; `ListPrice`, `Product2Id`, `ProductCode` come from the PricebookEntry; `Name` is "<opportunity name> <product name>"; the price book must match the opportunity's (set from the first line) |
//! | PricebookEntry | `Name`/`ProductCode` from the product; a custom price book needs a standard price first; one entry per product and price book |
//! | Order | created as `Draft` (status `Activated` only by a later update, and only with at least one item); `OrderNumber` auto-numbered; `TotalAmount` is the sum of the items; `AccountId` and items are frozen once activated |
//! | OrderItem | `TotalPrice = Quantity × UnitPrice`; `ListPrice`/`Product2Id` from the PricebookEntry; `OrderItemNumber` auto-numbered |
//! | Invoice, blng__Invoice__c | `DocumentNumber` (a Billing invoice's `Name`) auto-numbered `INV-0000000001` on create |
//! | Contact, User | `Name` = first + last name |
//! | OpportunityContactRole | one primary per opportunity: saving one with `IsPrimary` true clears it on the others (object reference: "Each Opportunity has only one primary contact") |
//! | multicurrency (`currency.rs`) | a line's PricebookEntry must be in its opportunity's / order's currency and the line takes that currency; an opportunity or order with lines keeps its currency; price book entries are per product, price book and currency |
//!
//! Money is `Decimal`, rounded half away from zero to 2 places.

use super::dml::Origin;
use super::errors::SfError;
use super::org::Org;
use super::schema::SObjectDef;
use super::store::Record;
use super::values::Val;
use rust_decimal::{Decimal, RoundingStrategy};
use std::collections::{BTreeMap, BTreeSet};

type Fields = BTreeMap<String, Val>;

fn money(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

fn range_error(field: &str) -> SfError {
    SfError::new(
        400,
        "NUMBER_OUTSIDE_VALID_RANGE",
        format!("{field}: value outside of valid range on numeric field"),
    )
    .with_fields(vec![field.to_string()])
}

fn mul(a: Decimal, b: Decimal, field: &str) -> Result<Decimal, SfError> {
    a.checked_mul(b).ok_or_else(|| range_error(field))
}

fn div(a: Decimal, b: Decimal, field: &str) -> Result<Decimal, SfError> {
    a.checked_div(b).ok_or_else(|| range_error(field))
}

fn sum(mut values: impl Iterator<Item = Decimal>, field: &str) -> Result<Decimal, SfError> {
    values.try_fold(Decimal::ZERO, |acc, v| {
        acc.checked_add(v).ok_or_else(|| range_error(field))
    })
}

fn text<'a>(f: &'a Fields, name: &str) -> Option<&'a str> {
    f.get(name).and_then(Val::as_text)
}

fn num(f: &Fields, name: &str) -> Option<Decimal> {
    f.get(name).and_then(Val::as_num)
}

/// Stage → (probability %, forecast category, closed, won).
pub fn stage_facts(stage: &str) -> (Decimal, &'static str, bool, bool) {
    let p = |n: i64| Decimal::new(n, 0);
    match stage.to_ascii_lowercase().as_str() {
        "prospecting" | "qualification" => (p(10), "Pipeline", false, false),
        "needs analysis" => (p(20), "Pipeline", false, false),
        "value proposition" => (p(50), "Pipeline", false, false),
        "id. decision makers" => (p(60), "Pipeline", false, false),
        "perception analysis" => (p(70), "Pipeline", false, false),
        "proposal/price quote" => (p(75), "Pipeline", false, false),
        "negotiation/review" => (p(90), "Pipeline", false, false),
        "closed won" => (p(100), "Closed", true, true),
        "closed lost" => (p(0), "Omitted", true, false),
        _ => (p(10), "Pipeline", false, false),
    }
}

/// Derivations and checks before a record is saved. `old` is the record before an update;
/// `given` the fields the client set in this write.
pub(crate) fn before_save(
    org: &mut Org,
    def: &SObjectDef,
    f: &mut Fields,
    old: Option<&Record>,
    given: &BTreeSet<String>,
) -> Result<(), SfError> {
    match def.name.as_str() {
        "Opportunity" => opportunity(org, f, old, given),
        "OpportunityLineItem" => line_item(org, f, old, given),
        "PricebookEntry" => pricebook_entry(org, f, old),
        "Order" => order(org, f, old, given),
        // Auto-numbered on create: the Invoice's DocumentNumber, a Billing invoice's Name.
        "Invoice" if old.is_none() => {
            let number = org.store.autonumber("Invoice.DocumentNumber", 1, 10);
            f.insert("DocumentNumber".into(), Val::Text(format!("INV-{number}")));
            Ok(())
        }
        "blng__Invoice__c" if old.is_none() => {
            let number = org.store.autonumber("blng__Invoice__c.Name", 1, 10);
            f.insert("Name".into(), Val::Text(format!("INV-{number}")));
            Ok(())
        }
        "OrderItem" => order_item(org, f, old, given),
        "CurrencyType" | "DatedConversionRate" => Err(currency_read_only()),
        "Contact" | "User" => {
            let name = [text(f, "FirstName"), text(f, "LastName")]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            f.insert("Name".into(), Val::Text(name));
            Ok(())
        }
        _ => Ok(()),
    }
}

fn opportunity(
    org: &Org,
    f: &mut Fields,
    old: Option<&Record>,
    given: &BTreeSet<String>,
) -> Result<(), SfError> {
    let stage = text(f, "StageName").unwrap_or_default().to_string();
    let (prob, forecast, closed, won) = stage_facts(&stage);
    let stage_changed = old.is_none_or(|o| o.get("StageName") != Val::Text(stage.clone()));
    if stage_changed && !given.contains("Probability") {
        f.insert("Probability".into(), Val::Num(prob));
    }
    if stage_changed && !given.contains("ForecastCategoryName") {
        f.insert("ForecastCategoryName".into(), Val::Text(forecast.into()));
    }
    f.insert("IsClosed".into(), Val::Bool(closed));
    f.insert("IsWon".into(), Val::Bool(won));
    if let Some(old) = old {
        let lines = org
            .store
            .children_of("OpportunityLineItem", "OpportunityId", &old.id)
            .count();
        f.insert("HasOpportunityLineItem".into(), Val::Bool(lines > 0));
        if lines > 0 {
            // Amount is a roll-up of the line items while there are any.
            let total = org
                .store
                .children_of("OpportunityLineItem", "OpportunityId", &old.id)
                .filter_map(|r| r.get("TotalPrice").as_num());
            f.insert("Amount".into(), Val::Num(money(sum(total, "Amount")?)));
        }
        if given.contains("Pricebook2Id")
            && lines > 0
            && f.get("Pricebook2Id") != old.fields.get("Pricebook2Id")
        {
            return Err(SfError::integrity(
                "field integrity exception: Pricebook2Id (can't change the price book of an opportunity with products)",
                vec!["Pricebook2Id".into()],
            ));
        }
        currency_frozen(f, old, given, lines, "opportunity")?;
    } else {
        f.insert("HasOpportunityLineItem".into(), Val::Bool(false));
    }
    match (num(f, "Amount"), num(f, "Probability")) {
        (Some(a), Some(p)) => f.insert(
            "ExpectedRevenue".into(),
            Val::Num(money(div(
                mul(a, p, "Amount")?,
                Decimal::ONE_HUNDRED,
                "Amount",
            )?)),
        ),
        _ => f.remove("ExpectedRevenue"),
    };
    Ok(())
}

/// In a multicurrency org, a parent with lines keeps its currency (approximation: the lines'
/// price book entries are in that currency).
fn currency_frozen(
    f: &Fields,
    old: &Record,
    given: &BTreeSet<String>,
    lines: usize,
    what: &str,
) -> Result<(), SfError> {
    if given.contains("CurrencyIsoCode")
        && lines > 0
        && f.get("CurrencyIsoCode") != old.fields.get("CurrencyIsoCode")
    {
        return Err(SfError::integrity(
            format!("field integrity exception: CurrencyIsoCode (can't change the currency of an {what} with products)"),
            vec!["CurrencyIsoCode".into()],
        ));
    }
    Ok(())
}

/// In a multicurrency org: the line's price book entry must be in the parent's currency
/// (`parent` names the parent in the message), and the line takes that currency.
fn line_currency(
    org: &Org,
    f: &mut Fields,
    parent: &Record,
    pbe: &Record,
    what: &str,
) -> Result<(), SfError> {
    if org.config.currencies.is_none() {
        return Ok(());
    }
    let code = parent.get("CurrencyIsoCode");
    if pbe.get("CurrencyIsoCode") != code {
        return Err(SfError::integrity(
            format!("field integrity exception: PricebookEntryId (pricebook entry currency code does not match {what} currency code)"),
            vec!["PricebookEntryId".into()],
        ));
    }
    f.insert("CurrencyIsoCode".into(), code);
    Ok(())
}

/// The live PricebookEntry `id` (fields), or a FIELD_INTEGRITY_EXCEPTION about `field`.
fn pricebook_entry_of(org: &Org, id: &str, field: &str) -> Result<Record, SfError> {
    let pbe = org
        .store
        .live("PricebookEntry", id)
        .cloned()
        .ok_or_else(|| {
            SfError::integrity(
                format!("field integrity exception: {field} (pricebook entry not found)"),
                vec![field.into()],
            )
        })?;
    if pbe.get("IsActive") != Val::Bool(true) {
        return Err(SfError::integrity(
            format!("field integrity exception: {field} (pricebook entry is inactive)"),
            vec![field.into()],
        ));
    }
    Ok(pbe)
}

fn line_item(
    org: &Org,
    f: &mut Fields,
    old: Option<&Record>,
    given: &BTreeSet<String>,
) -> Result<(), SfError> {
    let opp_id = text(f, "OpportunityId").unwrap_or_default().to_string();
    let opp = org
        .store
        .live("Opportunity", &opp_id)
        .cloned()
        .ok_or_else(|| {
            SfError::new(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
            )
            .with_fields(vec!["OpportunityId".into()])
        })?;
    if old.is_none() {
        let pbe_id = match text(f, "PricebookEntryId") {
            Some(id) => id.to_string(),
            None => {
                // Newer API versions accept Product2Id alone: the entry of the opportunity's
                // price book (or the standard one).
                let product = text(f, "Product2Id")
                    .ok_or_else(|| SfError::required_missing(vec!["PricebookEntryId".into()]))?;
                let book = opp
                    .get("Pricebook2Id")
                    .as_text()
                    .map(str::to_string)
                    .unwrap_or_else(|| org.standard_pricebook.clone());
                let multicurrency = org.config.currencies.is_some();
                org.store
                    .all("PricebookEntry")
                    .find(|r| {
                        r.deleted_at.is_none()
                            && r.get("Product2Id").as_text() == Some(product)
                            && r.get("Pricebook2Id").as_text() == Some(book.as_str())
                            && (!multicurrency
                                || r.get("CurrencyIsoCode") == opp.get("CurrencyIsoCode"))
                    })
                    .map(|r| r.id.clone())
                    .ok_or_else(|| {
                        SfError::integrity("field integrity exception: Product2Id (no pricebook entry for this product)", vec!["Product2Id".into()])
                    })?
            }
        };
        let pbe = pricebook_entry_of(org, &pbe_id, "PricebookEntryId")?;
        if let Some(book) = opp.get("Pricebook2Id").as_text() {
            if pbe.get("Pricebook2Id").as_text() != Some(book) {
                return Err(SfError::integrity(
                    "field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook than the one assigned to the opportunity)",
                    vec!["PricebookEntryId".into()],
                ));
            }
        }
        line_currency(org, f, &opp, &pbe, "opportunity")?;
        let product_id = pbe.get("Product2Id");
        if let Some(given_product) = text(f, "Product2Id") {
            if Some(given_product) != product_id.as_text() {
                return Err(SfError::integrity(
                    "field integrity exception: Product2Id (product does not match the pricebook entry)",
                    vec!["Product2Id".into()],
                ));
            }
        }
        let product = product_id
            .as_text()
            .and_then(|p| org.store.get("Product2", p))
            .cloned();
        f.insert("PricebookEntryId".into(), Val::Text(pbe.id.clone()));
        f.insert("Product2Id".into(), product_id);
        f.insert("ListPrice".into(), pbe.get("UnitPrice"));
        if let Some(p) = &product {
            f.insert("ProductCode".into(), p.get("ProductCode"));
            let name = format!(
                "{} {}",
                opp.get("Name").as_text().unwrap_or_default(),
                p.get("Name").as_text().unwrap_or_default()
            );
            f.insert("Name".into(), Val::Text(name.chars().take(376).collect()));
        }
    }
    if given.contains("UnitPrice")
        && given.contains("TotalPrice")
        && !f.get("TotalPrice").is_none_or(Val::is_null)
    {
        return Err(SfError::integrity(
            "field integrity exception: TotalPrice (cannot specify both unit price and total price)",
            vec!["TotalPrice".into(), "UnitPrice".into()],
        ));
    }
    let qty = num(f, "Quantity").unwrap_or_default();
    if qty.is_zero() {
        return Err(SfError::integrity(
            "field integrity exception: Quantity (quantity must be nonzero)",
            vec!["Quantity".into()],
        ));
    }
    let discount = num(f, "Discount").unwrap_or_default();
    if discount < Decimal::ZERO || discount > Decimal::ONE_HUNDRED {
        return Err(range_error("Discount"));
    }
    let discount_factor = Decimal::ONE - discount / Decimal::ONE_HUNDRED;
    if given.contains("TotalPrice") && num(f, "TotalPrice").is_some() {
        let total = num(f, "TotalPrice").unwrap_or_default();
        let denom = mul(qty, discount_factor, "Quantity")?;
        if denom.is_zero() {
            return Err(SfError::integrity(
                "field integrity exception: TotalPrice (discount is 100%)",
                vec!["TotalPrice".into()],
            ));
        }
        f.insert(
            "UnitPrice".into(),
            Val::Num(money(div(total, denom, "TotalPrice")?)),
        );
        f.insert("TotalPrice".into(), Val::Num(money(total)));
    } else {
        let unit = num(f, "UnitPrice")
            .ok_or_else(|| SfError::required_missing(vec!["UnitPrice".into()]))?;
        f.insert(
            "TotalPrice".into(),
            Val::Num(money(mul(
                mul(qty, unit, "TotalPrice")?,
                discount_factor,
                "TotalPrice",
            )?)),
        );
    }
    let unit = num(f, "UnitPrice").unwrap_or_default();
    f.insert(
        "Subtotal".into(),
        Val::Num(money(mul(qty, unit, "Subtotal")?)),
    );
    Ok(())
}

fn pricebook_entry(org: &Org, f: &mut Fields, old: Option<&Record>) -> Result<(), SfError> {
    if old.is_some() {
        return Ok(());
    }
    let product_id = text(f, "Product2Id").unwrap_or_default().to_string();
    let book = text(f, "Pricebook2Id").unwrap_or_default().to_string();
    // In a multicurrency org a product has one entry per price book and currency.
    let currency = f.get("CurrencyIsoCode").cloned().unwrap_or(Val::Null);
    let existing = |book: &str| {
        org.store.all("PricebookEntry").any(|r| {
            r.deleted_at.is_none()
                && r.get("Product2Id").as_text() == Some(&product_id)
                && r.get("Pricebook2Id").as_text() == Some(book)
                && r.get("CurrencyIsoCode") == currency
        })
    };
    if existing(&book) {
        return Err(SfError::new(
            400,
            "DUPLICATE_VALUE",
            "This price definition already exists in this price book",
        )
        .with_fields(vec!["Product2Id".into(), "Pricebook2Id".into()]));
    }
    if book != org.standard_pricebook && !existing(&org.standard_pricebook) {
        return Err(SfError::new(
            400,
            "STANDARD_PRICE_NOT_DEFINED",
            "No standard price defined for this product",
        )
        .with_fields(vec!["Product2Id".into()]));
    }
    if let Some(p) = org.store.get("Product2", &product_id) {
        f.insert("Name".into(), p.get("Name"));
        f.insert("ProductCode".into(), p.get("ProductCode"));
    }
    Ok(())
}

fn order(
    org: &mut Org,
    f: &mut Fields,
    old: Option<&Record>,
    given: &BTreeSet<String>,
) -> Result<(), SfError> {
    let status = text(f, "Status").unwrap_or("Draft").to_string();
    let activated = status.eq_ignore_ascii_case("Activated");
    match old {
        None => {
            if !status.eq_ignore_ascii_case("Draft") {
                return Err(SfError::integrity(
                    "You can't create an order with a status other than Draft. Create it as Draft, then activate it.",
                    vec!["Status".into()],
                ));
            }
            f.insert("Status".into(), Val::Text("Draft".into()));
            f.insert("StatusCode".into(), Val::Text("Draft".into()));
            f.insert("TotalAmount".into(), Val::Num(Decimal::ZERO));
            let number = org.store.autonumber("Order.OrderNumber", 100, 8);
            f.insert("OrderNumber".into(), Val::Text(number));
        }
        Some(old) => {
            let was_activated = old.get("StatusCode") == Val::Text("Activated".into());
            let items = org
                .store
                .children_of("OrderItem", "OrderId", &old.id)
                .count();
            if was_activated
                && given.contains("AccountId")
                && f.get("AccountId") != old.fields.get("AccountId")
            {
                return Err(SfError::integrity(
                    "You can't change the account of an activated order.",
                    vec!["AccountId".into()],
                ));
            }
            if given.contains("Pricebook2Id")
                && items > 0
                && f.get("Pricebook2Id") != old.fields.get("Pricebook2Id")
            {
                return Err(SfError::integrity(
                    "field integrity exception: Pricebook2Id (can't change the price book of an order with products)",
                    vec!["Pricebook2Id".into()],
                ));
            }
            currency_frozen(f, old, given, items, "order")?;
            if activated && !was_activated {
                if items == 0 {
                    return Err(SfError::new(
                        400,
                        "VALIDATION_ERROR",
                        "You can't activate this order because it has no order products.",
                    )
                    .with_fields(vec!["Status".into()]));
                }
                f.insert("ActivatedDate".into(), Val::DateTime(org.now));
            }
            f.insert(
                "StatusCode".into(),
                Val::Text(if activated { "Activated" } else { "Draft" }.into()),
            );
            if !activated {
                f.remove("ActivatedDate");
            }
        }
    }
    Ok(())
}

fn order_item(
    org: &mut Org,
    f: &mut Fields,
    old: Option<&Record>,
    given: &BTreeSet<String>,
) -> Result<(), SfError> {
    let order_id = text(f, "OrderId").unwrap_or_default().to_string();
    let order = org.store.live("Order", &order_id).cloned().ok_or_else(|| {
        SfError::new(
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            "invalid cross reference id",
        )
        .with_fields(vec!["OrderId".into()])
    })?;
    if order.get("StatusCode") == Val::Text("Activated".into())
        && (old.is_none() || !given.is_empty())
    {
        return Err(SfError::integrity(
            "You can't add or change products on an activated order. Deactivate the order first.",
            vec!["OrderId".into()],
        ));
    }
    if old.is_none() {
        let pbe_id = text(f, "PricebookEntryId").unwrap_or_default().to_string();
        let pbe = pricebook_entry_of(org, &pbe_id, "PricebookEntryId")?;
        if let Some(book) = order.get("Pricebook2Id").as_text() {
            if pbe.get("Pricebook2Id").as_text() != Some(book) {
                return Err(SfError::integrity(
                    "field integrity exception: PricebookEntryId (pricebook entry is in a different pricebook than the one assigned to the order)",
                    vec!["PricebookEntryId".into()],
                ));
            }
        }
        line_currency(org, f, &order, &pbe, "order")?;
        f.insert("Product2Id".into(), pbe.get("Product2Id"));
        f.insert("ListPrice".into(), pbe.get("UnitPrice"));
        let number = org.store.autonumber("OrderItem.OrderItemNumber", 1, 10);
        f.insert("OrderItemNumber".into(), Val::Text(number));
    }
    let qty = num(f, "Quantity").unwrap_or_default();
    let unit = num(f, "UnitPrice").unwrap_or_default();
    f.insert(
        "TotalPrice".into(),
        Val::Num(money(mul(qty, unit, "TotalPrice")?)),
    );
    Ok(())
}

/// The integration user cannot change the org's currencies (it lacks "Customize Application";
/// approximation of the answer).
fn currency_read_only() -> SfError {
    SfError::new(
        400,
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "insufficient access rights on object id",
    )
}

/// Checks before a delete.
pub(crate) fn before_delete(org: &Org, def: &SObjectDef, record: &Record) -> Result<(), SfError> {
    let activated = |order_id: &str| {
        org.store
            .live("Order", order_id)
            .is_some_and(|o| o.get("StatusCode") == Val::Text("Activated".into()))
    };
    match def.name.as_str() {
        "Order" if activated(&record.id) => Err(SfError::new(
            400,
            "DELETE_FAILED",
            "You can't delete an activated order. Deactivate it first.",
        )),
        "OrderItem" if record.get("OrderId").as_text().is_some_and(activated) => Err(SfError::new(
            400,
            "DELETE_FAILED",
            "You can't delete products from an activated order.",
        )),
        "CurrencyType" | "DatedConversionRate" => Err(currency_read_only()),
        "Pricebook2" if record.id == org.standard_pricebook => Err(SfError::new(
            400,
            "DELETE_FAILED",
            "You can't delete the standard price book.",
        )),
        _ => Ok(()),
    }
}

/// Roll-ups and parent updates after a record was written.
pub(crate) fn after_write(
    org: &mut Org,
    def: &SObjectDef,
    record: &Record,
    _old: Option<&Record>,
    origin: &Origin,
) -> Result<(), SfError> {
    match def.name.as_str() {
        "OpportunityLineItem" => {
            if let Some(opp) = record.get("OpportunityId").as_text() {
                let book = record
                    .get("PricebookEntryId")
                    .as_text()
                    .and_then(|p| org.store.get("PricebookEntry", p))
                    .map(|p| p.get("Pricebook2Id"));
                roll_up_opportunity(org, opp, book, origin);
            }
        }
        "OrderItem" => {
            if let Some(order) = record.get("OrderId").as_text() {
                let book = record
                    .get("PricebookEntryId")
                    .as_text()
                    .and_then(|p| org.store.get("PricebookEntry", p))
                    .map(|p| p.get("Pricebook2Id"));
                roll_up_order(org, order, book, origin);
            }
        }
        "OpportunityContactRole" => one_primary_contact_role(org, record, origin),
        _ => {}
    }
    Ok(())
}

/// Each opportunity has one primary contact role: a role saved as primary unsets the others.
fn one_primary_contact_role(org: &mut Org, record: &Record, origin: &Origin) {
    if record.get("IsPrimary") != Val::Bool(true) {
        return;
    }
    let Some(opp) = record.get("OpportunityId").as_text().map(str::to_string) else {
        return;
    };
    let others: Vec<String> = org
        .store
        .children_of("OpportunityContactRole", "OpportunityId", &opp)
        .filter(|r| r.id != record.id && r.get("IsPrimary") == Val::Bool(true))
        .map(|r| r.id.clone())
        .collect();
    for id in others {
        let mut changes = BTreeMap::new();
        changes.insert("IsPrimary".to_string(), Val::Bool(false));
        org.system_update("OpportunityContactRole", &id, changes, origin);
    }
}

/// Roll-ups after a delete.
pub(crate) fn after_delete(org: &mut Org, def: &SObjectDef, record: &Record, origin: &Origin) {
    match def.name.as_str() {
        "OpportunityLineItem" => {
            if let Some(opp) = record.get("OpportunityId").as_text() {
                roll_up_opportunity(org, opp, None, origin);
            }
        }
        "OrderItem" => {
            if let Some(order) = record.get("OrderId").as_text() {
                roll_up_order(org, order, None, origin);
            }
        }
        _ => {}
    }
}

fn roll_up_opportunity(org: &mut Org, opp_id: &str, book: Option<Val>, origin: &Origin) {
    let Some(opp) = org.store.live("Opportunity", opp_id).cloned() else {
        return;
    };
    let totals: Vec<Decimal> = org
        .store
        .children_of("OpportunityLineItem", "OpportunityId", opp_id)
        .filter_map(|r| r.get("TotalPrice").as_num())
        .collect();
    let has_lines = !totals.is_empty();
    // Line totals are validated on write; a sum that overflows keeps the previous Amount.
    let Ok(amount) = sum(totals.into_iter(), "Amount") else {
        return;
    };
    let mut changes = BTreeMap::new();
    changes.insert("HasOpportunityLineItem".to_string(), Val::Bool(has_lines));
    if has_lines {
        let amount = money(amount);
        changes.insert("Amount".into(), Val::Num(amount));
        if let Some(p) = opp.get("Probability").as_num() {
            if let Ok(expected) =
                mul(amount, p, "Amount").and_then(|x| div(x, Decimal::ONE_HUNDRED, "Amount"))
            {
                changes.insert("ExpectedRevenue".into(), Val::Num(money(expected)));
            }
        }
    }
    if let (Val::Null, Some(book)) = (opp.get("Pricebook2Id"), book) {
        changes.insert("Pricebook2Id".into(), book);
    }
    org.system_update("Opportunity", opp_id, changes, origin);
}

fn roll_up_order(org: &mut Org, order_id: &str, book: Option<Val>, origin: &Origin) {
    let Some(order) = org.store.live("Order", order_id).cloned() else {
        return;
    };
    let Ok(total) = sum(
        org.store
            .children_of("OrderItem", "OrderId", order_id)
            .filter_map(|r| r.get("TotalPrice").as_num()),
        "TotalAmount",
    ) else {
        return;
    };
    let mut changes = BTreeMap::new();
    changes.insert("TotalAmount".to_string(), Val::Num(money(total)));
    if let (Val::Null, Some(book)) = (order.get("Pricebook2Id"), book) {
        changes.insert("Pricebook2Id".into(), book);
    }
    org.system_update("Order", order_id, changes, origin);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_won_is_closed_and_won_closed_lost_is_only_closed() {
        assert_eq!(
            stage_facts("Closed Won").2..=stage_facts("Closed Won").3,
            true..=true
        );
        let lost = stage_facts("Closed Lost");
        assert!(lost.2 && !lost.3);
        let open = stage_facts("Prospecting");
        assert!(!open.2 && !open.3);
    }
}

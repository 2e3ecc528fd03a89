//! Salesforce JSON -> the model: Account, Opportunity with its line items, Product2,
//! PricebookEntry, Order with its items. The SOQL field lists are here too, next to what reads
//! them.

use super::json::{date, flag, money, non_empty, text};
use crate::model::{
    PostalAddress, SfAccount, SfOpportunity, SfOpportunityLine, SfOrder, SfOrderItem,
    SfPricebookEntry, SfProduct,
};
use serde_json::Value;

/// Account fields read.
pub const ACCOUNT_FIELDS: &str = "Id, Name, BillingStreet, BillingCity, BillingState, \
    BillingPostalCode, BillingCountry, ShippingStreet, ShippingCity, ShippingState, \
    ShippingPostalCode, ShippingCountry, Email__c, Phone, Website, Description, \
    QBO_Customer_Id__c, Payment_Terms__c, Tax_Exempt__c, QBO_Department__c, QBO_Class__c, \
    SystemModstamp";

/// Opportunity fields read, with its line items.
pub const OPPORTUNITY_FIELDS: &str = "Id, Name, AccountId, StageName, CloseDate, Amount, IsWon, \
    IsClosed, Description, QBO_Invoice_Id__c, QBO_Invoice_Number__c, Payment_Status__c, \
    SystemModstamp";

/// Line item fields read (the `OpportunityLineItems` subquery).
pub const OPPORTUNITY_LINE_FIELDS: &str = "Id, Product2Id, ProductCode, Name, Description, \
    Quantity, UnitPrice, TotalPrice, Discount, ServiceDate, SortOrder";

/// The Opportunity field list with `extra` fields (parent paths such as `Account.Email__c`
/// allowed), the line items with `line_extra`, and `subqueries` (other child relationships).
pub fn opportunity_select(
    extra: &[String],
    line_extra: &[String],
    subqueries: &[String],
) -> String {
    let mut fields = OPPORTUNITY_FIELDS.to_string();
    for f in extra {
        fields.push_str(", ");
        fields.push_str(f);
    }
    let mut lines = OPPORTUNITY_LINE_FIELDS.to_string();
    for f in line_extra {
        lines.push_str(", ");
        lines.push_str(f);
    }
    fields.push_str(&format!(", (SELECT {lines} FROM OpportunityLineItems)"));
    for q in subqueries {
        fields.push_str(&format!(", ({q})"));
    }
    fields
}

/// The value at a dotted path (`Account.Email__c`, `Product2.Family`) of a record, as the REST
/// API nests parent records; `None` when a part is missing or null.
pub fn at_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |v, part| v.get(part))
        .filter(|v| !v.is_null())
}

/// The records of a child relationship (`OpportunityContactRoles`).
pub fn child_records<'a>(value: &'a Value, relationship: &str) -> impl Iterator<Item = &'a Value> {
    children(value, relationship)
}

/// The Opportunity fields a notification names it by: the deal, its owner, its invoice.
pub const OPPORTUNITY_NOTICE_FIELDS: &str =
    "Id, Name, Owner.Name, Owner.Email, QBO_Invoice_Id__c, QBO_Invoice_Number__c";

/// An Opportunity as a notification names it ([`OPPORTUNITY_NOTICE_FIELDS`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NoticeOpportunity {
    /// Its Id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// Its owner's name.
    pub owner_name: Option<String>,
    /// Its owner's email.
    pub owner_email: Option<String>,
    /// The invoice Ledgerlink created for it.
    pub invoice_id: Option<String>,
    /// That invoice's DocNumber.
    pub invoice_number: Option<String>,
}

/// An Opportunity read with [`OPPORTUNITY_NOTICE_FIELDS`].
pub fn notice_opportunity(value: &Value) -> Option<NoticeOpportunity> {
    let owner = value.get("Owner").unwrap_or(&Value::Null);
    Some(NoticeOpportunity {
        id: non_empty(value, "Id")?,
        name: non_empty(value, "Name"),
        owner_name: non_empty(owner, "Name"),
        owner_email: non_empty(owner, "Email"),
        invoice_id: non_empty(value, "QBO_Invoice_Id__c"),
        invoice_number: non_empty(value, "QBO_Invoice_Number__c"),
    })
}

/// Product fields read.
pub const PRODUCT_FIELDS: &str = "Id, Name, ProductCode, Description, Family, IsActive, \
    QBO_Item_Id__c, SystemModstamp, (SELECT Id, UnitPrice, IsActive FROM PricebookEntries)";

/// Order fields read, with items and their products.
pub const ORDER_FIELDS: &str = "Id, OrderNumber, AccountId, EffectiveDate, Status, TotalAmount, \
    QBO_Journal_Entry_Id__c, SystemModstamp, (SELECT Id, Product2Id, Product2.ProductCode, \
    Product2.Family, Description, Quantity, UnitPrice, TotalPrice FROM OrderItems)";

fn address(value: &Value, prefix: &str) -> Option<PostalAddress> {
    let field = |f: &str| non_empty(value, &format!("{prefix}{f}"));
    let a = PostalAddress {
        lines: field("Street")
            .map(|s| {
                s.lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        city: field("City"),
        region: field("State"),
        postal_code: field("PostalCode"),
        country: field("Country"),
    };
    (a != PostalAddress::default()).then_some(a)
}

fn children<'a>(value: &'a Value, relationship: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(relationship)
        .and_then(|r| r.get("records"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// An Account.
pub fn account(value: &Value) -> Option<SfAccount> {
    Some(SfAccount {
        id: text(value, "Id")?,
        name: text(value, "Name").unwrap_or_default(),
        billing_address: address(value, "Billing"),
        shipping_address: address(value, "Shipping"),
        email: non_empty(value, "Email__c"),
        phone: non_empty(value, "Phone"),
        website: non_empty(value, "Website"),
        description: non_empty(value, "Description"),
        qbo_customer_id: non_empty(value, "QBO_Customer_Id__c"),
        payment_terms: non_empty(value, "Payment_Terms__c"),
        tax_exempt: flag(value, "Tax_Exempt__c"),
        department: non_empty(value, "QBO_Department__c"),
        class: non_empty(value, "QBO_Class__c"),
        system_modstamp: text(value, "SystemModstamp"),
    })
}

/// An Opportunity with its line items; `Err` names the first missing required field.
pub fn opportunity(value: &Value) -> Result<SfOpportunity, String> {
    let id = text(value, "Id").ok_or("Id is missing")?;
    let lines = children(value, "OpportunityLineItems")
        .map(|l| {
            let line_id = text(l, "Id").unwrap_or_default();
            Ok(SfOpportunityLine {
                quantity: money(l, "Quantity")
                    .ok_or_else(|| format!("OpportunityLineItem {line_id}: Quantity is missing"))?,
                unit_price: money(l, "UnitPrice").ok_or_else(|| {
                    format!("OpportunityLineItem {line_id}: UnitPrice is missing")
                })?,
                total_price: money(l, "TotalPrice"),
                discount_percent: money(l, "Discount"),
                product_id: non_empty(l, "Product2Id"),
                product_code: non_empty(l, "ProductCode"),
                name: non_empty(l, "Name"),
                description: non_empty(l, "Description"),
                service_date: date(l, "ServiceDate"),
                sort_order: l
                    .get("SortOrder")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok()),
                id: line_id,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(SfOpportunity {
        name: text(value, "Name").unwrap_or_default(),
        account_id: non_empty(value, "AccountId"),
        stage_name: text(value, "StageName").unwrap_or_default(),
        close_date: date(value, "CloseDate")
            .ok_or_else(|| format!("Opportunity {id}: CloseDate is missing or not a date"))?,
        amount: money(value, "Amount"),
        is_won: flag(value, "IsWon").unwrap_or(false),
        is_closed: flag(value, "IsClosed").unwrap_or(false),
        currency_code: non_empty(value, "CurrencyIsoCode"),
        description: non_empty(value, "Description"),
        qbo_invoice_id: non_empty(value, "QBO_Invoice_Id__c"),
        system_modstamp: text(value, "SystemModstamp"),
        line_items: lines,
        id,
    })
}

/// A Product2 and its first active price book entry.
pub fn product(value: &Value) -> Option<(SfProduct, Option<SfPricebookEntry>)> {
    let product = SfProduct {
        id: text(value, "Id")?,
        name: text(value, "Name").unwrap_or_default(),
        product_code: non_empty(value, "ProductCode"),
        description: non_empty(value, "Description"),
        family: non_empty(value, "Family"),
        is_active: flag(value, "IsActive").unwrap_or(true),
    };
    let price = children(value, "PricebookEntries").find_map(|p| {
        Some(SfPricebookEntry {
            id: text(p, "Id")?,
            unit_price: money(p, "UnitPrice")?,
            is_active: flag(p, "IsActive").unwrap_or(true),
            currency_code: non_empty(p, "CurrencyIsoCode"),
        })
    });
    Some((product, price))
}

/// An Order with its items; `Err` names the first missing required field.
pub fn order(value: &Value) -> Result<SfOrder, String> {
    let id = text(value, "Id").ok_or("Id is missing")?;
    let items = children(value, "OrderItems")
        .map(|i| {
            let item_id = text(i, "Id").unwrap_or_default();
            let product = i.get("Product2").cloned().unwrap_or(Value::Null);
            Ok(SfOrderItem {
                product_id: non_empty(i, "Product2Id"),
                product_code: non_empty(&product, "ProductCode"),
                product_family: non_empty(&product, "Family"),
                description: non_empty(i, "Description"),
                quantity: money(i, "Quantity")
                    .ok_or_else(|| format!("OrderItem {item_id}: Quantity is missing"))?,
                unit_price: money(i, "UnitPrice")
                    .ok_or_else(|| format!("OrderItem {item_id}: UnitPrice is missing"))?,
                total_price: money(i, "TotalPrice"),
                id: item_id,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(SfOrder {
        order_number: non_empty(value, "OrderNumber"),
        account_id: non_empty(value, "AccountId"),
        effective_date: date(value, "EffectiveDate")
            .ok_or_else(|| format!("Order {id}: EffectiveDate is missing"))?,
        status: text(value, "Status").unwrap_or_default(),
        total_amount: money(value, "TotalAmount"),
        items,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_opportunity_with_lines_parses_and_a_bad_line_is_named() {
        let v = json!({"Id": "006A", "Name": "Deal", "AccountId": "001A", "StageName": "Closed Won",
            "CloseDate": "2026-03-01", "IsWon": true, "IsClosed": true, "Amount": 300,
            "OpportunityLineItems": {"totalSize": 1, "done": true, "records": [
                {"Id": "00kA", "Quantity": 3, "UnitPrice": 100, "Product2Id": "01tA"}]}});
        let o = opportunity(&v).unwrap();
        assert_eq!(o.line_items.len(), 1);
        assert!(o.is_won);
        let mut bad = v.clone();
        bad["OpportunityLineItems"]["records"][0]["Quantity"] = Value::Null;
        assert!(opportunity(&bad).unwrap_err().contains("00kA: Quantity"));
    }

    #[test]
    fn street_lines_split_on_newlines() {
        let a = account(&json!({"Id": "001", "Name": "A", "BillingStreet": "1 Main\nSuite 2"}))
            .unwrap();
        assert_eq!(a.billing_address.unwrap().lines, vec!["1 Main", "Suite 2"]);
    }
}

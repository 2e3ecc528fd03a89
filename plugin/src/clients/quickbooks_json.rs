//! QBO JSON <-> the model: Customer, Item, Invoice, Payment, JournalEntry. Money goes through
//! [`super::json`], never a float.

use super::json::{date, decimal, flag, money, non_empty, number, put, text};
use crate::model::{
    ItemType, JournalLine, PaymentLine, PaymentState, PostalAddress, PostingType, QboCustomer,
    QboInvoice, QboItem, QboJournalEntry, QboPayment, Reference,
};
use serde_json::{json, Map, Value};

/// A reference `{"value", "name"}`.
pub fn reference(value: &Value, key: &str) -> Option<Reference> {
    let r = value.get(key)?;
    Some(Reference {
        value: text(r, "value")?,
        name: text(r, "name"),
    })
}

fn reference_json(r: &Reference) -> Value {
    let mut m = Map::new();
    m.insert("value".into(), json!(r.value));
    put(&mut m, "name", r.name.clone());
    Value::Object(m)
}

fn address(value: &Value, key: &str) -> Option<PostalAddress> {
    let a = value.get(key)?;
    let lines: Vec<String> = (1..=5)
        .filter_map(|i| non_empty(a, &format!("Line{i}")))
        .collect();
    let addr = PostalAddress {
        lines,
        city: non_empty(a, "City"),
        region: non_empty(a, "CountrySubDivisionCode"),
        postal_code: non_empty(a, "PostalCode"),
        country: non_empty(a, "Country"),
    };
    (addr != PostalAddress::default()).then_some(addr)
}

fn address_json(a: &PostalAddress) -> Value {
    let mut m = Map::new();
    for (i, line) in a.lines.iter().take(5).enumerate() {
        m.insert(format!("Line{}", i + 1), json!(line));
    }
    // A cleared address is sent as empty strings: a sparse update ignores absent fields.
    m.insert("City".into(), json!(a.city.clone().unwrap_or_default()));
    m.insert(
        "CountrySubDivisionCode".into(),
        json!(a.region.clone().unwrap_or_default()),
    );
    m.insert(
        "PostalCode".into(),
        json!(a.postal_code.clone().unwrap_or_default()),
    );
    m.insert(
        "Country".into(),
        json!(a.country.clone().unwrap_or_default()),
    );
    Value::Object(m)
}

/// The note Ledgerlink writes on customers it links, carrying the Salesforce Id.
pub const SALESFORCE_ID_NOTE: &str = "Salesforce Id: ";

/// A QBO Customer.
pub fn customer(value: &Value) -> QboCustomer {
    let notes = text(value, "Notes");
    let salesforce_id = notes.as_deref().and_then(|n| {
        n.find(SALESFORCE_ID_NOTE).map(|at| {
            n[at + SALESFORCE_ID_NOTE.len()..]
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
    });
    QboCustomer {
        id: text(value, "Id"),
        sync_token: text(value, "SyncToken"),
        display_name: text(value, "DisplayName"),
        company_name: text(value, "CompanyName"),
        bill_addr: address(value, "BillAddr"),
        ship_addr: address(value, "ShipAddr"),
        email: value
            .get("PrimaryEmailAddr")
            .and_then(|e| non_empty(e, "Address")),
        phone: value
            .get("PrimaryPhone")
            .and_then(|e| non_empty(e, "FreeFormNumber")),
        website: value.get("WebAddr").and_then(|e| non_empty(e, "URI")),
        notes,
        active: flag(value, "Active"),
        sales_term: reference(value, "SalesTermRef"),
        taxable: flag(value, "Taxable"),
        default_tax_code: reference(value, "DefaultTaxCodeRef"),
        resale_num: text(value, "ResaleNum"),
        balance: money(value, "Balance"),
        salesforce_id: salesforce_id.filter(|s| !s.is_empty()),
    }
}

/// The JSON of a customer create or (with `sparse`) a sparse update: only the set fields.
pub fn customer_json(c: &QboCustomer, sparse: bool) -> Value {
    let mut m = Map::new();
    put(&mut m, "Id", c.id.clone());
    put(&mut m, "SyncToken", c.sync_token.clone());
    if sparse {
        m.insert("sparse".into(), json!(true));
    }
    put(&mut m, "DisplayName", c.display_name.clone());
    put(&mut m, "CompanyName", c.company_name.clone());
    put(&mut m, "BillAddr", c.bill_addr.as_ref().map(address_json));
    put(&mut m, "ShipAddr", c.ship_addr.as_ref().map(address_json));
    put(
        &mut m,
        "PrimaryEmailAddr",
        c.email.as_ref().map(|e| json!({"Address": e})),
    );
    put(
        &mut m,
        "PrimaryPhone",
        c.phone.as_ref().map(|p| json!({"FreeFormNumber": p})),
    );
    put(
        &mut m,
        "WebAddr",
        c.website.as_ref().map(|w| json!({"URI": w})),
    );
    let notes = match (&c.notes, &c.salesforce_id) {
        (Some(n), Some(id)) if !n.contains(SALESFORCE_ID_NOTE) => {
            Some(format!("{n}\n{SALESFORCE_ID_NOTE}{id}"))
        }
        (Some(n), _) => Some(n.clone()),
        (None, Some(id)) if !sparse => Some(format!("{SALESFORCE_ID_NOTE}{id}")),
        (None, _) => None,
    };
    put(&mut m, "Notes", notes);
    put(&mut m, "Active", c.active);
    put(
        &mut m,
        "SalesTermRef",
        c.sales_term.as_ref().map(reference_json),
    );
    put(&mut m, "Taxable", c.taxable);
    put(
        &mut m,
        "DefaultTaxCodeRef",
        c.default_tax_code.as_ref().map(reference_json),
    );
    put(&mut m, "ResaleNum", c.resale_num.clone());
    Value::Object(m)
}

/// A QBO Item.
pub fn item(value: &Value) -> QboItem {
    QboItem {
        id: text(value, "Id"),
        sync_token: text(value, "SyncToken"),
        name: text(value, "Name"),
        sku: non_empty(value, "Sku"),
        description: text(value, "Description"),
        unit_price: money(value, "UnitPrice"),
        item_type: match text(value, "Type").as_deref() {
            Some("Service") => Some(ItemType::Service),
            Some("NonInventory") => Some(ItemType::NonInventory),
            _ => None,
        },
        income_account: reference(value, "IncomeAccountRef"),
        active: flag(value, "Active"),
    }
}

/// The JSON of an item create or sparse update.
pub fn item_json(i: &QboItem, sparse: bool) -> Value {
    let mut m = Map::new();
    put(&mut m, "Id", i.id.clone());
    put(&mut m, "SyncToken", i.sync_token.clone());
    if sparse {
        m.insert("sparse".into(), json!(true));
    }
    put(&mut m, "Name", i.name.clone());
    put(&mut m, "Sku", i.sku.clone());
    put(&mut m, "Description", i.description.clone());
    put(&mut m, "UnitPrice", i.unit_price.map(number));
    put(
        &mut m,
        "Type",
        i.item_type.map(|t| match t {
            ItemType::Service => "Service",
            ItemType::NonInventory => "NonInventory",
        }),
    );
    put(
        &mut m,
        "IncomeAccountRef",
        i.income_account.as_ref().map(reference_json),
    );
    put(&mut m, "Active", i.active);
    Value::Object(m)
}

/// The JSON of an invoice create, or a full update when it carries `Id` and `SyncToken`.
pub fn invoice_json(inv: &QboInvoice) -> Value {
    let mut m = Map::new();
    put(&mut m, "Id", inv.id.clone());
    put(&mut m, "SyncToken", inv.sync_token.clone());
    put(&mut m, "DocNumber", inv.doc_number.clone());
    m.insert("TxnDate".into(), json!(inv.txn_date.to_string()));
    put(&mut m, "DueDate", inv.due_date.map(|d| d.to_string()));
    m.insert("CustomerRef".into(), reference_json(&inv.customer));
    put(
        &mut m,
        "CurrencyRef",
        inv.currency.as_ref().map(reference_json),
    );
    put(
        &mut m,
        "DepartmentRef",
        inv.department.as_ref().map(reference_json),
    );
    put(&mut m, "ClassRef", inv.class.as_ref().map(reference_json));
    put(
        &mut m,
        "SalesTermRef",
        inv.sales_term.as_ref().map(reference_json),
    );
    put(
        &mut m,
        "BillEmail",
        inv.bill_email.as_ref().map(|e| json!({"Address": e})),
    );
    put(
        &mut m,
        "BillEmailCc",
        inv.bill_email_cc.as_ref().map(|e| json!({"Address": e})),
    );
    put(&mut m, "ExchangeRate", inv.exchange_rate.map(number));
    put(
        &mut m,
        "GlobalTaxCalculation",
        inv.global_tax_calculation.map(|g| g.as_qbo()),
    );
    put(
        &mut m,
        "TxnTaxDetail",
        inv.txn_tax_code
            .as_ref()
            .map(|c| json!({"TxnTaxCodeRef": reference_json(c)})),
    );
    put(&mut m, "PrivateNote", inv.private_note.clone());
    if !inv.custom_fields.is_empty() {
        m.insert(
            "CustomField".into(),
            Value::Array(
                inv.custom_fields
                    .iter()
                    .map(|f| {
                        let mut cf = Map::new();
                        cf.insert("DefinitionId".into(), json!(f.definition_id));
                        put(&mut cf, "Name", f.name.clone());
                        cf.insert("Type".into(), json!("StringType"));
                        cf.insert("StringValue".into(), json!(f.value));
                        Value::Object(cf)
                    })
                    .collect(),
            ),
        );
    }
    let lines = inv
        .lines
        .iter()
        .map(|l| {
            let mut detail = Map::new();
            detail.insert("ItemRef".into(), reference_json(&l.item));
            detail.insert("Qty".into(), number(l.qty));
            detail.insert("UnitPrice".into(), number(l.unit_price));
            put(
                &mut detail,
                "TaxCodeRef",
                l.tax_code.as_ref().map(reference_json),
            );
            put(
                &mut detail,
                "ClassRef",
                l.class.as_ref().map(reference_json),
            );
            put(
                &mut detail,
                "ServiceDate",
                l.service_date.map(|d| d.to_string()),
            );
            let mut line = Map::new();
            line.insert("LineNum".into(), json!(l.line_num));
            put(&mut line, "Description", l.description.clone());
            line.insert("Amount".into(), number(l.amount));
            line.insert("DetailType".into(), json!("SalesItemLineDetail"));
            line.insert("SalesItemLineDetail".into(), Value::Object(detail));
            Value::Object(line)
        })
        .collect();
    m.insert("Line".into(), Value::Array(lines));
    Value::Object(m)
}

/// What the flows read of a QBO invoice.
#[derive(Clone, Debug, PartialEq)]
pub struct InvoiceView {
    /// Id.
    pub id: String,
    /// SyncToken.
    pub sync_token: String,
    /// DocNumber.
    pub doc_number: Option<String>,
    /// TxnDate.
    pub txn_date: Option<chrono::NaiveDate>,
    /// DueDate.
    pub due_date: Option<chrono::NaiveDate>,
    /// CustomerRef.
    pub customer: Option<Reference>,
    /// TotalAmt.
    pub total_amt: rust_decimal::Decimal,
    /// Balance.
    pub balance: rust_decimal::Decimal,
    /// PrivateNote.
    pub private_note: Option<String>,
    /// True when voided (QBO keeps a voided invoice at zero with a "Voided" note).
    pub voided: bool,
    /// Ids of payments linked to it.
    pub payment_ids: Vec<String>,
}

/// Reads an invoice.
pub fn invoice_view(value: &Value) -> Option<InvoiceView> {
    let private_note = text(value, "PrivateNote");
    let total_amt = money(value, "TotalAmt").unwrap_or_default();
    Some(InvoiceView {
        id: text(value, "Id")?,
        sync_token: text(value, "SyncToken").unwrap_or_else(|| "0".into()),
        doc_number: text(value, "DocNumber"),
        txn_date: date(value, "TxnDate"),
        due_date: date(value, "DueDate"),
        customer: reference(value, "CustomerRef"),
        total_amt,
        balance: money(value, "Balance").unwrap_or(total_amt),
        voided: private_note
            .as_deref()
            .is_some_and(|n| n.starts_with("Voided"))
            || value.get("status").and_then(Value::as_str) == Some("Voided"),
        private_note,
        payment_ids: value
            .get("LinkedTxn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|t| t.get("TxnType").and_then(Value::as_str) == Some("Payment"))
            .filter_map(|t| text(t, "TxnId"))
            .collect(),
    })
}

/// What the flows read of a QBO RecurringTransaction (a template of one transaction).
#[derive(Clone, Debug, PartialEq)]
pub struct RecurringView {
    /// The type of transaction it makes (`Invoice`).
    pub kind: String,
    /// Id.
    pub id: String,
    /// SyncToken.
    pub sync_token: String,
    /// `RecurringInfo.Name`.
    pub name: Option<String>,
    /// `RecurringInfo.Active`.
    pub active: bool,
    /// `RecurringInfo` as QBO holds it.
    pub recurring_info: Value,
    /// The template transaction as QBO holds it.
    pub template: Value,
}

/// Reads a RecurringTransaction: `{"<Type>": {..., "RecurringInfo": {...}}}`, as a create, a
/// read or a query answers it.
pub fn recurring_view(value: &Value) -> Option<RecurringView> {
    let (kind, template) = value.as_object()?.iter().find(|(_, v)| v.is_object())?;
    let info = template
        .get("RecurringInfo")
        .cloned()
        .unwrap_or(Value::Null);
    Some(RecurringView {
        kind: kind.clone(),
        id: text(template, "Id")?,
        sync_token: text(template, "SyncToken").unwrap_or_else(|| "0".into()),
        name: text(&info, "Name"),
        active: info.get("Active").and_then(Value::as_bool).unwrap_or(true),
        recurring_info: info,
        template: template.clone(),
    })
}

/// The RecurringTransaction a transaction was generated from (`RecurDataRef`), if any.
pub fn recurring_source(value: &Value) -> Option<String> {
    value
        .get("RecurDataRef")
        .and_then(|r| text(r, "value"))
        .filter(|v| !v.trim().is_empty())
}

/// A QBO Payment; `deleted` when CDC reported it deleted.
pub fn payment(value: &Value, deleted: bool) -> Option<QboPayment> {
    let private_note = text(value, "PrivateNote").unwrap_or_default();
    let state = if deleted || value.get("status").and_then(Value::as_str) == Some("Deleted") {
        PaymentState::Deleted
    } else if private_note.starts_with("Voided") {
        PaymentState::Voided
    } else {
        PaymentState::Active
    };
    let lines = linked_amounts(value, "Invoice")
        .into_iter()
        .map(|(invoice_id, amount)| PaymentLine { invoice_id, amount })
        .collect();
    Some(QboPayment {
        id: text(value, "Id")?,
        txn_date: date(value, "TxnDate").or_else(|| {
            value
                .get("MetaData")
                .and_then(|m| date(m, "LastUpdatedTime"))
        })?,
        customer: reference(value, "CustomerRef"),
        total_amt: money(value, "TotalAmt").unwrap_or_default(),
        lines,
        state,
    })
}

/// The credit a payment applies: each CreditMemo line's id and amount, in line order.
pub fn payment_credits(value: &Value) -> Vec<(String, rust_decimal::Decimal)> {
    linked_amounts(value, "CreditMemo")
        .into_iter()
        .filter(|(_, amount)| *amount > rust_decimal::Decimal::ZERO)
        .collect()
}

/// Each transaction of `txn_type` a payment's lines link, with the line's amount, in order.
fn linked_amounts(value: &Value, txn_type: &str) -> Vec<(String, rust_decimal::Decimal)> {
    let mut found = Vec::new();
    for line in value
        .get("Line")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let amount = money(line, "Amount").unwrap_or_default();
        for linked in line
            .get("LinkedTxn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if linked.get("TxnType").and_then(Value::as_str) == Some(txn_type) {
                if let Some(id) = text(linked, "TxnId") {
                    found.push((id, amount));
                }
            }
        }
    }
    found
}

/// The JSON of a journal entry create.
pub fn journal_json(je: &QboJournalEntry) -> Value {
    let mut m = Map::new();
    put(&mut m, "DocNumber", je.doc_number.clone());
    m.insert("TxnDate".into(), json!(je.txn_date.to_string()));
    put(&mut m, "PrivateNote", je.private_note.clone());
    let lines = je
        .lines
        .iter()
        .map(|l: &JournalLine| {
            let mut detail = Map::new();
            detail.insert(
                "PostingType".into(),
                json!(match l.posting_type {
                    PostingType::Debit => "Debit",
                    PostingType::Credit => "Credit",
                }),
            );
            detail.insert("AccountRef".into(), reference_json(&l.account));
            put(
                &mut detail,
                "DepartmentRef",
                l.department.as_ref().map(reference_json),
            );
            put(
                &mut detail,
                "ClassRef",
                l.class.as_ref().map(reference_json),
            );
            put(
                &mut detail,
                "Entity",
                l.customer
                    .as_ref()
                    .map(|c| json!({"Type": "Customer", "EntityRef": reference_json(c)})),
            );
            let mut line = Map::new();
            put(&mut line, "Description", l.description.clone());
            line.insert("Amount".into(), number(l.amount));
            line.insert("DetailType".into(), json!("JournalEntryLineDetail"));
            line.insert("JournalEntryLineDetail".into(), Value::Object(detail));
            Value::Object(line)
        })
        .collect();
    m.insert("Line".into(), Value::Array(lines));
    Value::Object(m)
}

/// The decimal of a JSON value, re-exported for the flows.
pub fn amount(value: &Value) -> Option<rust_decimal::Decimal> {
    decimal(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn fixture(path: &str) -> Value {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/fixtures")
            .join(path);
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p:?}: {e}")))
            .unwrap()
    }

    #[test]
    fn a_customer_round_trips_with_its_salesforce_id_in_the_notes() {
        let c = QboCustomer {
            display_name: Some("Acme".into()),
            salesforce_id: Some("0015e00000AbCdEAAV".into()),
            bill_addr: Some(PostalAddress {
                lines: vec!["1 Main St".into()],
                city: Some("Springfield".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let v = customer_json(&c, false);
        assert_eq!(v["Notes"], "Salesforce Id: 0015e00000AbCdEAAV");
        let back = customer(&v);
        assert_eq!(back.salesforce_id.as_deref(), Some("0015e00000AbCdEAAV"));
        assert_eq!(back.bill_addr, c.bill_addr);
    }

    #[test]
    fn payment_lines_come_from_linked_invoices() {
        let v = json!({"Id": "9", "TxnDate": "2026-02-01", "TotalAmt": 150.25,
            "CustomerRef": {"value": "3"},
            "Line": [{"Amount": 100.25, "LinkedTxn": [{"TxnId": "41", "TxnType": "Invoice"}]},
                     {"Amount": 50, "LinkedTxn": [{"TxnId": "42", "TxnType": "Invoice"}]}]});
        let p = payment(&v, false).unwrap();
        assert_eq!(p.total_amt, Decimal::new(15025, 2));
        assert_eq!(p.lines.len(), 2);
        assert_eq!(p.lines[0].amount, Decimal::new(10025, 2));
        assert_eq!(payment(&v, true).unwrap().state, PaymentState::Deleted);
    }

    #[test]
    fn the_sdk_fixtures_parse() {
        let c = customer(&fixture("qbo/customer.json")["Customer"]);
        assert_eq!(c.display_name.as_deref(), Some("Thrifty Meats"));
        assert_eq!(c.id.as_deref(), Some("1"));
        let inv = invoice_view(&fixture("qbo/invoice.json")["Invoice"]).unwrap();
        assert_eq!(inv.doc_number.as_deref(), Some("1001"));
        assert!(inv.total_amt > Decimal::ZERO);
        let it = item(&fixture("qbo/item.json")["Item"]);
        assert!(it.name.is_some());
    }
}

//! The invoice source when QBO invoices are made from Salesforce invoice records rather than
//! Closed Won opportunities (`invoice-source`): posted `Invoice` records with their
//! `InvoiceLine`s (`invoice-object`), or posted Salesforce Billing `blng__Invoice__c` records with
//! their `blng__InvoiceLine__c`s (`billing`).
//!
//! A record is read with its lines and its billing account's fields, then adapted to the
//! opportunity shape the invoice flow plans from (the account as `Account`, the lines as
//! `OpportunityLineItems`, the invoice date as the close date, the pre-tax total as the amount),
//! so the customer, items, terms, tax, class, currency, DocNumber and the create / recover /
//! update / write-back path are the opportunity flow's own. What differs is reported under the
//! record's object, its invoice is owned by it (`links::Owner`), its write-back goes to it, and
//! the QBO invoice takes the record's due date and a note naming it.
//!
//! Only charge lines are invoiced: a line of type `Tax` or `Adjustment` (the standard object)
//! is left out (QBO computes tax from the lines' tax codes).

use crate::clients::json::{non_empty, text};
use crate::clients::salesforce_fields::{
    BLNG_ACCOUNT, BLNG_ACCOUNT_REL, BLNG_DESCRIPTION, BLNG_DUE_DATE, BLNG_INVOICE,
    BLNG_INVOICE_DATE, BLNG_INVOICE_LINES, BLNG_INVOICE_STATUS, BLNG_NOTES, BLNG_PRODUCT,
    BLNG_PRODUCT_REL, BLNG_QUANTITY, BLNG_START_DATE, BLNG_SUBTOTAL, BLNG_UNIT_PRICE,
    QBO_INVOICE_ID, QBO_INVOICE_NUMBER,
};
use crate::flows::invoice_settings::DetailSettings;
use crate::flows::links::Owner;
use crate::flows::settings::InvoiceSource;
use serde_json::{json, Map, Value};

/// Where invoices come from: the object and the names of the fields the flow reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// The sObject (reported under, written back to, owner of its QBO invoices).
    pub object: &'static str,
    /// The account field (named in errors).
    pub account: &'static str,
    /// The lines (named in errors).
    pub lines: &'static str,
    /// A line's product field (named in errors).
    pub line_product: &'static str,
    /// Field names of an invoice record (none for opportunities).
    record: Option<RecordFields>,
}

/// The field names of one invoice object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RecordFields {
    account_rel: &'static str,
    number: &'static str,
    date: &'static str,
    due: &'static str,
    status: &'static str,
    /// The total before tax (what the lines add up to).
    amount: &'static str,
    description: &'static str,
    product_rel: &'static str,
    quantity: &'static str,
    unit_price: &'static str,
    line_description: &'static str,
    line_start: &'static str,
    /// The line type (`Charge`, `Tax`, `Adjustment`), when the object has one.
    line_type: Option<&'static str>,
}

impl Default for Source {
    fn default() -> Self {
        Self::OPPORTUNITY
    }
}

impl Source {
    /// Closed Won opportunities.
    pub const OPPORTUNITY: Source = Source {
        object: "Opportunity",
        account: "AccountId",
        lines: "line-items",
        line_product: "product-id",
        record: None,
    };

    /// Posted standard `Invoice` records.
    pub const INVOICE: Source = Source {
        object: "Invoice",
        account: "BillingAccountId",
        lines: "InvoiceLines",
        line_product: "Product2Id",
        record: Some(RecordFields {
            account_rel: "BillingAccount",
            number: "DocumentNumber",
            date: "InvoiceDate",
            due: "DueDate",
            status: "Status",
            amount: "TotalAmount",
            description: "Description",
            product_rel: "Product2",
            quantity: "Quantity",
            unit_price: "UnitPrice",
            line_description: "Description",
            line_start: "InvoiceLineStartDate",
            line_type: Some("Type"),
        }),
    };

    /// Posted Salesforce Billing invoices.
    pub const BILLING: Source = Source {
        object: BLNG_INVOICE,
        account: BLNG_ACCOUNT,
        lines: BLNG_INVOICE_LINES,
        line_product: BLNG_PRODUCT,
        record: Some(RecordFields {
            account_rel: BLNG_ACCOUNT_REL,
            number: "Name",
            date: BLNG_INVOICE_DATE,
            due: BLNG_DUE_DATE,
            status: BLNG_INVOICE_STATUS,
            amount: BLNG_SUBTOTAL,
            description: BLNG_NOTES,
            product_rel: BLNG_PRODUCT_REL,
            quantity: BLNG_QUANTITY,
            unit_price: BLNG_UNIT_PRICE,
            line_description: BLNG_DESCRIPTION,
            line_start: BLNG_START_DATE,
            line_type: None,
        }),
    };

    /// The source a setting names.
    pub fn of(setting: InvoiceSource) -> Self {
        match setting {
            InvoiceSource::Opportunity => Self::OPPORTUNITY,
            InvoiceSource::InvoiceObject => Self::INVOICE,
            InvoiceSource::Billing => Self::BILLING,
        }
    }

    /// The owner of the QBO invoice of record `id`.
    pub fn owner(&self, id: &str) -> Owner {
        Owner {
            object: self.object.to_string(),
            id: id.to_string(),
        }
    }

    /// True for an invoice object (not opportunities).
    pub fn is_record(&self) -> bool {
        self.record.is_some()
    }

    /// The path of line `i`'s product, as errors name it.
    pub fn line_path(&self, i: usize) -> String {
        format!("{}[{i}].{}", self.lines, self.line_product)
    }

    /// Posted records only.
    pub fn condition(&self) -> String {
        match &self.record {
            Some(r) => format!("{} = 'Posted'", r.status),
            None => "IsWon = true".into(),
        }
    }

    /// The fields read: the record's, its account's (those the invoice details read from
    /// `Account.`) and its lines with their product's.
    pub fn select(&self, details: &DetailSettings, currency: bool) -> String {
        let Some(r) = &self.record else {
            return String::new();
        };
        let mut fields: Vec<String> = [
            "Id",
            r.number,
            self.account,
            r.date,
            r.due,
            r.status,
            r.amount,
            r.description,
            QBO_INVOICE_ID,
            QBO_INVOICE_NUMBER,
            "SystemModstamp",
        ]
        .iter()
        .map(|f| f.to_string())
        .collect();
        // Only the account's fields apply (an invoice record has no deal owner, price book or
        // opportunity fields to map).
        for f in details.opportunity_fields(currency) {
            if let Some(field) = f.strip_prefix("Account.") {
                fields.push(format!("{}.{field}", r.account_rel));
            } else if f == "CurrencyIsoCode" {
                fields.push(f);
            }
        }
        let mut lines: Vec<String> = [
            "Id",
            self.line_product,
            "Name",
            r.line_description,
            r.quantity,
            r.unit_price,
            r.line_start,
        ]
        .iter()
        .map(|f| f.to_string())
        .collect();
        lines.extend(r.line_type.map(str::to_string));
        for f in details.line_fields(false) {
            if let Some(field) = f.strip_prefix("Product2.") {
                lines.push(format!("{}.{field}", r.product_rel));
            }
        }
        format!(
            "{}, (SELECT {} FROM {})",
            fields.join(", "),
            lines.join(", "),
            self.lines
        )
    }

    /// The record `row` as the opportunity flow reads one, or the field that is missing.
    pub fn adapt(&self, row: &Value) -> Result<Value, String> {
        let Some(r) = &self.record else {
            return Ok(row.clone());
        };
        let id = text(row, "Id").ok_or("Id is missing")?;
        let problem = |field: &str, what: &str| format!("{} {id}: {field} {what}", self.object);
        let account = non_empty(row, self.account)
            .ok_or_else(|| problem(self.account, "is empty; an invoice needs a customer"))?;
        if non_empty(row, r.date).is_none() {
            return Err(problem(r.date, "is empty"));
        }
        let mut lines = Vec::new();
        for line in row
            .get(self.lines)
            .and_then(|l| l.get("records"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let kind = r.line_type.and_then(|t| non_empty(line, t));
            if kind.is_some_and(|k| !k.eq_ignore_ascii_case("Charge")) {
                continue;
            }
            let mut l = Map::new();
            l.insert("attributes".into(), json!({"type": "OpportunityLineItem"}));
            for (to, from) in [
                ("Id", "Id"),
                ("Product2Id", self.line_product),
                ("Name", "Name"),
                ("Description", r.line_description),
                ("Quantity", r.quantity),
                ("UnitPrice", r.unit_price),
                ("ServiceDate", r.line_start),
                ("Product2", r.product_rel),
            ] {
                l.insert(to.into(), line.get(from).cloned().unwrap_or(Value::Null));
            }
            lines.push(Value::Object(l));
        }
        if lines.is_empty() {
            return Err(problem(self.lines, "has no charge lines"));
        }
        let number = non_empty(row, r.number);
        let mut o = Map::new();
        for (to, value) in [
            ("attributes", json!({"type": self.object})),
            ("Id", json!(id)),
            ("Name", json!(number.clone().unwrap_or_else(|| id.clone()))),
            ("AccountId", json!(account)),
            ("StageName", json!("Posted")),
            ("CloseDate", row[r.date].clone()),
            ("Amount", row.get(r.amount).cloned().unwrap_or(Value::Null)),
            ("IsWon", json!(true)),
            ("IsClosed", json!(true)),
            (
                "Description",
                row.get(r.description).cloned().unwrap_or(Value::Null),
            ),
            (
                QBO_INVOICE_ID,
                row.get(QBO_INVOICE_ID).cloned().unwrap_or(Value::Null),
            ),
            (
                QBO_INVOICE_NUMBER,
                row.get(QBO_INVOICE_NUMBER).cloned().unwrap_or(Value::Null),
            ),
            (
                "SystemModstamp",
                row.get("SystemModstamp").cloned().unwrap_or(Value::Null),
            ),
            (
                "CurrencyIsoCode",
                row.get("CurrencyIsoCode").cloned().unwrap_or(Value::Null),
            ),
            (
                "Account",
                row.get(r.account_rel).cloned().unwrap_or(Value::Null),
            ),
            (
                "OpportunityLineItems",
                json!({"totalSize": lines.len(), "done": true, "records": lines}),
            ),
            // Kept for `finish`: the record's own due date.
            (RECORD_DUE, row.get(r.due).cloned().unwrap_or(Value::Null)),
        ] {
            o.insert(to.into(), value);
        }
        Ok(Value::Object(o))
    }

    /// The record's own touches on the invoice built from it (`row` as [`Source::adapt`] made
    /// it): its due date when it has one, and a note naming it.
    pub fn finish(&self, row: &Value, body: &mut Value) {
        if self.record.is_none() {
            return;
        }
        let Some(obj) = body.as_object_mut() else {
            return;
        };
        if let Some(due) = non_empty(row, RECORD_DUE) {
            obj.insert("DueDate".into(), json!(due));
        }
        let id = text(row, "Id").unwrap_or_default();
        let name = text(row, "Name").unwrap_or_default();
        obj.insert(
            "PrivateNote".into(),
            json!(format!("Salesforce {} {id}: {name}", self.object)),
        );
    }
}

/// Where [`Source::adapt`] keeps the record's due date.
const RECORD_DUE: &str = "RecordDueDate";

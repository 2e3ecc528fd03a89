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
use crate::model::MappingError;
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

impl Source {
    /// A refusal of the invoice mapping (which names an opportunity and its line items) as it
    /// applies to an invoice record: its object, its lines, its total.
    pub fn refusal(&self, mut e: MappingError) -> MappingError {
        if let Some(r) = &self.record {
            for f in &mut e.errors {
                if let Some(id) = f.record_id.strip_prefix("Opportunity ") {
                    f.record_id = format!("{} {id}", self.object);
                }
                if let Some(rest) = f.field.strip_prefix("line-items") {
                    f.field = format!("{}{rest}", self.lines);
                } else if f.field == "amount" {
                    f.field = r.amount.to_string();
                }
                f.reason = f
                    .reason
                    .replace("the Opportunity Amount", &format!("the {}", r.amount));
            }
        }
        e
    }
}

/// Where [`Source::adapt`] keeps the record's due date.
const RECORD_DUE: &str = "RecordDueDate";

#[cfg(test)]
mod tests {
    use crate::clients::json::decimal;
    use crate::flows::links::{
        account_key, invoice_key, invoice_owner, product_key, AccountLink, InvoiceLink, Owner,
    };
    use crate::flows::state::{State, LINKS};
    use crate::flows::test_support::{
        assert_run, body, qbo_entity, qbo_query, sf_saved, soql, REALM,
    };
    use crate::flows::{run_job, Kind};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch, Post};
    use rust_decimal_macros::dec;
    use serde_json::{json, Value};

    const INV: &str = "3ttA00000001InvAAA";
    const DOC: &str = "SF-3ttA00000001InvAAA";
    const LOOKUP: &str = "select * from Invoice where DocNumber in ('SF-3ttA00000001InvAAA')";

    /// A posted Invoice of 3 x 100.10 and 1 x 950.20 (and a tax line, not invoiced), as the
    /// REST API nests it.
    fn invoice_record(account: Option<&str>, written: Option<&str>) -> Value {
        let line = |id: &str, product: &str, qty: u32, price: f64, kind: &str| {
            json!({"attributes": {"type": "InvoiceLine"}, "Id": id, "Product2Id": product,
                "Name": "line", "Description": null, "Quantity": qty, "UnitPrice": price,
                "InvoiceLineStartDate": null, "Type": kind, "Product2": {"Family": null}})
        };
        json!({"attributes": {"type": "Invoice"}, "Id": INV, "DocumentNumber": "INV-0000000007",
            "BillingAccountId": account, "InvoiceDate": "2026-03-02", "DueDate": "2026-04-01",
            "Status": "Posted", "TotalAmount": 1250.50, "Description": null,
            "QBO_Invoice_Id__c": written, "QBO_Invoice_Number__c": written.map(|_| DOC),
            "SystemModstamp": "2026-03-02T18:00:00.000+0000",
            "BillingAccount": account.map(|_| json!({"Email__c": "ap@acme.example",
                "Payment_Terms__c": null, "Tax_Exempt__c": false})),
            "InvoiceLines": {"totalSize": 3, "done": true, "records": [
                line("5TVA00000001LinA", "01tA00000WidgetP", 3, 100.10, "Charge"),
                line("5TVA00000001LinB", "01tA00000GadgetX", 1, 950.20, "Charge"),
                line("5TVA00000001LinT", "01tA00000GadgetX", 1, 99.99, "Tax")]}})
    }

    /// The org's currencies (described once a day) and the posted invoices.
    fn posted(records: Value) -> Routes {
        Routes::new()
            .json(
                Get,
                "/sobjects/Opportunity/describe",
                200,
                json!({"name": "Opportunity", "fields": [{"name": "Id"}]}),
            )
            .on(Get, "FROM Invoice WHERE Status = 'Posted'", move |_| {
                soql(records.clone())
            })
    }

    /// `invoice-source` set, the account and the products linked before.
    fn tenant(routes: Routes, source: &str) -> MemoryPlatform {
        let mut platform = MemoryPlatform::routed(REALM, routes);
        platform
            .settings
            .0
            .insert("invoice-source".into(), source.into());
        let state = State::new(&platform.kv);
        let customer = AccountLink {
            qbo_id: "58".into(),
            snapshot: None,
        };
        state
            .put(LINKS, &account_key("001A000001AcmeAAA"), &customer)
            .unwrap();
        for (product, item) in [("01tA00000WidgetP", "31"), ("01tA00000GadgetX", "12")] {
            state.put(LINKS, &product_key(product), &item).unwrap();
        }
        platform
    }

    fn created(req: &crate::platform::HttpRequest) -> crate::platform::HttpResponse {
        let mut invoice = body(req);
        invoice["Id"] = json!("130");
        invoice["SyncToken"] = json!("0");
        invoice["TotalAmt"] = json!(1250.50);
        invoice["Balance"] = json!(1250.50);
        qbo_entity("Invoice", invoice)
    }

    /// The lines of a QBO invoice body: (item, qty, unit price, amount), exactly.
    fn lines(
        invoice: &Value,
    ) -> Vec<(
        String,
        rust_decimal::Decimal,
        rust_decimal::Decimal,
        rust_decimal::Decimal,
    )> {
        invoice["Line"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let d = &l["SalesItemLineDetail"];
                (
                    d["ItemRef"]["value"].as_str().unwrap().to_string(),
                    decimal(&d["Qty"]).unwrap(),
                    decimal(&d["UnitPrice"]).unwrap(),
                    decimal(&l["Amount"]).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_posted_invoice_record_becomes_one_qbo_invoice_written_back_and_owned_and_a_rerun_creates_none(
    ) {
        let platform = tenant(
            posted(json!([invoice_record(Some("001A000001AcmeAAA"), None)]))
                .on(Get, LOOKUP, |_| qbo_query("Invoice", json!([])))
                .on(Post, "/invoice?", created)
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
            "invoice-object",
        );
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Opportunity", "(Closed Won)", Kind::Skipped, None),
                ("Invoice", INV, Kind::Created, Some("130")),
            ],
        );
        let creates = platform
            .http
            .bodies(Post, "/invoice?minorversion=75&requestid=ll-inv-");
        assert_eq!(creates.len(), 1, "{:#?}", platform.http.requests());
        let invoice = &creates[0];
        assert_eq!(invoice["DocNumber"], DOC);
        assert_eq!(invoice["CustomerRef"]["value"], "58");
        assert_eq!(invoice["TxnDate"], "2026-03-02");
        assert_eq!(invoice["DueDate"], "2026-04-01");
        assert_eq!(invoice["BillEmail"]["Address"], "ap@acme.example");
        assert_eq!(
            invoice["PrivateNote"],
            "Salesforce Invoice 3ttA00000001InvAAA: INV-0000000007"
        );
        assert_eq!(
            lines(invoice),
            vec![
                ("31".into(), dec!(3), dec!(100.10), dec!(300.30)),
                ("12".into(), dec!(1), dec!(950.20), dec!(950.20)),
            ],
            "the charge lines, not the tax line"
        );
        let writes = platform.http.bodies(Patch, "/composite/sobjects");
        assert_eq!(
            writes[0]["records"],
            json!([{"Id": INV, "QBO_Invoice_Id__c": "130", "QBO_Invoice_Number__c": DOC,
                "QBO_Invoice_Link__c": "https://app.qbo.intuit.com/app/invoice?txnId=130",
                "attributes": {"type": "Invoice"}}])
        );
        let state = State::new(&platform.kv);
        let link: InvoiceLink = state.get(LINKS, &invoice_key(INV)).unwrap().unwrap();
        assert_eq!(link.qbo_id, "130");
        let ctx_owner = {
            let p = platform.platform();
            let ctx = crate::flows::Ctx::new(&p, Default::default()).unwrap();
            invoice_owner(&ctx, "130").unwrap()
        };
        assert_eq!(
            ctx_owner,
            Some(Owner {
                object: "Invoice".into(),
                id: INV.into()
            })
        );

        // Read again after the write-back: invoiced and unchanged, nothing sent anywhere.
        let platform = platform.rerouted(posted(json!([invoice_record(
            Some("001A000001AcmeAAA"),
            Some("130")
        )])));
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Opportunity", "(Closed Won)", Kind::Skipped, None),
                ("Invoice", INV, Kind::Skipped, Some("130")),
            ],
        );
    }

    #[test]
    fn an_invoice_created_before_a_crash_is_found_by_its_doc_number_not_created_again() {
        let made = json!({"Id": "130", "SyncToken": "0", "DocNumber": DOC,
            "TxnDate": "2026-03-02", "CustomerRef": {"value": "58"}, "TotalAmt": 1250.50,
            "Balance": 1250.50, "Line": []});
        let answer = made.clone();
        let platform = tenant(
            posted(json!([invoice_record(Some("001A000001AcmeAAA"), None)]))
                .on(Get, LOOKUP, move |_| qbo_query("Invoice", json!([answer])))
                .on(Post, "/invoice?", move |req| {
                    let mut invoice = made.clone();
                    invoice["SyncToken"] = json!("1");
                    invoice["Line"] = body(req)["Line"].clone();
                    qbo_entity("Invoice", invoice)
                })
                .on(Patch, "/composite/sobjects", sf_saved),
            "invoice-object",
        );
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Opportunity", "(Closed Won)", Kind::Skipped, None),
                ("Invoice", INV, Kind::Updated, Some("130")),
            ],
        );
        assert_eq!(
            platform.http.count(Post, "requestid=ll-inv-"),
            0,
            "no create"
        );
        assert_eq!(platform.http.count(Post, "requestid=ll-invu-"), 1);
        let written = platform.http.bodies(Patch, "/composite/sobjects");
        assert_eq!(written[0]["records"][0]["Id"], INV);
        assert_eq!(written[0]["records"][0]["attributes"]["type"], "Invoice");
    }

    #[test]
    fn with_an_invoice_object_as_source_a_closed_won_opportunity_is_not_invoiced() {
        // Only the Invoice query is scripted: reading opportunities would be unscripted.
        let platform = tenant(posted(json!([])), "invoice-object");
        let args = r#"{"only": ["Opportunity:006A000001DealAAA"]}"#;
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", "(Closed Won)", Kind::Skipped, None)],
        );
        assert!(report.records[0]
            .detail
            .contains("not invoiced: invoice-source takes posted Invoice records instead"));
        let platform = platform.rerouted(posted(json!([])).on(
            Get,
            "FROM Invoice WHERE Status = 'Posted' AND Id IN",
            |_| soql(json!([])),
        ));
        let report = run_job(&platform.platform(), "sync-invoices", args).unwrap();
        assert_eq!(platform.http.count(Post, ""), 0);
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert_eq!(report.records[0].entity, "Opportunity");
    }

    #[test]
    fn an_unknown_invoice_source_is_an_error_naming_the_setting() {
        let platform = tenant(Routes::new(), "invoices");
        let err = run_job(&platform.platform(), "sync-invoices", "").unwrap_err();
        let (crate::flows::JobError::InvalidArgs(why) | crate::flows::JobError::Failed(why)) = &err
        else {
            panic!("{err:?}");
        };
        assert!(
            why.contains("setting invoice-source: \"invoices\" is not opportunity"),
            "{why}"
        );
    }

    #[test]
    fn a_record_without_a_billing_account_fails_alone_naming_the_field() {
        let mut other = invoice_record(None, None);
        other["Id"] = json!("3ttA00000002InvBBB");
        let platform = tenant(
            posted(json!([
                other,
                invoice_record(Some("001A000001AcmeAAA"), None)
            ]))
            .on(Get, LOOKUP, |_| qbo_query("Invoice", json!([])))
            .on(Post, "/invoice?", created)
            .on(Patch, "/composite/sobjects", sf_saved)
            .json(Post, "http://notify/", 200, json!({"ok": true})),
            "invoice-object",
        );
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Opportunity", "(Closed Won)", Kind::Skipped, None),
                ("Invoice", "3ttA00000002InvBBB", Kind::Failed, None),
                ("Invoice", INV, Kind::Created, Some("130")),
            ],
        );
        assert!(
            report.records[1]
                .detail
                .contains("Invoice 3ttA00000002InvBBB: BillingAccountId is empty"),
            "{}",
            report.records[1].detail
        );
    }

    #[test]
    fn a_payment_on_the_invoice_writes_the_figures_to_the_invoice_record() {
        let platform = tenant(
            Routes::new()
                .on(Get, "select * from Payment where Id in", |_| {
                    qbo_query(
                        "Payment",
                        json!([{"Id": "77", "SyncToken": "0", "TxnDate": "2026-03-05",
                            "TotalAmt": 500.25, "CustomerRef": {"value": "58"}, "UnappliedAmt": 0,
                            "Line": [{"Amount": 500.25,
                                "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]}]}]),
                    )
                })
                .on(Get, "/invoice/130?", |_| {
                    qbo_entity(
                        "Invoice",
                        json!({"Id": "130", "SyncToken": "1", "DocNumber": DOC,
                            "TxnDate": "2026-03-02", "CustomerRef": {"value": "58"},
                            "TotalAmt": 1250.50, "Balance": 750.25}),
                    )
                })
                // The link was lost: the invoice record is found by its QBO_Invoice_Id__c.
                .on(
                    Get,
                    "SELECT Id FROM Invoice WHERE QBO_Invoice_Id__c = '130'",
                    |_| soql(json!([{"attributes": {"type": "Invoice"}, "Id": INV}])),
                )
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
            "invoice-object",
        );
        let report = run_job(
            &platform.platform(),
            "sync-payments",
            r#"{"only": ["Payment:77"]}"#,
        )
        .unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Payment", "77", Kind::Updated, Some(INV))],
        );
        let writes = platform.http.bodies(Patch, "/composite/sobjects");
        let record = &writes[0]["records"][0];
        assert_eq!(record["Id"], INV);
        assert_eq!(record["attributes"]["type"], "Invoice");
        assert_eq!(decimal(&record["Amount_Paid__c"]), Some(dec!(500.25)));
        assert_eq!(decimal(&record["Open_Balance__c"]), Some(dec!(750.25)));
        assert_eq!(record["Payment_Status__c"], "Partially Paid");
    }

    #[test]
    fn the_billing_variant_reads_the_blng_names() {
        let record = json!({"attributes": {"type": "blng__Invoice__c"}, "Id": "a1FA00000001BlnAAA",
            "Name": "INV-0000000003", "blng__Account__c": "001A000001AcmeAAA",
            "blng__InvoiceDate__c": "2026-03-02", "blng__DueDate__c": null,
            "blng__InvoiceStatus__c": "Posted", "blng__Subtotal__c": 20.50, "blng__Notes__c": null,
            "QBO_Invoice_Id__c": null, "QBO_Invoice_Number__c": null,
            "SystemModstamp": "2026-03-02T18:00:00.000+0000",
            "blng__Account__r": {"Email__c": "ap@acme.example", "Payment_Terms__c": null,
                "Tax_Exempt__c": false},
            "blng__InvoiceInvoiceLines__r": {"totalSize": 1, "done": true, "records": [
                {"attributes": {"type": "blng__InvoiceLine__c"}, "Id": "a1GA00000001LinAAA",
                 "blng__Product__c": "01tA00000WidgetP", "Name": "line",
                 "blng__Description__c": null, "blng__Quantity__c": 2,
                 "blng__UnitPrice__c": 10.25, "blng__StartDate__c": null,
                 "blng__Product__r": {"Family": null}}]}});
        let platform = tenant(
            Routes::new()
                .json(
                    Get,
                    "/sobjects/Opportunity/describe",
                    200,
                    json!({"name": "Opportunity", "fields": [{"name": "Id"}]}),
                )
                .on(
                    Get,
                    "FROM blng__InvoiceInvoiceLines__r) FROM blng__Invoice__c WHERE blng__InvoiceStatus__c = 'Posted'",
                    move |_| soql(json!([record])),
                )
                .on(
                    Get,
                    "select * from Invoice where DocNumber in ('SF-a1FA00000001BlnAAA')",
                    |_| qbo_query("Invoice", json!([])),
                )
                .on(Post, "/invoice?", created)
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
            "billing",
        );
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Opportunity", "(Closed Won)", Kind::Skipped, None),
                (
                    "blng__Invoice__c",
                    "a1FA00000001BlnAAA",
                    Kind::Created,
                    Some("130"),
                ),
            ],
        );
        let query = platform
            .http
            .requests()
            .into_iter()
            .find(|r| r.contains("FROM blng__Invoice__c"))
            .unwrap();
        assert!(
            query.contains("blng__Account__c, blng__InvoiceDate__c, blng__DueDate__c")
                && query.contains("blng__Account__r.Email__c"),
            "{query}"
        );
        let creates = platform.http.bodies(Post, "/invoice?");
        assert_eq!(
            lines(&creates[0]),
            vec![("31".into(), dec!(2), dec!(10.25), dec!(20.50))]
        );
        let writes = platform.http.bodies(Patch, "/composite/sobjects");
        assert_eq!(
            writes[0]["records"][0]["attributes"]["type"],
            "blng__Invoice__c"
        );
        assert_eq!(writes[0]["records"][0]["QBO_Invoice_Id__c"], "130");
    }
    #[test]
    fn changed_lines_update_the_open_invoice_and_never_a_paid_one() {
        // Invoiced before (linked with the hash of other content); a line's quantity changed.
        let mut changed = invoice_record(Some("001A000001AcmeAAA"), Some("130"));
        changed["InvoiceLines"]["records"][0]["Quantity"] = json!(4);
        changed["TotalAmount"] = json!(1350.60);
        let current = |balance: f64| {
            json!({"Id": "130", "SyncToken": "3", "DocNumber": DOC, "TxnDate": "2026-03-02",
                "CustomerRef": {"value": "58"}, "TotalAmt": 1250.50, "Balance": balance,
                "Line": []})
        };
        let routes = |balance: f64, record: Value| {
            posted(json!([record]))
                .on(
                    Get,
                    "select * from Invoice where Id in ('130')",
                    move |_| qbo_query("Invoice", json!([current(balance)])),
                )
                .on(Post, "/invoice?", |req| {
                    let mut invoice = body(req);
                    invoice["TotalAmt"] = json!(1350.60);
                    invoice["Balance"] = json!(1350.60);
                    qbo_entity("Invoice", invoice)
                })
                .on(Patch, "/composite/sobjects", sf_saved)
        };
        let platform = tenant(routes(1250.50, changed.clone()), "invoice-object");
        State::new(&platform.kv)
            .put(
                LINKS,
                &invoice_key(INV),
                &InvoiceLink {
                    qbo_id: "130".into(),
                    doc_number: Some(DOC.into()),
                    hash: "before".into(),
                },
            )
            .unwrap();
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Opportunity", "(Closed Won)", Kind::Skipped, None),
                ("Invoice", INV, Kind::Updated, Some("130")),
            ],
        );
        let updates = platform
            .http
            .bodies(Post, "/invoice?minorversion=75&requestid=ll-invu-");
        assert_eq!(updates.len(), 1, "{:#?}", platform.http.requests());
        assert_eq!(
            (
                &updates[0]["Id"],
                &updates[0]["SyncToken"],
                &updates[0]["sparse"]
            ),
            (&json!("130"), &json!("3"), &json!(true))
        );
        assert_eq!(lines(&updates[0])[0].3, dec!(400.40));
        assert_eq!(
            platform.http.bodies(Patch, "/composite/sobjects")[0]["records"][0]["attributes"]
                ["type"],
            "Invoice"
        );

        // Changed again after a payment: the invoice is not touched, the record fails.
        changed["InvoiceLines"]["records"][0]["Quantity"] = json!(5);
        changed["TotalAmount"] = json!(1450.70);
        let platform = platform.rerouted(routes(250.50, changed).json(
            Post,
            "http://notify/",
            200,
            json!({"ok": true}),
        ));
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Opportunity", "(Closed Won)", Kind::Skipped, None),
                ("Invoice", INV, Kind::Failed, None),
            ],
        );
        assert!(report.records[1].detail.contains(
            "Invoice 3ttA00000001InvAAA changed after invoice SF-3ttA00000001InvAAA was paid"
        ));
        assert_eq!(platform.http.count(Post, "/invoice?"), 0);

        // Lines that do not add up to the record's total are refused in the record's terms.
        let mut wrong = invoice_record(Some("001A000001AcmeAAA"), Some("130"));
        wrong["TotalAmount"] = json!(999);
        let platform = platform.rerouted(routes(250.50, wrong).json(
            Post,
            "http://notify/",
            200,
            json!({"ok": true}),
        ));
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert!(
            report.records[1].detail.contains(
                "Invoice 3ttA00000001InvAAA TotalAmount: the lines add up to 1250.50 USD but the TotalAmount is 999"
            ),
            "{}",
            report.records[1].detail
        );
    }
}

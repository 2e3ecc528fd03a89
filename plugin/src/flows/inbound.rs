//! QBO -> Salesforce: customers to Accounts (the fields QBO owns, per the field rules) and
//! invoices created in QBO to Closed Won Opportunities linked to the matching Account. Writes
//! are upserts on the external ids `QBO_Customer_Id__c` / `QBO_Invoice_Id__c`, so a replayed
//! event cannot create a second record; our own writes come back as "unchanged".

use super::classification;
use super::context::{Abort, Ctx, FlowResult};
use super::links::{self, opportunity_of, AccountLink};
use super::report::Failure;
use crate::clients::json::number;
use crate::clients::quickbooks_json::{customer, invoice_view};
use crate::clients::salesforce::{soql_list, soql_literal};
use crate::clients::salesforce_fields::{
    EMAIL, PAYMENT_TERMS, QBO_CLASS, QBO_CUSTOMER_ID, QBO_DEPARTMENT, QBO_INVOICE_ID,
    QBO_INVOICE_LINK, QBO_INVOICE_NUMBER, TAX_EXEMPT,
};
use crate::clients::salesforce_json::{account, ACCOUNT_FIELDS};
use crate::mapping::invoice::doc_number;
use crate::mapping::{map_customer, AccountChange, CustomerInput, QboOwnedFields};
use crate::model::{SfField, SfValue};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

fn fields_json(fields: &[SfField]) -> Value {
    let mut m = Map::new();
    for f in fields {
        let v = match &f.value {
            SfValue::Null => Value::Null,
            SfValue::Text(t) => json!(t),
            SfValue::Boolean(b) => json!(b),
            SfValue::Number(n) => number(*n),
            SfValue::Date(d) => json!(d.to_string()),
        };
        m.insert(f.name.clone(), v);
    }
    Value::Object(m)
}

/// Account updates waiting for one sObject Collections request: (QBO id, fields with `Id`,
/// the link to store once written, what changed).
type PendingUpdate = (String, Value, AccountLink, String);

/// Many QBO customers to their Salesforce Accounts: the linked Accounts are read with one query
/// per 200 and the updates written with one collection request per 200.
pub fn customers_to_accounts(ctx: &mut Ctx<'_>, values: &[&Value]) -> FlowResult {
    let mut ids = Vec::new();
    for v in values {
        let c = customer(v);
        if let Some(qbo_id) = &c.id {
            if let Some(id) = links::account_of(ctx, qbo_id)?.or(c.salesforce_id.clone()) {
                ids.push(id);
            }
        }
    }
    let mut cache = BTreeMap::new();
    for chunk in ids.chunks(200) {
        for row in ctx.sf.query(&format!(
            "SELECT {ACCOUNT_FIELDS} FROM Account WHERE Id IN ({})",
            soql_list(chunk)
        ))? {
            if let Some(a) = account(&row) {
                cache.insert(a.id.clone(), a);
            }
        }
    }
    let mut updates = Vec::new();
    for v in values {
        sync_customer(ctx, v, Some(&cache), &mut updates)?;
    }
    flush_updates(ctx, updates)
}

fn flush_updates(ctx: &mut Ctx<'_>, updates: Vec<PendingUpdate>) -> FlowResult {
    if updates.is_empty() {
        return Ok(());
    }
    let records: Vec<Value> = updates.iter().map(|(_, f, _, _)| f.clone()).collect();
    let results = ctx.sf.update_many("Account", &records);
    for ((qbo_id, fields, link, names), result) in updates.into_iter().zip(results) {
        let id = fields
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match result {
            Ok(_) => {
                ctx.report.updated(
                    "Customer",
                    &qbo_id,
                    &id,
                    format!("Account updated: {names}"),
                );
                links::store_account_link(ctx, &id, &link)?;
            }
            Err(e) => ctx.report.failed("Customer", &qbo_id, e.into()),
        }
    }
    Ok(())
}

/// One QBO customer to its Salesforce Account; returns the Account Id.
pub fn customer_to_account(ctx: &mut Ctx<'_>, value: &Value) -> Result<Option<String>, Abort> {
    let mut updates = Vec::new();
    let id = sync_customer(ctx, value, None, &mut updates)?;
    flush_updates(ctx, updates)?;
    Ok(id)
}

fn sync_customer(
    ctx: &mut Ctx<'_>,
    value: &Value,
    cache: Option<&BTreeMap<String, crate::model::SfAccount>>,
    updates: &mut Vec<PendingUpdate>,
) -> Result<Option<String>, Abort> {
    let c = customer(value);
    let Some(qbo_id) = c.id.clone() else {
        return Ok(None);
    };
    if let Some(account) = links::currency_customer_of(ctx, &qbo_id)? {
        ctx.report.skipped(
            "Customer",
            &qbo_id,
            Some(&account),
            "the Account's customer in a foreign currency, made by Ledgerlink; not a new Account",
        );
        return Ok(None);
    }
    let account_id = links::account_of(ctx, &qbo_id)?.or_else(|| c.salesforce_id.clone());
    let (existing, snapshot) = match &account_id {
        Some(id) => {
            let existing = match cache {
                Some(cache) => cache.get(id).cloned(),
                None => ctx
                    .sf
                    .query(&format!(
                        "SELECT {ACCOUNT_FIELDS} FROM Account WHERE Id = {}",
                        soql_literal(id)
                    ))?
                    .first()
                    .and_then(account),
            };
            let link = links::account_link(ctx, id)?;
            (existing, link.and_then(|l| l.snapshot))
        }
        None => (None, None),
    };
    let classified = classification::of_customer(ctx, &qbo_id)?;
    let input = CustomerInput {
        customer: c.clone(),
        existing: existing.clone(),
        last_synced: snapshot,
        rules: ctx.settings.field_rules.clone(),
        targets: QboOwnedFields {
            payment_terms: Some(PAYMENT_TERMS.into()),
            tax_exempt: Some(TAX_EXEMPT.into()),
            department: Some(QBO_DEPARTMENT.into()),
            class: Some(QBO_CLASS.into()),
        },
        department_name: classified.as_ref().and_then(|c| c.department.clone()),
        class_name: classified.and_then(|c| c.class),
        email_field: Some(EMAIL.into()),
    };
    let output = match map_customer(&input) {
        Ok(o) => o,
        Err(e) => {
            ctx.report.failed("Customer", &qbo_id, Failure::Mapping(e));
            return Ok(None);
        }
    };
    for conflict in &output.conflicts {
        ctx.notice(format!("QBO customer {qbo_id}: {}", conflict.describe()));
    }
    let id = match output.change {
        AccountChange::Unchanged => {
            let id = existing.map(|a| a.id).unwrap_or_default();
            ctx.report.skipped(
                "Customer",
                &qbo_id,
                Some(&id),
                "unchanged (or our own write)",
            );
            return Ok(Some(id).filter(|i| !i.is_empty()));
        }
        _ if ctx.dry_run() => {
            ctx.report
                .updated("Customer", &qbo_id, "", "would write the Account");
            return Ok(None);
        }
        AccountChange::Create(fields) => {
            let mut body = fields_json(&fields);
            if let Some(o) = body.as_object_mut() {
                o.remove(QBO_CUSTOMER_ID);
            }
            match ctx.sf.upsert("Account", QBO_CUSTOMER_ID, &qbo_id, &body) {
                Ok((id, _)) => {
                    ctx.report
                        .created("Customer", &qbo_id, &id, "Account created from QBO");
                    id
                }
                Err(e) => {
                    ctx.report.failed("Customer", &qbo_id, e.into());
                    return Ok(None);
                }
            }
        }
        AccountChange::Update((id, fields)) => {
            let names: Vec<String> = fields.iter().map(|f| f.name.clone()).collect();
            let mut body = fields_json(&fields);
            if let Some(o) = body.as_object_mut() {
                o.insert("Id".into(), json!(id));
            }
            let link = AccountLink {
                qbo_id: qbo_id.clone(),
                snapshot: Some(output.snapshot),
            };
            updates.push((qbo_id, body, link, names.join(", ")));
            return Ok(Some(id));
        }
    };
    let link = AccountLink {
        qbo_id: qbo_id.clone(),
        snapshot: Some(output.snapshot),
    };
    links::store_account_link(ctx, &id, &link)?;
    Ok(Some(id))
}

/// One invoice created in QBO to a Closed Won Opportunity; ours are skipped.
pub fn invoice_to_opportunity(ctx: &mut Ctx<'_>, value: &Value) -> FlowResult {
    let Some(inv) = invoice_view(value) else {
        return Ok(());
    };
    classification::note_invoice(ctx, value)?;
    if let Some(opp) = opportunity_of(ctx, &inv.id)? {
        ctx.report.skipped(
            "Invoice",
            &inv.id,
            Some(&opp),
            "created from this Opportunity",
        );
        return Ok(());
    }
    let prefix = doc_number(&ctx.settings.invoice.doc_number, "").unwrap_or_default();
    if let (Some(prefix), Some(doc)) = (prefix, &inv.doc_number) {
        if !prefix.is_empty() && doc.starts_with(&prefix) {
            ctx.report.skipped(
                "Invoice",
                &inv.id,
                None,
                "carries Ledgerlink's DocNumber prefix",
            );
            return Ok(());
        }
    }
    let Some(customer_ref) = inv.customer.clone() else {
        ctx.report.failed(
            "Invoice",
            &inv.id,
            Failure::Invalid(format!("Invoice {}: CustomerRef is missing", inv.id)),
        );
        return Ok(());
    };
    let mut account_id = links::account_of(ctx, &customer_ref.value)?;
    if account_id.is_none() {
        match ctx.qbo.read("Customer", &customer_ref.value) {
            Ok(Some(c)) => account_id = customer_to_account(ctx, &c)?,
            Ok(None) => {}
            Err(e) => {
                ctx.report.failed("Invoice", &inv.id, e.into());
                return Ok(());
            }
        }
    }
    let Some(account_id) = account_id else {
        ctx.report.failed(
            "Invoice",
            &inv.id,
            Failure::Invalid(format!(
                "Invoice {}: customer {} has no Salesforce Account",
                inv.id, customer_ref.value
            )),
        );
        return Ok(());
    };
    let Some(txn_date) = inv.txn_date else {
        ctx.report.failed(
            "Invoice",
            &inv.id,
            Failure::Invalid(format!("Invoice {}: TxnDate is missing", inv.id)),
        );
        return Ok(());
    };
    if ctx.dry_run() {
        ctx.report.created(
            "Invoice",
            &inv.id,
            "(new)",
            "would create a Closed Won Opportunity",
        );
        return Ok(());
    }
    let doc = inv.doc_number.clone().unwrap_or_else(|| inv.id.clone());
    let body = json!({
        "Name": format!("QBO invoice {doc}"),
        "AccountId": account_id,
        "StageName": "Closed Won",
        "CloseDate": txn_date.to_string(),
        "Amount": number(inv.total_amt),
        QBO_INVOICE_NUMBER: inv.doc_number,
        QBO_INVOICE_LINK: format!("{}{}", ctx.settings.invoice_link_base, inv.id),
    });
    match ctx.sf.upsert("Opportunity", QBO_INVOICE_ID, &inv.id, &body) {
        Ok((opp, created)) => {
            links::store_invoice_link(ctx, &opp, &inv.id, inv.doc_number.clone(), links::EXTERNAL)?;
            if created {
                ctx.report.created(
                    "Invoice",
                    &inv.id,
                    &opp,
                    format!("Opportunity for QBO invoice {doc}"),
                );
            } else {
                ctx.report.updated(
                    "Invoice",
                    &inv.id,
                    &opp,
                    format!("Opportunity for QBO invoice {doc}"),
                );
            }
        }
        Err(e) => ctx.report.failed("Invoice", &inv.id, e.into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::clients::json::decimal;
    use crate::flows::links::{customer_key, invoice_key, InvoiceLink, EXTERNAL};
    use crate::flows::state::{State, LINKS};
    use crate::flows::test_support::{assert_run, qbo_query, soql, REALM};
    use crate::flows::{run_job, Kind};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch};
    use rust_decimal_macros::dec;
    use serde_json::{json, Value};

    const ACCOUNT: &str = "001A000009CoolAAA";

    /// A customer made in QBO: no Salesforce Id in its notes.
    fn customer() -> Value {
        json!({"Id": "58", "SyncToken": "0", "DisplayName": "Cool Cars", "CompanyName": "Cool Cars",
            "PrimaryEmailAddr": {"Address": "ap@coolcars.example"},
            "PrimaryPhone": {"FreeFormNumber": "(415) 555-9933"},
            "BillAddr": {"Id": "3", "Line1": "65 Ocean Dr.", "City": "Half Moon Bay",
                "CountrySubDivisionCode": "CA", "PostalCode": "94213"},
            "Active": true, "Balance": 0, "Taxable": true,
            "MetaData": {"CreateTime": "2026-03-01T10:00:00-08:00",
                "LastUpdatedTime": "2026-03-01T10:00:00-08:00"}})
    }

    #[test]
    fn a_qbo_customer_becomes_an_account_upserted_by_its_customer_id_and_a_replay_changes_nothing()
    {
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "select * from Customer where Id in ('58')", |_| {
                    qbo_query("Customer", json!([customer()]))
                })
                .json(
                    Patch,
                    "/sobjects/Account/QBO_Customer_Id__c/58",
                    201,
                    json!({"id": ACCOUNT, "success": true, "errors": [], "created": true}),
                ),
        );
        let only = r#"{"only": ["Customer:58"]}"#;
        let report = run_job(&platform.platform(), "sync-quickbooks", only).unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Customer", "58", Kind::Created, Some(ACCOUNT))],
        );
        let upserts = platform
            .http
            .bodies(Patch, "/sobjects/Account/QBO_Customer_Id__c/58");
        assert_eq!(upserts.len(), 1);
        let account = &upserts[0];
        assert_eq!(account["Name"], "Cool Cars");
        assert_eq!(account["BillingStreet"], "65 Ocean Dr.");
        assert_eq!(account["BillingCity"], "Half Moon Bay");
        assert_eq!(account["Phone"], "(415) 555-9933");
        assert_eq!(account["Email__c"], "ap@coolcars.example");
        // The external id is the URL's, not a body field.
        assert!(account.get("QBO_Customer_Id__c").is_none(), "{account}");
        let linked: Option<String> = State::new(&platform.kv)
            .get(LINKS, &customer_key("58"))
            .unwrap();
        assert_eq!(linked.as_deref(), Some(ACCOUNT));

        // The same change again (a replayed webhook): the Account as written is unchanged.
        let mut written = account.clone();
        written["Id"] = json!(ACCOUNT);
        written["QBO_Customer_Id__c"] = json!("58");
        let platform = platform.rerouted(
            Routes::new()
                .on(Get, "select * from Customer where Id in ('58')", |_| {
                    qbo_query("Customer", json!([customer()]))
                })
                .on(
                    Get,
                    &format!("FROM Account WHERE Id = '{ACCOUNT}'"),
                    move |_| soql(json!([written])),
                ),
        );
        let report = run_job(&platform.platform(), "sync-quickbooks", only).unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Customer", "58", Kind::Skipped, Some(ACCOUNT))],
        );
    }

    #[test]
    fn an_invoice_made_in_qbo_becomes_a_won_opportunity_and_one_with_our_doc_number_is_left_alone()
    {
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "select * from Invoice where Id in ('140', '141')", |_| {
                    qbo_query(
                        "Invoice",
                        json!([
                            {"Id": "140", "SyncToken": "0", "DocNumber": "1044",
                             "TxnDate": "2026-03-03", "CustomerRef": {"value": "58", "name": "Cool Cars"},
                             "TotalAmt": 300.00, "Balance": 300.00},
                            {"Id": "141", "SyncToken": "0", "DocNumber": "SF-006A000001DealAAA",
                             "TxnDate": "2026-03-03", "CustomerRef": {"value": "58", "name": "Cool Cars"},
                             "TotalAmt": 1250.50, "Balance": 1250.50}
                        ]),
                    )
                })
                .json(
                    Patch,
                    "/sobjects/Opportunity/QBO_Invoice_Id__c/140",
                    201,
                    json!({"id": "006A000009QboAAAA", "success": true, "errors": [], "created": true}),
                ),
        );
        // The customer's Account is linked.
        State::new(&platform.kv)
            .put(LINKS, &customer_key("58"), &ACCOUNT)
            .unwrap();
        let only = r#"{"only": ["Invoice:140", "Invoice:141"]}"#;
        let report = run_job(&platform.platform(), "sync-quickbooks", only).unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Invoice", "140", Kind::Created, Some("006A000009QboAAAA")),
                ("Invoice", "141", Kind::Skipped, None),
            ],
        );
        let opportunity = &platform.http.bodies(Patch, "/QBO_Invoice_Id__c/140")[0];
        assert_eq!(
            (
                &opportunity["Name"],
                &opportunity["AccountId"],
                &opportunity["StageName"]
            ),
            (
                &json!("QBO invoice 1044"),
                &json!(ACCOUNT),
                &json!("Closed Won")
            )
        );
        assert_eq!(opportunity["CloseDate"], "2026-03-03");
        assert_eq!(decimal(&opportunity["Amount"]), Some(dec!(300.00)));
        assert_eq!(opportunity["QBO_Invoice_Number__c"], "1044");
        // Linked as QBO's own: the invoice flow never rewrites it from the opportunity.
        let link: InvoiceLink = State::new(&platform.kv)
            .get(LINKS, &invoice_key("006A000009QboAAAA"))
            .unwrap()
            .unwrap();
        assert_eq!(
            (link.qbo_id.as_str(), link.hash.as_str()),
            ("140", EXTERNAL)
        );
    }
}

//! The location (QBO Department) and class of each customer's latest invoice, noted as invoices
//! pass through the QBO side (CDC, webhooks, by-id reads) and written to the Account's
//! `QBO_Department__c` and `QBO_Class__c` when they change. Latest is by `TxnDate`, then by Id;
//! an invoice with neither a location nor a class leaves what is known as it is.

use super::context::{Ctx, FlowResult};
use super::links;
use super::state::LINKS;
use crate::clients::json::{date, text};
use crate::clients::salesforce::soql_literal;
// The Account fields that receive them.
use crate::clients::salesforce_fields::{
    QBO_CLASS as CLASS_FIELD, QBO_DEPARTMENT as DEPARTMENT_FIELD,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// What the latest classified invoice of a customer says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub txn_date: Option<NaiveDate>,
    pub invoice_id: String,
    pub department: Option<String>,
    pub class: Option<String>,
}

impl Classification {
    /// Read from a QBO invoice: the header `DepartmentRef`, the header `ClassRef` else the first
    /// line's; a reference's name, else its id. `None` without a customer or either of them.
    pub fn of_invoice(invoice: &Value) -> Option<(String, Self)> {
        let customer = invoice.get("CustomerRef").and_then(|r| text(r, "value"))?;
        let name = |r: &Value| text(r, "name").or_else(|| text(r, "value"));
        let department = invoice.get("DepartmentRef").and_then(name);
        let class = invoice.get("ClassRef").and_then(name).or_else(|| {
            invoice
                .get("Line")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find_map(|l| {
                    l.get("SalesItemLineDetail")
                        .and_then(|d| d.get("ClassRef"))
                        .and_then(name)
                })
        });
        if department.is_none() && class.is_none() {
            return None;
        }
        Some((
            customer,
            Self {
                txn_date: date(invoice, "TxnDate"),
                invoice_id: text(invoice, "Id").unwrap_or_default(),
                department,
                class,
            },
        ))
    }

    /// Ordering key: later dates win, then higher (numeric) ids.
    fn key(&self) -> (Option<NaiveDate>, u64, &str) {
        (
            self.txn_date,
            self.invoice_id.parse().unwrap_or(0),
            &self.invoice_id,
        )
    }
}

fn key(customer_id: &str) -> String {
    format!("customer-classification/{customer_id}")
}

/// The classification noted for customer `customer_id`.
pub fn of_customer(ctx: &Ctx<'_>, customer_id: &str) -> Result<Option<Classification>, String> {
    ctx.state.get(LINKS, &key(customer_id))
}

/// Notes an invoice's location and class when it is its customer's latest, and writes them to
/// the customer's Account when they differ from what the Account holds.
pub fn note_invoice(ctx: &mut Ctx<'_>, invoice: &Value) -> FlowResult {
    let Some((customer, found)) = Classification::of_invoice(invoice) else {
        return Ok(());
    };
    let known = of_customer(ctx, &customer)?;
    if known.as_ref().is_some_and(|k| k.key() > found.key()) || known.as_ref() == Some(&found) {
        return Ok(());
    }
    if ctx.dry_run() {
        return Ok(());
    }
    ctx.state.put(LINKS, &key(&customer), &found)?;
    let account = match links::account_of(ctx, &customer)? {
        Some(a) => Some(a),
        None => links::currency_customer_of(ctx, &customer)?,
    };
    let Some(account) = account else {
        // Not linked yet: the Account gets it when its customer is synced.
        return Ok(());
    };
    let rows = match ctx.sf.query(&format!(
        "SELECT Id, {DEPARTMENT_FIELD}, {CLASS_FIELD} FROM Account WHERE Id = {}",
        soql_literal(&account)
    )) {
        Ok(rows) => rows,
        Err(e) => {
            ctx.report.failed("Invoice", &found.invoice_id, e.into());
            return Ok(());
        }
    };
    let Some(current) = rows.first() else {
        return Ok(());
    };
    let mut fields = Map::new();
    for (field, value) in [
        (DEPARTMENT_FIELD, &found.department),
        (CLASS_FIELD, &found.class),
    ] {
        if let Some(value) = value {
            if text(current, field).as_deref() != Some(value.as_str()) {
                fields.insert(field.into(), json!(value));
            }
        }
    }
    if fields.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = fields.keys().cloned().collect();
    match ctx.sf.update("Account", &account, &Value::Object(fields)) {
        Ok(()) => ctx.report.updated(
            "Invoice",
            &found.invoice_id,
            &account,
            format!(
                "the customer's latest location/class written to the Account ({})",
                names.join(", ")
            ),
        ),
        Err(e) => ctx.report.failed("Invoice", &found.invoice_id, e.into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invoice_names_its_location_and_the_header_or_first_line_class() {
        let inv = json!({"Id": "130", "TxnDate": "2026-03-01", "CustomerRef": {"value": "58"},
            "DepartmentRef": {"value": "2", "name": "West"},
            "Line": [{"SalesItemLineDetail": {"ClassRef": {"value": "5", "name": "Hardware"}}}]});
        let (customer, c) = Classification::of_invoice(&inv).unwrap();
        assert_eq!(customer, "58");
        assert_eq!(c.department.as_deref(), Some("West"));
        assert_eq!(c.class.as_deref(), Some("Hardware"));
        assert!(
            Classification::of_invoice(&json!({"Id": "1", "CustomerRef": {"value": "58"}}))
                .is_none()
        );
    }

    #[test]
    fn later_dates_then_higher_ids_are_latest() {
        let c = |d: &str, id: &str| Classification {
            txn_date: NaiveDate::parse_from_str(d, "%Y-%m-%d").ok(),
            invoice_id: id.into(),
            department: None,
            class: None,
        };
        assert!(c("2026-03-02", "9").key() > c("2026-03-01", "130").key());
        assert!(c("2026-03-01", "130").key() > c("2026-03-01", "99").key());
    }
}

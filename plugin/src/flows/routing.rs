//! Which flow handles each Salesforce object and each QBO entity, and running the flows over
//! the records a poll, a change event or a redo by id touched.

use super::context::{Abort, Ctx, FlowResult};
use super::{accounts, adjustments, inbound, invoices, orders, payments, products};
use crate::clients::json::text;
use crate::clients::salesforce::soql_list;
use crate::clients::salesforce_fields::{BLNG_INVOICE, BLNG_INVOICE_LINE, BLNG_LINE_INVOICE};
use crate::mapping::AdjustmentKind;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Each Salesforce flow over its records (after its `SystemModstamp` cursor, or all with
/// `full`).
pub fn salesforce_flows(ctx: &mut Ctx<'_>) -> FlowResult {
    accounts::run(ctx)?;
    products::run(ctx)?;
    invoices::run(ctx)?;
    orders::run(ctx)
}

/// Which flow an sObject's change feeds, and the parent field for child objects.
pub fn route(entity: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match entity {
        "Account" => ("Account", None),
        "Product2" => ("Product2", None),
        "PricebookEntry" => ("Product2", Some("Product2Id")),
        "Opportunity" => ("Opportunity", None),
        "OpportunityLineItem" => ("Opportunity", Some("OpportunityId")),
        "Order" => ("Order", None),
        "OrderItem" => ("Order", Some("OrderId")),
        // Invoice records (`invoice-source`): their changes feed the invoice flow.
        "Invoice" => ("Invoice", None),
        "InvoiceLine" => ("Invoice", Some("InvoiceId")),
        BLNG_INVOICE => (BLNG_INVOICE, None),
        BLNG_INVOICE_LINE => (BLNG_INVOICE, Some(BLNG_LINE_INVOICE)),
        _ => return None,
    })
}

/// The parents (`field`, e.g. `OpportunityId`) of child records `ids` of `object`: a changed
/// line re-syncs its opportunity, a changed price book entry its product.
pub fn parents_of(
    ctx: &mut Ctx<'_>,
    object: &str,
    field: &str,
    ids: &[String],
) -> Result<Vec<String>, Abort> {
    let mut parents = Vec::new();
    for chunk in ids.chunks(200) {
        let rows = ctx.sf.query(&format!(
            "SELECT {field} FROM {object} WHERE Id IN ({})",
            soql_list(chunk)
        ))?;
        parents.extend(rows.iter().filter_map(|r| text(r, field)));
    }
    Ok(parents)
}

/// Runs each flow over the ids its objects' changes touched.
pub fn run_touched(
    ctx: &mut Ctx<'_>,
    touched: &BTreeMap<&'static str, BTreeSet<String>>,
) -> FlowResult {
    let saved = ctx.args.only.clone();
    for (flow, ids) in touched {
        ctx.args.only = Some(ids.iter().cloned().collect());
        match *flow {
            "Account" => accounts::run(ctx)?,
            "Product2" => products::run(ctx)?,
            "Opportunity" | "Invoice" | BLNG_INVOICE => invoices::run(ctx)?,
            _ => orders::run(ctx)?,
        }
    }
    ctx.args.only = saved;
    Ok(())
}

/// A QBO invoice not linked yet, changed or created: one QBO generated from a subscription's
/// recurring template goes to the invoice flow's subscriptions; any other to `inbound`.
pub fn invoice_from_qbo(ctx: &mut Ctx<'_>, value: &Value) -> FlowResult {
    if invoices::from_template(ctx, value)? {
        return Ok(());
    }
    inbound::invoice_to_opportunity(ctx, value)
}

/// QBO records by id (`only`, as `Customer:<id>`, `Invoice:<id>`, `CreditMemo:<id>`,
/// `RefundReceipt:<id>` or `Payment:<id>`; a bare id is a customer): customers and invoices to
/// Salesforce, payments, credits and refunds to the figures of the records they touch. This is
/// the job that redoes a webhook's failed records.
pub fn quickbooks_ids(ctx: &mut Ctx<'_>) -> FlowResult {
    let mut wanted: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for id in ctx.args.only.clone().unwrap_or_default() {
        let named = ctx.args.entities.get(&id).map(|e| e.to_ascii_lowercase());
        let entity = QBO_ENTITIES
            .into_iter()
            .find(|e| named.as_deref() == Some(e.to_ascii_lowercase().as_str()))
            .unwrap_or("Customer");
        wanted.entry(entity).or_default().push(id);
    }
    // Customers first, so that an invoice finds its customer's account already there; credits
    // and refunds before payments, which may apply them.
    for entity in QBO_ENTITIES {
        let Some(ids) = wanted.remove(entity) else {
            continue;
        };
        if entity == "Payment" {
            payments::apply_ids(ctx, &ids)?;
            continue;
        }
        let found = match ctx.qbo.read_many(entity, &ids) {
            Ok(found) => found,
            Err(e) => {
                for id in &ids {
                    ctx.report.failed(entity, id, e.clone().into());
                }
                continue;
            }
        };
        for id in &ids {
            match found.get(id) {
                Some(v) if entity == "Customer" => {
                    inbound::customer_to_account(ctx, v)?;
                }
                Some(v) => apply_change(ctx, entity, v)?,
                None => apply_gone(ctx, entity, id)?,
            }
        }
    }
    Ok(())
}

/// The QBO entities whose changes reach Salesforce, in the order they are applied.
pub const QBO_ENTITIES: [&str; 5] = [
    "Customer",
    "Invoice",
    "CreditMemo",
    "RefundReceipt",
    "Payment",
];

/// True for QBO's stub of a deleted record (`status: Deleted`).
pub fn is_deleted(v: &Value) -> bool {
    v.get("status").and_then(Value::as_str) == Some("Deleted")
}

/// A record QBO no longer has when read by id: a deletion, applied as QBO's stub of one (a
/// customer is only reported: deleting an Account is left to a person).
pub fn apply_gone(ctx: &mut Ctx<'_>, entity: &str, id: &str) -> FlowResult {
    if entity == "Customer" {
        ctx.report.skipped(entity, id, None, "no longer in QBO");
        return Ok(());
    }
    let stub = json!({"Id": id, "TxnDate": ctx.today().to_string(), "status": "Deleted"});
    apply_change(ctx, entity, &stub)
}

/// Applies one QBO change (as CDC, a query or a read gave it; a deletion is QBO's
/// `status: Deleted` stub) through the flow that handles its entity.
pub fn apply_change(ctx: &mut Ctx<'_>, entity: &str, v: &Value) -> FlowResult {
    let deleted = is_deleted(v);
    let id = text(v, "Id").unwrap_or_default();
    match (entity, deleted) {
        ("Payment", _) => payments::apply(ctx, v, deleted),
        ("CreditMemo", _) => adjustments::document(ctx, AdjustmentKind::CreditMemo, v, deleted),
        ("RefundReceipt", _) => adjustments::document(ctx, AdjustmentKind::Refund, v, deleted),
        ("Invoice", _) if adjustments::invoice_changed(ctx, v, deleted)? => Ok(()),
        ("Customer", false) => inbound::customer_to_account(ctx, v).map(|_| ()),
        ("Invoice", false) => invoice_from_qbo(ctx, v),
        (_, true) => {
            ctx.report.skipped(
                entity,
                &id,
                None,
                "deleted in QBO; nothing to do in Salesforce",
            );
            Ok(())
        }
        _ => Ok(()),
    }
}

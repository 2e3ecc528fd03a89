//! Invoices whose opportunity changed after invoicing, brought up to date in bulk: one query
//! reads the current invoices of a chunk, one `/batch` sends their sparse updates. A paid or
//! voided invoice is never changed (the change is reported instead). An update that meets a
//! 5010 (someone saved the invoice in between) is re-read and retried once on its own; being
//! sparse, it keeps whatever others set in QBO.

use super::plan::{invoice_fields, Planned};
use crate::clients::json::display_money;
use crate::clients::quickbooks::{literal_list, BatchOp};
use crate::clients::quickbooks_json::{invoice_view, InvoiceView};
use crate::clients::ApiError;
use crate::flows::context::{Abort, Ctx, FlowResult};
use crate::flows::ids::{batch_request_id, content_hash, request_id};
use crate::flows::links;
use crate::flows::report::Failure;
use crate::flows::salesforce_io::write_back;
use crate::flows::settlement;
use serde_json::{json, Value};

/// One invoice to bring up to date: the plan, the invoice's Id and, when already read in this
/// run, its current state.
pub struct Change {
    pub planned: Planned,
    pub invoice_id: String,
    pub current: Option<InvoiceView>,
}

/// Updates the chunk's changed invoices (at most one `/batch` of them).
pub fn update_all(ctx: &mut Ctx<'_>, changes: Vec<Change>) -> FlowResult {
    let Some(object) = changes.first().map(|c| c.planned.owner.object.clone()) else {
        return Ok(());
    };
    let unread: Vec<String> = changes
        .iter()
        .filter(|c| c.current.is_none())
        .map(|c| c.invoice_id.clone())
        .collect();
    let mut read: Vec<InvoiceView> = Vec::new();
    if !unread.is_empty() {
        match ctx.qbo.query(&format!(
            "select * from Invoice where Id in ({})",
            literal_list(&unread)
        )) {
            Ok(rows) => read = rows.iter().filter_map(invoice_view).collect(),
            Err(e) => {
                let ids: Vec<&str> = changes
                    .iter()
                    .map(|c| c.planned.opportunity.id.as_str())
                    .collect();
                return fail_all(ctx, &object, &ids, e);
            }
        }
    }
    let mut sends: Vec<(Planned, String, Value)> = Vec::new();
    for change in changes {
        let current = change
            .current
            .or_else(|| read.iter().find(|v| v.id == change.invoice_id).cloned());
        let Some(view) = current else {
            gone(ctx, &change.planned, &change.invoice_id);
            continue;
        };
        if let Some(body) = updatable(ctx, &change.planned, &view) {
            sends.push((change.planned, view.id, body));
        }
    }
    if sends.is_empty() {
        return Ok(());
    }
    let ops: Vec<BatchOp> = sends
        .iter()
        .map(|(_, _, body)| BatchOp::Update("Invoice", body.clone()))
        .collect();
    let keys: Vec<String> = sends
        .iter()
        .map(|(p, _, body)| format!("{}:{}", p.opportunity.id, content_hash(body)))
        .collect();
    let results = match ctx.qbo.batch(&ops, Some(&batch_request_id("invu", &keys))) {
        Ok(r) => r,
        Err(e) => {
            let ids: Vec<&str> = sends
                .iter()
                .map(|(p, _, _)| p.opportunity.id.as_str())
                .collect();
            return fail_all(ctx, &object, &ids, e);
        }
    };
    let mut writebacks = Vec::new();
    for ((planned, invoice_id, _), result) in sends.iter().zip(results) {
        let wb = match result {
            Ok(v) => match invoice_view(&v) {
                Some(inv) => Some(record_updated(ctx, planned, &inv)?),
                None => {
                    ctx.report.failed(
                        &planned.owner.object,
                        &planned.opportunity.id,
                        Failure::Api(ApiError::Decode("the updated invoice has no Id".into())),
                    );
                    None
                }
            },
            Err(e) if e.is_stale() => update_one(ctx, planned, invoice_id)?,
            Err(e) => {
                ctx.report
                    .failed(&planned.owner.object, &planned.opportunity.id, e.into());
                None
            }
        };
        writebacks.extend(wb);
    }
    write_back(ctx, &object, &writebacks);
    Ok(())
}

/// Re-reads one invoice and updates it; the path after a 5010. Returns its write-back.
fn update_one(
    ctx: &mut Ctx<'_>,
    planned: &Planned,
    invoice_id: &str,
) -> Result<Option<Value>, Abort> {
    let o = &planned.opportunity;
    let object = planned.owner.object.as_str();
    let view = match ctx.qbo.read("Invoice", invoice_id) {
        Ok(Some(v)) => invoice_view(&v),
        Ok(None) => None,
        Err(e) => {
            ctx.report.failed(object, &o.id, e.into());
            return Ok(None);
        }
    };
    let Some(view) = view else {
        gone(ctx, planned, invoice_id);
        return Ok(None);
    };
    let Some(body) = updatable(ctx, planned, &view) else {
        return Ok(None);
    };
    let rid = request_id("invu", &o.id, &content_hash(&body));
    match ctx.qbo.update("Invoice", &body, &rid) {
        Ok(v) => match invoice_view(&v) {
            Some(inv) => Ok(Some(record_updated(ctx, planned, &inv)?)),
            None => Ok(Some(record_updated(ctx, planned, &view)?)),
        },
        Err(e) => {
            ctx.report.failed(object, &o.id, e.into());
            Ok(None)
        }
    }
}

/// The sparse update body for `view`, or `None` when it must not (or, in a dry run, will not)
/// be sent: the reason is reported.
fn updatable(ctx: &mut Ctx<'_>, planned: &Planned, view: &InvoiceView) -> Option<Value> {
    let o = &planned.opportunity;
    let object = planned.owner.object.as_str();
    if view.voided || view.balance < view.total_amt {
        let why = if view.voided {
            "voided"
        } else {
            "paid (in part or in full)"
        };
        ctx.report.failed(
            object,
            &o.id,
            Failure::Invalid(format!(
                "{object} {} changed after invoice {} was {why}; the invoice was not changed",
                o.id,
                view.doc_number.clone().unwrap_or(view.id.clone())
            )),
        );
        return None;
    }
    if ctx.dry_run() {
        ctx.report
            .updated(object, &o.id, &view.id, "would update the invoice");
        return None;
    }
    let mut body = planned.body.clone();
    if let Some(obj) = body.as_object_mut() {
        obj.insert("Id".into(), json!(view.id));
        obj.insert("SyncToken".into(), json!(view.sync_token));
        // Sparse: fields Salesforce does not own (a memo, a custom field a bookkeeper set in
        // QBO) survive the update, including the retry after a 5010.
        obj.insert("sparse".into(), json!(true));
    }
    Some(body)
}

/// Stores the new link and reports the update; returns the opportunity's write-back.
fn record_updated(ctx: &mut Ctx<'_>, planned: &Planned, inv: &InvoiceView) -> Result<Value, Abort> {
    let o = &planned.opportunity;
    links::store_owned_invoice_link(
        ctx,
        &planned.owner,
        &inv.id,
        inv.doc_number.clone(),
        &planned.hash,
    )?;
    ctx.report.updated(
        &planned.owner.object,
        &o.id,
        &inv.id,
        format!(
            "invoice {} updated to {}",
            inv.doc_number.clone().unwrap_or_default(),
            display_money(inv.total_amt)
        ),
    );
    Ok(invoice_fields(
        ctx,
        &o.id,
        &inv.id,
        inv.doc_number.as_deref(),
    ))
}

/// True (and reported as skipped) when the opportunity's invoice was deleted in QBO: a
/// bookkeeper deleted it on purpose, so it is neither made again nor written back.
pub fn deleted_in_quickbooks(ctx: &mut Ctx<'_>, opportunity_id: &str, invoice_id: &str) -> bool {
    let deleted = settlement::adjustments(ctx, invoice_id)
        .is_ok_and(|a| a.state == crate::mapping::InvoiceState::Deleted);
    if deleted {
        ctx.report.skipped(
            "Opportunity",
            opportunity_id,
            Some(invoice_id),
            "its invoice was deleted in QBO (its payment status says Invoice Deleted); not invoiced again",
        );
    }
    deleted
}

fn gone(ctx: &mut Ctx<'_>, planned: &Planned, invoice_id: &str) {
    if deleted_in_quickbooks(ctx, &planned.opportunity.id, invoice_id) {
        return;
    }
    ctx.report.failed(
        &planned.owner.object,
        &planned.opportunity.id,
        Failure::Invalid(format!(
            "linked invoice {invoice_id} no longer exists in QBO"
        )),
    );
}

/// Reports every opportunity of a request that failed as a whole (a batch of creates or
/// updates, a read); a throttle ends the run (it is rescheduled), anything else leaves the rest
/// of the run going.
pub fn fail_all(
    ctx: &mut Ctx<'_>,
    object: &str,
    opportunity_ids: &[&str],
    e: ApiError,
) -> FlowResult {
    for id in opportunity_ids {
        ctx.report.failed(object, id, e.clone().into());
    }
    match e {
        ApiError::Throttled { .. } => Err(Abort(Failure::Api(e))),
        _ => Ok(()),
    }
}

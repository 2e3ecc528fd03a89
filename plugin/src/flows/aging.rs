//! Daily invoice aging: buckets through `age-invoices`, Days Outstanding written to each
//! Opportunity, and a notification only for newly crossed 30/60/90-day thresholds (the
//! previous state is kept, so a rerun on the same day alerts nothing new).

use super::context::{Ctx, FlowResult};
use super::links::opportunity_of;
use super::report::Failure;
use super::salesforce_io::write_back;
use super::state::{REPORTS, STATE};
use super::stored_reports::{aging_key, AGING_LATEST};
use crate::clients::json::number;
use crate::clients::quickbooks_json::invoice_view;
use crate::clients::salesforce_fields::DAYS_OUTSTANDING;
use crate::mapping::{age_invoices, AgingInput, AgingState, OpenInvoice};
use serde_json::json;

/// Ages every open invoice as of `as-of` (default today).
pub fn run(ctx: &mut Ctx<'_>) -> FlowResult {
    let as_of = ctx.today();
    let rows = ctx.qbo.query("select * from Invoice where Balance > '0'")?;
    let mut open = Vec::new();
    for row in &rows {
        let Some(inv) = invoice_view(row) else {
            continue;
        };
        let Some(txn_date) = inv.txn_date else {
            ctx.report.failed(
                "Invoice",
                &inv.id,
                Failure::Invalid(format!("Invoice {}: TxnDate is missing", inv.id)),
            );
            continue;
        };
        open.push(OpenInvoice {
            opportunity_id: opportunity_of(ctx, &inv.id)?,
            customer_name: inv.customer.as_ref().and_then(|c| c.name.clone()),
            due_date: inv.due_date.unwrap_or(txn_date),
            doc_number: inv.doc_number.clone(),
            invoice_id: inv.id.clone(),
            txn_date,
            balance: inv.balance,
        });
    }
    let previous: Vec<AgingState> = ctx.state.get(STATE, "aging")?.unwrap_or_default();
    let report = match age_invoices(&AgingInput {
        invoices: open,
        as_of,
        previous,
        thresholds: ctx.settings.aging_thresholds.clone(),
    }) {
        Ok(r) => r,
        Err(e) => return Err(super::context::Abort(Failure::Mapping(e))),
    };
    let writes: Vec<_> = report
        .invoices
        .iter()
        .filter_map(|i| {
            i.opportunity_id.as_ref().map(
                |o| json!({"Id": o, DAYS_OUTSTANDING: number(i.days_outstanding.max(0).into())}),
            )
        })
        .collect();
    for alert in &report.alerts {
        ctx.notice(alert.message.clone());
    }
    if ctx.dry_run() {
        ctx.report.skipped(
            "Aging",
            &as_of.to_string(),
            None,
            format!("would update {} opportunities", writes.len()),
        );
        return Ok(());
    }
    write_back(ctx, "Opportunity", &writes);
    ctx.state.put(STATE, "aging", &report.state)?;
    ctx.state.put(REPORTS, &aging_key(as_of), &report)?;
    ctx.state.put(REPORTS, AGING_LATEST, &report)?;
    ctx.report.updated(
        "Aging",
        &as_of.to_string(),
        &format!("{} invoices", report.invoices.len()),
        format!(
            "{} open invoices, {} outstanding, {} new alerts",
            report.invoices.len(),
            report.total_open,
            report.alerts.len()
        ),
    );
    Ok(())
}

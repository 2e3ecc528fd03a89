//! Invoice creates in `/batch` requests, one batch ahead: a chunk's batch is started (the host
//! holds it for QBO's batch permit and sends it on its own) before the batch before it is
//! landed. Planning the next chunk, storing links, reporting, emailing and writing back the
//! last batch's invoices to Salesforce then happen while the next batch waits for its permit,
//! instead of between two permits.
//!
//! What does not change: each batch carries its `requestid` (derived from its records and
//! their content, so a resent batch is answered from QBO's replay cache); a link is stored
//! only from QBO's answer, and the write-back follows the link; a record's error is reported
//! on that record alone. At most two batches are in flight, and a page (whatever stops it)
//! ends only once every batch it started is landed.

use super::plan::{invoice_fields, Planned};
use super::records::Source;
use super::{send_if_due, updates};
use crate::clients::json::display_money;
use crate::clients::notify::Markup;
use crate::clients::quickbooks::{BatchOp, StartedBatch};
use crate::clients::quickbooks_json::invoice_view;
use crate::clients::ApiError;
use crate::flows::context::{Ctx, FlowResult};
use crate::flows::ids::batch_request_id;
use crate::flows::links;
use crate::flows::notice_text;
use crate::flows::report::Failure;
use crate::flows::salesforce_io::write_back;

/// A batch of creates sent, not yet landed.
struct InFlight {
    creates: Vec<Planned>,
    started: StartedBatch,
}

/// The batch in flight between two chunks.
#[derive(Default)]
pub struct OneAhead {
    flight: Option<InFlight>,
}

impl OneAhead {
    /// Starts the batch of `creates` (none when empty), then lands the batch before it.
    pub fn push(&mut self, ctx: &mut Ctx<'_>, source: Source, creates: Vec<Planned>) -> FlowResult {
        let next = start(ctx, creates);
        let before = std::mem::replace(&mut self.flight, next);
        match before {
            Some(flight) => land(ctx, source, flight),
            None => Ok(()),
        }
    }

    /// Lands the last batch.
    pub fn finish(mut self, ctx: &mut Ctx<'_>, source: Source) -> FlowResult {
        match self.flight.take() {
            Some(flight) => land(ctx, source, flight),
            None => Ok(()),
        }
    }
}

/// Sends the creates in one `/batch` (a lone one as a plain create) without waiting.
fn start(ctx: &Ctx<'_>, creates: Vec<Planned>) -> Option<InFlight> {
    if creates.is_empty() {
        return None;
    }
    let ops: Vec<BatchOp> = creates
        .iter()
        .map(|p| BatchOp::Create("Invoice", p.body.clone()))
        .collect();
    let keys: Vec<String> = creates
        .iter()
        .map(|p| format!("{}:{}", p.opportunity.id, p.hash))
        .collect();
    let started = ctx
        .qbo
        .start_batch(&ops, Some(&batch_request_id("inv", &keys)));
    Some(InFlight { creates, started })
}

/// Takes a batch's answer: each created invoice is linked, reported, announced and emailed
/// when due, then the batch's invoice fields are written back to Salesforce.
fn land(ctx: &mut Ctx<'_>, source: Source, flight: InFlight) -> FlowResult {
    let object = source.object;
    let InFlight { creates, started } = flight;
    let results = match ctx.qbo.finish_batch(started) {
        Ok(r) => r,
        Err(e) => {
            let ids: Vec<&str> = creates.iter().map(|p| p.opportunity.id.as_str()).collect();
            return updates::fail_all(ctx, object, &ids, e);
        }
    };
    let mut writebacks = Vec::new();
    for (p, result) in creates.iter().zip(results) {
        match result.map(|v| invoice_view(&v)) {
            Ok(Some(inv)) => {
                links::store_owned_invoice_link(
                    ctx,
                    &source.owner(&p.opportunity.id),
                    &inv.id,
                    inv.doc_number.clone(),
                    &p.hash,
                )?;
                ctx.report.created(
                    object,
                    &p.opportunity.id,
                    &inv.id,
                    format!(
                        "invoice {} for {}",
                        inv.doc_number.clone().unwrap_or_default(),
                        display_money(inv.total_amt)
                    ),
                );
                let mut line = Markup::plain("Invoice ");
                line.push(notice_text::invoice(
                    &ctx.settings,
                    &inv.id,
                    inv.doc_number.as_deref(),
                ))
                .push_plain(&format!(
                    " ({}) created for {object} ",
                    display_money(inv.total_amt)
                ));
                if source.is_record() {
                    line.push_plain(&format!("{} ({})", p.opportunity.name, p.opportunity.id));
                } else {
                    line.push(notice_text::opportunity(
                        &ctx.settings,
                        &p.opportunity.id,
                        Some(&p.opportunity.name),
                    ));
                }
                ctx.notice(line);
                writebacks.push(invoice_fields(
                    ctx,
                    &p.opportunity.id,
                    &inv.id,
                    inv.doc_number.as_deref(),
                ));
                send_if_due(ctx, object, &p.opportunity.id, &inv.id, &p.body)?;
            }
            Ok(None) => ctx.report.failed(
                object,
                &p.opportunity.id,
                Failure::Api(ApiError::Decode("the created invoice has no Id".into())),
            ),
            Err(e) => ctx.report.failed(object, &p.opportunity.id, e.into()),
        }
    }
    write_back(ctx, object, &writebacks);
    Ok(())
}

//! Activated Salesforce Order -> QBO JournalEntry through `build-journal-entry`. Posted entries
//! are never edited: a change or a cancellation posts a reversing entry (and, for a change, the
//! new entry), each with its own `requestid`.

use super::accounts::{self, AccountLink};
use super::context::{Abort, Ctx, FlowResult};
use super::ids::{content_hash, request_id};
use super::report::Failure;
use super::state::LINKS;
use crate::clients::quickbooks_json::journal_json;
use crate::clients::salesforce_json::{order, ORDER_FIELDS};
use crate::mapping::{build_journal_entry, JournalInput};
use crate::model::{Reference, SfOrder};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What is remembered of a posted order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OrderLink {
    /// The JournalEntry posted for it.
    pub entry_id: String,
    /// Fingerprint of the order as posted.
    pub hash: String,
    /// The order as posted (to build its reversal).
    pub order: SfOrder,
}

fn link_key(order_id: &str) -> String {
    format!("order/{order_id}")
}

/// Orders changed since the cursor (or `only`, or all with `full`). An `only` id that is not
/// found any more is a deleted order: its entry is reversed.
pub fn run(ctx: &mut Ctx<'_>) -> FlowResult {
    let rows = super::triggers::select(ctx, "Order", ORDER_FIELDS, "")?;
    let mut seen = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        if n % 25 == 0 {
            ctx.progress("Order", n, rows.len());
        }
        match order(row) {
            Ok(o) => {
                seen.push(o.id.clone());
                sync_one(ctx, Some(&o), &o.id)?;
            }
            Err(e) => {
                let id = row.get("Id").and_then(Value::as_str).unwrap_or("?");
                ctx.report.failed("Order", id, Failure::Invalid(e));
            }
        }
    }
    for id in ctx.args.only.clone().unwrap_or_default() {
        if !seen.contains(&id) && ctx.state.get::<OrderLink>(LINKS, &link_key(&id))?.is_some() {
            sync_one(ctx, None, &id)?;
        }
    }
    ctx.progress("Order", rows.len(), rows.len());
    super::triggers::advance_modstamp(ctx, "Order", &rows)
}

fn sync_one(ctx: &mut Ctx<'_>, current: Option<&SfOrder>, id: &str) -> FlowResult {
    let link: Option<OrderLink> = ctx.state.get(LINKS, &link_key(id))?;
    let active = current.is_some_and(|o| o.status == ctx.settings.posted_order_status);
    let hash = current
        .map(|o| content_hash(&serde_json::to_value(o).unwrap_or(Value::Null)))
        .unwrap_or_default();
    match (&link, active) {
        (Some(l), true) if l.hash == hash => {
            ctx.report
                .skipped("Order", id, Some(&l.entry_id), "already posted; unchanged");
            return Ok(());
        }
        (None, false) => {
            let status = current.map(|o| o.status.as_str()).unwrap_or("deleted");
            ctx.report
                .skipped("Order", id, None, format!("not posted: status {status}"));
            return Ok(());
        }
        _ => {}
    }
    if let Some(l) = &link {
        // Changed or cancelled after posting: reverse what was posted.
        let Some(reversal) = post(ctx, &l.order, true, &format!("rev-{}", l.entry_id))? else {
            return Ok(());
        };
        if !ctx.dry_run() {
            ctx.state.delete(LINKS, &link_key(id))?;
        }
        if !active {
            ctx.report.updated(
                "Order",
                id,
                &reversal,
                format!("cancelled: entry {} reversed by {reversal}", l.entry_id),
            );
            ctx.notice(format!(
                "Order {id} cancelled: journal entry {} reversed",
                l.entry_id
            ));
            return Ok(());
        }
    }
    let Some(o) = current else { return Ok(()) };
    let Some(entry) = post(ctx, o, false, &hash)? else {
        return Ok(());
    };
    if ctx.dry_run() {
        return Ok(());
    }
    ctx.state.put(
        LINKS,
        &link_key(id),
        &OrderLink {
            entry_id: entry.clone(),
            hash,
            order: o.clone(),
        },
    )?;
    super::invoices::write_back(
        ctx,
        "Order",
        &[json!({"Id": id, "QBO_Journal_Entry_Id__c": entry})],
    );
    match &link {
        Some(l) => ctx.report.updated(
            "Order",
            id,
            &entry,
            format!(
                "changed: entry {} reversed, entry {entry} posted",
                l.entry_id
            ),
        ),
        None => ctx
            .report
            .created("Order", id, &entry, format!("journal entry {entry} posted")),
    }
    Ok(())
}

/// Builds and posts an entry (or its reversal); `None` when it failed (reported).
fn post(
    ctx: &mut Ctx<'_>,
    o: &SfOrder,
    reversal: bool,
    key: &str,
) -> Result<Option<String>, Abort> {
    let customer = match &o.account_id {
        Some(a) => ctx
            .state
            .get::<AccountLink>(LINKS, &accounts::link_key(a))?
            .map(|l| Reference::id(l.qbo_id)),
        None => None,
    };
    let input = JournalInput {
        order: o.clone(),
        rules: ctx.settings.journal_rules.clone(),
        receivable_account: ctx.settings.receivable_account.clone(),
        customer,
        reversal,
        reversal_date: reversal.then(|| ctx.today()),
    };
    let entry = match build_journal_entry(&input) {
        Ok(e) => e,
        Err(e) => {
            ctx.report.failed("Order", &o.id, Failure::Mapping(e));
            return Ok(None);
        }
    };
    if ctx.dry_run() {
        let what = if reversal { "reverse" } else { "post" };
        ctx.report.created(
            "Order",
            &o.id,
            "(new)",
            format!("would {what} a journal entry of {}", entry.total),
        );
        return Ok(None);
    }
    let body = journal_json(&entry);
    let kind = if reversal { "jer" } else { "je" };
    match ctx
        .qbo
        .create("JournalEntry", &body, &request_id(kind, &o.id, key))
    {
        Ok(v) => Ok(v.get("Id").and_then(Value::as_str).map(str::to_string)),
        Err(e) => {
            ctx.report.failed("Order", &o.id, e.into());
            Ok(None)
        }
    }
}

//! What starts the flows (besides the polls, `salesforce_poll.rs` and `quickbooks_poll.rs`, and
//! Salesforce change events in `change_events.rs`): `backfill`; the redo of named records; QBO
//! webhooks (legacy and CloudEvents), which are only hints: the full record is always fetched,
//! so duplicates and out-of-order events are harmless, and a CDC pass covers any gap since the
//! last cursor.

use super::context::{Ctx, FlowResult};
use super::quickbooks_poll::{poll_quickbooks, poll_quickbooks_covering};
use super::report::Failure;
use super::routing::{
    self, apply_change, apply_gone, route, run_touched, salesforce_flows, QBO_ENTITIES,
};
use super::salesforce_poll;
use super::state::CURSORS;
use crate::clients::ApiError;
use chrono::Utc;
use ledgerlink_qbo_webhook::{self as qbo_webhook, WebhookEvent};
use std::collections::{BTreeMap, BTreeSet};

/// Every flow over every record, then the QBO side.
pub fn backfill(ctx: &mut Ctx<'_>) -> FlowResult {
    let started = Utc::now();
    ctx.args.full = true;
    salesforce_flows(ctx)?;
    ctx.args.full = false;
    // Polling resumes from here: everything before is covered.
    salesforce_poll::mark_backfilled(ctx, started)?;
    poll_quickbooks(ctx)
}

/// Redoes exactly the records `only` names, each through the flow that handles its entity: how
/// the polls and `backfill` honour `only`, so that the error ledger's retry of a record that
/// failed inside them (filed as `<entity>:<id>` under that job) redoes that record and nothing
/// else. QBO records are read by id, as `sync-quickbooks` reads them.
pub fn redo_only(ctx: &mut Ctx<'_>) -> FlowResult {
    let mut salesforce: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut quickbooks = Vec::new();
    for id in ctx.args.only.clone().unwrap_or_default() {
        let entity = ctx.args.entities.get(&id).cloned().unwrap_or_default();
        match (entity.as_str(), route(&entity)) {
            (e, _) if QBO_ENTITIES.contains(&e) => quickbooks.push(id),
            (_, Some((flow, None))) => {
                salesforce.entry(flow).or_default().insert(id);
            }
            ("", _) => ctx.report.skipped(
                "Record",
                &id,
                None,
                "not redone: name the record as <entity>:<id> (e.g. Opportunity:<id>)",
            ),
            _ => ctx
                .report
                .skipped(&entity, &id, None, "not a record this job syncs"),
        }
    }
    run_touched(ctx, &salesforce)?;
    if !quickbooks.is_empty() {
        let saved = ctx.args.only.replace(quickbooks);
        routing::quickbooks_ids(ctx)?;
        ctx.args.only = saved;
    }
    Ok(())
}

/// The entities a QBO webhook names, legacy or CloudEvents, read by the one reader of the
/// format the host's receiver uses too; an error names the malformed field.
pub fn parse_webhook(body: &str) -> Result<Vec<WebhookEvent>, String> {
    qbo_webhook::parse(body.as_bytes())
        .map(|parsed| parsed.events)
        .map_err(|e| format!("QBO webhook: {e}"))
}

/// A webhook is a hint: one CDC pass since the cursor fetches every changed record in full
/// (covering anything a lost webhook missed); the hinted records CDC did not return are read,
/// one query per entity, and a payment that no longer exists is reversed.
pub fn on_quickbooks_webhook(ctx: &mut Ctx<'_>, hints: Vec<WebhookEvent>) -> FlowResult {
    let before: Option<String> = ctx.state.get(CURSORS, "qbo-cdc")?;
    let covered = poll_quickbooks_covering(ctx)?;
    let mut seen = BTreeSet::new();
    // The hinted records CDC did not cover, read in one query per entity; customers first, so
    // that invoices and payments find what they refer to.
    let mut uncovered: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for h in hints {
        if !seen.insert((h.entity.clone(), h.id.clone()))
            || covered.contains(&(h.entity.clone(), h.id.clone()))
            || at_or_before(h.last_updated.as_deref(), before.as_deref())
        {
            continue;
        }
        let Some(entity) = QBO_ENTITIES.into_iter().find(|e| *e == h.entity) else {
            ctx.report
                .skipped(&h.entity, &h.id, None, "not synced to Salesforce");
            continue;
        };
        uncovered.entry(entity).or_default().push(h.id);
    }
    for entity in QBO_ENTITIES {
        let Some(ids) = uncovered.remove(entity) else {
            continue;
        };
        let found = match ctx.qbo.read_many(entity, &ids) {
            Ok(found) => found,
            Err(ApiError::Throttled { retry_at }) => {
                return Err(Failure::Api(ApiError::Throttled { retry_at }).into())
            }
            Err(e) => {
                for id in &ids {
                    ctx.report.failed(entity, id, e.clone().into());
                }
                continue;
            }
        };
        for id in ids {
            match found.get(&id) {
                Some(v) => apply_change(ctx, entity, v)?,
                None => apply_gone(ctx, entity, &id)?,
            }
        }
    }
    Ok(())
}

/// True when a change at `at` was already covered by a CDC pass up to `cursor`.
fn at_or_before(at: Option<&str>, cursor: Option<&str>) -> bool {
    let parse = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
    match (at.and_then(parse), cursor.and_then(parse)) {
        (Some(at), Some(cursor)) => at <= cursor,
        _ => false,
    }
}

impl From<Failure> for super::context::Abort {
    fn from(f: Failure) -> Self {
        super::context::Abort(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_and_cloudevents_webhooks_name_their_entities() {
        let legacy = r#"{"eventNotifications":[{"realmId":"1","dataChangeEvent":{"entities":[
            {"name":"Payment","id":"5","operation":"Create","lastUpdated":"2026-01-01T00:00:00Z"}]}}]}"#;
        let events = parse_webhook(legacy).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            (events[0].entity.as_str(), events[0].id.as_str()),
            ("Payment", "5")
        );
        assert_eq!(events[0].operation, qbo_webhook::Operation::Create);
        assert_eq!(
            events[0].last_updated.as_deref(),
            Some("2026-01-01T00:00:00Z")
        );
        let ce = r#"[{"specversion":"1.0","id":"x","type":"qbo.invoice.voided.v1","intuitentityid":"9","intuitaccountid":"1","data":{}}]"#;
        assert_eq!(parse_webhook(ce).unwrap()[0].entity, "Invoice");
        assert_eq!(
            parse_webhook(ce).unwrap()[0].operation,
            qbo_webhook::Operation::Void
        );
        assert!(parse_webhook("{").unwrap_err().contains("not JSON"));
        assert!(at_or_before(
            Some("2026-01-01T00:00:00Z"),
            Some("2026-01-01T00:00:01Z")
        ));
        assert!(!at_or_before(
            Some("2026-01-01T00:00:02Z"),
            Some("2026-01-01T00:00:01Z")
        ));
        assert!(!at_or_before(None, Some("2026-01-01T00:00:01Z")));
        assert!(
            parse_webhook(r#"[{"type":"qbo.payment.created.v1","intuitaccountid":"1"}]"#)
                .unwrap_err()
                .contains("intuitentityid")
        );
    }
}

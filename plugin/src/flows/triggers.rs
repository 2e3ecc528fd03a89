//! What starts the flows (besides Salesforce polling in `salesforce_poll.rs` and change events
//! in `change_events.rs`): `backfill`; the redo of named records; QBO CDC since a cursor; QBO
//! webhooks (legacy and CloudEvents), which are only hints: the full record is always fetched,
//! so duplicates and out-of-order events are harmless, and a CDC pass covers any gap since the
//! last cursor.

use super::context::{Ctx, FlowResult};
use super::report::Failure;
use super::routing::{self, route, run_touched, salesforce_flows};
use super::state::CURSORS;
use super::{inbound, payments, salesforce_poll};
use crate::clients::json::text;
use crate::clients::quickbooks::literal;
use crate::clients::ApiError;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use ledgerlink_qbo_webhook::{self as qbo_webhook, WebhookEvent};
use serde_json::Value;
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
            ("Customer" | "Invoice" | "Payment", _) => quickbooks.push(id),
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

/// QBO changes since the CDC cursor: customers, then invoices, then payments.
pub fn poll_quickbooks(ctx: &mut Ctx<'_>) -> FlowResult {
    poll_quickbooks_covering(ctx).map(|_| ())
}

/// [`poll_quickbooks`], returning the `(entity, id)` pairs it applied.
fn poll_quickbooks_covering(
    ctx: &mut Ctx<'_>,
) -> Result<BTreeSet<(String, String)>, super::context::Abort> {
    let since: String = ctx.state.get(CURSORS, "qbo-cdc")?.unwrap_or_else(|| {
        (Utc::now() - Duration::days(29)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    });
    let mut covered = BTreeSet::new();
    match changed_since(ctx, &since)? {
        Changes::All(changes) => {
            apply_changes(ctx, &changes, &mut covered)?;
            store_newest(ctx, &changes)?;
        }
        Changes::ByQuery { deletions } => {
            apply_changes(ctx, &deletions, &mut covered)?;
            catch_up_by_query(ctx, since, &mut covered)?;
        }
    }
    Ok(covered)
}

/// Applies changes customers first (one batch of Account matches), then invoices, then
/// payments, adding each `(entity, id)` to `covered`.
fn apply_changes(
    ctx: &mut Ctx<'_>,
    changes: &[(String, Value)],
    covered: &mut BTreeSet<(String, String)>,
) -> FlowResult {
    let customers: Vec<&Value> = changes
        .iter()
        .filter(|(e, v)| e == "Customer" && !is_deleted(v))
        .map(|(_, v)| v)
        .collect();
    inbound::customers_to_accounts(ctx, &customers)?;
    for entity in QBO_ENTITIES {
        for (_, v) in changes.iter().filter(|(e, _)| e == entity) {
            if entity != "Customer" || is_deleted(v) {
                apply_change(ctx, entity, v)?;
            }
            if let Some(id) = text(v, "Id") {
                covered.insert((entity.to_string(), id));
            }
        }
    }
    Ok(())
}

fn is_deleted(v: &Value) -> bool {
    v.get("status").and_then(Value::as_str) == Some("Deleted")
}

/// When a record last changed in QBO (`MetaData.LastUpdatedTime`).
fn updated(v: &Value) -> Option<DateTime<FixedOffset>> {
    let at = v.get("MetaData").and_then(|m| text(m, "LastUpdatedTime"))?;
    DateTime::parse_from_rfc3339(&at).ok()
}

/// Moves the cursor to the newest change applied (none: it stays).
fn store_newest(ctx: &mut Ctx<'_>, changes: &[(String, Value)]) -> FlowResult {
    match changes.iter().filter_map(|(_, v)| updated(v)).max() {
        Some(newest) => store_cursor(ctx, &cursor_text(newest)),
        None => Ok(()),
    }
}

fn store_cursor(ctx: &mut Ctx<'_>, at: &str) -> FlowResult {
    if !ctx.dry_run() {
        ctx.state.put(CURSORS, "qbo-cdc", &at.to_string())?;
    }
    Ok(())
}

/// The QBO entities whose changes reach Salesforce, in the order they are applied.
const QBO_ENTITIES: [&str; 3] = ["Customer", "Invoice", "Payment"];

/// How far back CDC looks (QBO refuses an older `changedSince`), less an hour for clock skew.
const CDC_LOOK_BACK: Duration = Duration::hours(30 * 24 - 1);

/// The most objects one CDC answer holds.
const CDC_MAX_OBJECTS: usize = 1000;

/// Rows per entity in one window of a catch-up by query: a window is applied and the cursor
/// stored before the next is read, so memory stays bounded and a crash or a failed run loses
/// at most one window's work (a backlog of 10,000 invoices read at once outgrew the guest).
const WINDOW_ROWS: usize = 500;

/// Windows one pass reads; a longer backlog is left to the next pass, from the stored cursor.
const WINDOWS_PER_PASS: usize = 10;

/// What changed since the cursor.
enum Changes {
    /// Every change: CDC's answer was below its cap.
    All(Vec<(String, Value)>),
    /// Too many changes for CDC (or a cursor older than its window): read by query, after
    /// these deletions (which only CDC reports).
    ByQuery { deletions: Vec<(String, Value)> },
}

/// One CDC call; when the cursor is older than CDC's 30 days (a host that was off for weeks)
/// or the answer is at CDC's cap (so it may not hold every change), the changed records are
/// read by query instead ([`catch_up_by_query`]), with the deletions the CDC answer did hold.
/// Deletions older than CDC's window are not seen.
fn changed_since(ctx: &mut Ctx<'_>, since: &str) -> Result<Changes, ApiError> {
    let too_old = DateTime::parse_from_rfc3339(since)
        .is_ok_and(|t| t.with_timezone(&Utc) < Utc::now() - CDC_LOOK_BACK);
    if too_old {
        ctx.report.skipped(
            "ChangeDataCapture",
            since,
            None,
            "the cursor is older than CDC's 30 days: changed records read by query (deletions in the gap are not seen)",
        );
        return Ok(Changes::ByQuery {
            deletions: Vec::new(),
        });
    }
    let changes = ctx.qbo.cdc(&QBO_ENTITIES, since)?;
    if changes.len() < CDC_MAX_OBJECTS {
        return Ok(Changes::All(changes));
    }
    ctx.report.skipped(
        "ChangeDataCapture",
        since,
        None,
        format!("CDC answered its {CDC_MAX_OBJECTS}-object cap: changed records read by query"),
    );
    Ok(Changes::ByQuery {
        deletions: changes.into_iter().filter(|(_, v)| is_deleted(v)).collect(),
    })
}

/// Reads the records changed since `since` by query, oldest first, in windows: each entity's
/// first [`WINDOW_ROWS`] rows in `MetaData.LastUpdatedTime` order; the window ends where the
/// earliest full page ends (every entity is complete before that time), its rows are applied
/// and the cursor moves to its end. A window whose end is its start (one second holds a full
/// page) reads that second in full and moves on to the next second.
fn catch_up_by_query(
    ctx: &mut Ctx<'_>,
    mut since: String,
    covered: &mut BTreeSet<(String, String)>,
) -> FlowResult {
    for _ in 0..WINDOWS_PER_PASS {
        let Ok(start) = DateTime::parse_from_rfc3339(&since) else {
            return Err(Failure::Invalid(format!(
                "the QBO change cursor {since:?} is not an RFC 3339 time"
            ))
            .into());
        };
        let mut rows = Vec::new();
        let mut end: Option<DateTime<FixedOffset>> = None;
        for entity in QBO_ENTITIES {
            let page = ctx.qbo.query_first(
                &format!(
                    "select * from {entity} where MetaData.LastUpdatedTime >= {}{} ORDERBY MetaData.LastUpdatedTime",
                    literal(&since),
                    any_active(entity)
                ),
                WINDOW_ROWS,
            )?;
            if page.len() >= WINDOW_ROWS {
                if let Some(last) = page.last().and_then(updated) {
                    end = Some(end.map_or(last, |e| e.min(last)));
                }
            }
            rows.extend(page.into_iter().map(|v| (entity.to_string(), v)));
        }
        let next = match end {
            None => {
                apply_changes(ctx, &rows, covered)?;
                store_newest(ctx, &rows)?;
                return Ok(());
            }
            Some(end) if end > start => {
                rows.retain(|(_, v)| updated(v).is_none_or(|at| at < end));
                apply_changes(ctx, &rows, covered)?;
                end
            }
            Some(_) => {
                let mut rows = Vec::new();
                for entity in QBO_ENTITIES {
                    let second = ctx.qbo.query(&format!(
                        "select * from {entity} where MetaData.LastUpdatedTime = {}{}",
                        literal(&since),
                        any_active(entity)
                    ))?;
                    rows.extend(second.into_iter().map(|v| (entity.to_string(), v)));
                }
                apply_changes(ctx, &rows, covered)?;
                start + Duration::seconds(1)
            }
        };
        since = cursor_text(next);
        store_cursor(ctx, &since)?;
    }
    ctx.report.skipped(
        "ChangeDataCapture",
        &since,
        None,
        format!(
            "more changes than one pass reads ({WINDOWS_PER_PASS} windows of {WINDOW_ROWS} per entity): the next pass goes on from here"
        ),
    );
    Ok(())
}

/// Inactive customers are changes too; a query leaves them out unless asked.
fn any_active(entity: &str) -> &'static str {
    if entity == "Customer" {
        " and Active in (true, false)"
    } else {
        ""
    }
}

fn cursor_text(at: DateTime<FixedOffset>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn apply_change(ctx: &mut Ctx<'_>, entity: &str, v: &Value) -> FlowResult {
    let deleted = is_deleted(v);
    let id = text(v, "Id").unwrap_or_default();
    match (entity, deleted) {
        ("Payment", _) => payments::apply(ctx, v, deleted),
        ("Customer", false) => inbound::customer_to_account(ctx, v).map(|_| ()),
        ("Invoice", false) => inbound::invoice_to_opportunity(ctx, v),
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
        let Some(entity) = ["Customer", "Invoice", "Payment"]
            .into_iter()
            .find(|e| *e == h.entity)
        else {
            ctx.report
                .skipped(&h.entity, &h.id, None, "not synced to Salesforce");
            continue;
        };
        uncovered.entry(entity).or_default().push(h.id);
    }
    for entity in ["Customer", "Invoice", "Payment"] {
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
                None if entity == "Payment" => {
                    let stub = serde_json::json!({"Id": id, "TxnDate": ctx.today().to_string(), "status": "Deleted"});
                    payments::apply(ctx, &stub, true)?;
                }
                None => ctx.report.skipped(entity, &id, None, "no longer in QBO"),
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

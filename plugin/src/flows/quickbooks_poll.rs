//! QBO changes since the CDC cursor, applied to Salesforce: customers, then invoices, then
//! payments. One CDC call a pass; past CDC's 30 days or its 1,000-object cap the changed records
//! are read by query instead, in windows, the cursor stored after each.

use super::context::{Ctx, FlowResult};
use super::inbound;
use super::report::Failure;
use super::routing::{apply_change, is_deleted, QBO_ENTITIES};
use super::state::CURSORS;
use crate::clients::json::text;
use crate::clients::quickbooks::literal;
use crate::clients::ApiError;
use chrono::{DateTime, Duration, FixedOffset, Utc};
use serde_json::Value;
use std::collections::BTreeSet;

/// QBO changes since the CDC cursor: customers, then invoices, then payments.
pub fn poll_quickbooks(ctx: &mut Ctx<'_>) -> FlowResult {
    poll_quickbooks_covering(ctx).map(|_| ())
}

/// [`poll_quickbooks`], returning the `(entity, id)` pairs it applied.
pub(super) fn poll_quickbooks_covering(
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

/// A cursor past CDC's window (`why`): the changed records are read by query, and CDC's
/// deletions are lost.
fn read_by_query(ctx: &mut Ctx<'_>, since: &str, why: &str) -> Changes {
    ctx.report.skipped(
        "ChangeDataCapture",
        since,
        None,
        format!("{why}: changed records read by query (deletions in the gap are not seen)"),
    );
    Changes::ByQuery {
        deletions: Vec::new(),
    }
}

/// One CDC call; when the cursor is older than CDC's 30 days (a host that was off for weeks)
/// or the answer is at CDC's cap (so it may not hold every change), the changed records are
/// read by query instead ([`catch_up_by_query`]), with the deletions the CDC answer did hold.
/// Deletions older than CDC's window are not seen.
fn changed_since(ctx: &mut Ctx<'_>, since: &str) -> Result<Changes, ApiError> {
    let too_old = DateTime::parse_from_rfc3339(since)
        .is_ok_and(|t| t.with_timezone(&Utc) < Utc::now() - CDC_LOOK_BACK);
    if too_old {
        return Ok(read_by_query(
            ctx,
            since,
            "the cursor is older than CDC's 30 days",
        ));
    }
    let changes = match ctx.qbo.cdc(&QBO_ENTITIES, since) {
        Ok(changes) => changes,
        // QBO's clock is the one that counts: a cursor it finds older than its window (our
        // clock behind QBO's, or at the edge of the window) is read by query, as above.
        Err(ApiError::Api {
            status: 400,
            message,
            ..
        }) if message.contains("changedSince") => {
            return Ok(read_by_query(
                ctx,
                since,
                "QBO finds the cursor older than CDC's 30 days",
            ));
        }
        Err(e) => return Err(e),
    };
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

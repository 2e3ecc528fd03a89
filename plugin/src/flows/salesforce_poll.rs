//! Salesforce changes by polling public REST alone, so that `poll-salesforce` works against any
//! org (no Change Data Capture entitlement, a change-event stream that is down, a new tenant):
//!
//! 1. Get Updated / Get Deleted (`sobjects/{type}/updated|deleted`) since the time the last
//!    poll covered (`latestDateCovered`), while that time is inside their windows (30 days for
//!    updates, 15 for deletions: the recycle bin);
//! 2. otherwise (a first poll, a host that was off for weeks) each flow's
//!    `(SystemModstamp, Id)` cursor, which has no window but cannot see deletions.
//!
//! Get Updated covers whole minutes only: a change shows up once its minute has passed. The
//! change-event stream the host subscribes to (Pub/Sub) is the fast path on top of this one.

use super::context::{Ctx, FlowResult};
use super::routing::{parents_of, route, run_touched, salesforce_flows};
use super::state::CURSORS;
use crate::clients::ApiError;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use std::collections::{BTreeMap, BTreeSet};

/// Where Get Updated / Get Deleted resume: the `latestDateCovered` of the last poll.
pub(super) const REPLICATED_UNTIL: &str = "sf-replicated-until";

/// The objects whose updates feed a flow (child objects through their parent).
const UPDATED: [&str; 5] = [
    "Account",
    "Product2",
    "PricebookEntry",
    "Opportunity",
    "Order",
];

/// The objects whose deletion a flow acts on: a deleted order's journal entry is reversed.
const DELETED: [&str; 1] = ["Order"];

/// How far back Get Deleted reaches (the recycle bin; Get Updated reaches 30 days), less a day
/// for clock skew.
const DELETED_REACH: Duration = Duration::days(14);

/// How far before a `SystemModstamp` pass Get Updated resumes, for clock skew between this
/// host and Salesforce (a change in the margin is read twice and skipped as unchanged).
const SKEW_MARGIN: Duration = Duration::minutes(5);

/// `poll-salesforce`: Get Updated / Get Deleted when the last covered time is in their windows,
/// else the `SystemModstamp` cursors.
pub fn poll_salesforce(ctx: &mut Ctx<'_>) -> FlowResult {
    let since = ctx.state.get::<String>(CURSORS, REPLICATED_UNTIL)?;
    let Some(since) = since else {
        return by_modstamp(ctx, None);
    };
    let Some(start) = parse(&since) else {
        let note = format!("the stored replication time {since:?} is not a date");
        return by_modstamp(ctx, Some(note));
    };
    if start < Utc::now() - DELETED_REACH {
        let note = format!(
            "last covered {since}, beyond Get Deleted's window: read changes by SystemModstamp \
             (deletions before the last 15 days cannot be seen)"
        );
        return by_modstamp(ctx, Some(note));
    }
    match replicate(ctx, &since)? {
        Replicated::Covered => Ok(()),
        Replicated::Refused(why) => by_modstamp(ctx, Some(why)),
    }
}

/// `backfill` has read every record: Get Updated starts from before it.
pub fn mark_backfilled(ctx: &Ctx<'_>, started: DateTime<Utc>) -> FlowResult {
    if !ctx.dry_run() {
        ctx.state
            .put(CURSORS, REPLICATED_UNTIL, &stamp(started - SKEW_MARGIN))?;
    }
    Ok(())
}

/// The second tier: each flow over the records after its `(SystemModstamp, Id)` cursor; then
/// Get Updated resumes from before this pass. `note` says why this tier was taken.
fn by_modstamp(ctx: &mut Ctx<'_>, note: Option<String>) -> FlowResult {
    let started = Utc::now();
    if let Some(note) = note {
        ctx.report.skipped("Replication", "updated", None, note);
    }
    salesforce_flows(ctx)?;
    mark_backfilled(ctx, started)
}

enum Replicated {
    /// Every change up to `latestDateCovered` was handed to its flow.
    Covered,
    /// Salesforce refused the window (why): use the `SystemModstamp` cursors.
    Refused(String),
}

/// Get Updated for [`UPDATED`] and Get Deleted for [`DELETED`] since `since`, then the flows
/// over the ids they name; the cursor moves to the earliest `latestDateCovered` once they ran.
fn replicate(ctx: &mut Ctx<'_>, since: &str) -> Result<Replicated, super::context::Abort> {
    let end = stamp(Utc::now() + Duration::days(1));
    let mut touched: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut children: BTreeMap<(&'static str, &'static str), Vec<String>> = BTreeMap::new();
    let mut covered: Option<String> = None;
    // The invoice objects only when they are the invoice source (an org without them would
    // refuse Get Updated).
    let invoice_objects: Vec<&'static str> = match ctx.settings.invoice_source.objects() {
        (object, Some(lines)) => vec![object, lines],
        _ => Vec::new(),
    };
    let calls = UPDATED
        .iter()
        .chain(&invoice_objects)
        .map(|o| (*o, false))
        .chain(DELETED.iter().map(|o| (*o, true)));
    for (object, deleted) in calls {
        let answer = if deleted {
            ctx.sf.deleted(object, since, &end)
        } else {
            ctx.sf.updated(object, since, &end)
        };
        let (ids, until) = match answer {
            Ok(page) => page,
            Err(ApiError::Api { code, message, .. }) if code == "INVALID_REPLICATION_DATE" => {
                if message.contains("follow") {
                    // The window is under a minute: nothing has completed since the last poll.
                    return Ok(Replicated::Covered);
                }
                return Ok(Replicated::Refused(format!(
                    "Get {} refused the window since {since} ({message}): read changes by \
                     SystemModstamp",
                    if deleted { "Deleted" } else { "Updated" }
                )));
            }
            Err(e) => return Err(e.into()),
        };
        if covered.as_ref().is_none_or(|c| until < *c) {
            covered = Some(until);
        }
        let Some((flow, parent)) = route(object) else {
            continue;
        };
        match parent {
            Some(field) if !deleted => children.entry((object, field)).or_default().extend(ids),
            _ => touched.entry(flow).or_default().extend(ids),
        }
    }
    // Child records name their parent: a changed price book entry re-syncs its product.
    for ((object, field), ids) in children {
        let (flow, _) = route(object).unwrap_or(("Product2", None));
        let parents = parents_of(ctx, object, field, &ids)?;
        touched.entry(flow).or_default().extend(parents);
    }
    touched.retain(|_, ids| !ids.is_empty());
    run_touched(ctx, &touched)?;
    if let (Some(covered), false) = (covered, ctx.dry_run()) {
        ctx.state.put(CURSORS, REPLICATED_UNTIL, &covered)?;
    }
    Ok(Replicated::Covered)
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A replication time as stored: ours (RFC 3339) or Salesforce's (`…+0000`).
fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_times_parse_in_both_forms() {
        let ours = parse("2026-01-02T03:04:00Z").unwrap();
        let theirs = parse("2026-01-02T03:04:00.000+0000").unwrap();
        assert_eq!(ours, theirs);
        assert_eq!(parse("yesterday"), None);
    }
}

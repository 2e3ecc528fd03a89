//! What starts the flows: Salesforce change events (with a replay id) falling back to a
//! `SystemModstamp` cursor; QBO CDC since a cursor; QBO webhooks (legacy and CloudEvents),
//! which are only hints: the full record is always fetched, so duplicates and out-of-order
//! events are harmless, and a CDC pass covers any gap since the last cursor.

use super::context::{Ctx, FlowResult};
use super::report::Failure;
use super::state::CURSORS;
use super::{accounts, inbound, invoices, orders, payments, products};
use crate::clients::json::text;
use crate::clients::quickbooks::literal;
use crate::clients::salesforce::soql_list;
use crate::clients::ApiError;
use chrono::{Duration, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Every flow over every record, then the QBO side.
pub fn backfill(ctx: &mut Ctx<'_>) -> FlowResult {
    ctx.args.full = true;
    salesforce_flows(ctx)?;
    ctx.args.full = false;
    if !ctx.dry_run() {
        // Start the event stream from here: everything before is covered.
        if let Ok((_, latest)) = ctx.sf.change_events("-1") {
            subscribed(ctx, &latest)?;
        }
    }
    poll_quickbooks(ctx)
}

fn salesforce_flows(ctx: &mut Ctx<'_>) -> FlowResult {
    accounts::run(ctx)?;
    products::run(ctx)?;
    invoices::run(ctx)?;
    orders::run(ctx)
}

/// Which flow an sObject's change feeds, and the parent field for child objects.
fn route(entity: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match entity {
        "Account" => ("Account", None),
        "Product2" => ("Product2", None),
        "PricebookEntry" => ("Product2", Some("Product2Id")),
        "Opportunity" => ("Opportunity", None),
        "OpportunityLineItem" => ("Opportunity", Some("OpportunityId")),
        "Order" => ("Order", None),
        "OrderItem" => ("Order", Some("OrderId")),
        _ => return None,
    })
}

/// Salesforce change events since the replay cursor, then the flows they touch. Without a
/// cursor, or when it has expired, falls back to the `SystemModstamp` cursors.
pub fn poll_salesforce(ctx: &mut Ctx<'_>) -> FlowResult {
    let Some(mut position) = ctx.state.get::<String>(CURSORS, "sf-replay")? else {
        salesforce_flows(ctx)?;
        if !ctx.dry_run() {
            let (_, latest) = ctx.sf.change_events("-1")?;
            subscribed(ctx, &latest)?;
        }
        return Ok(());
    };
    let mut touched: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut children: BTreeMap<(&'static str, &'static str, String), BTreeSet<String>> =
        BTreeMap::new();
    loop {
        let (events, latest) = match ctx.sf.change_events(&position) {
            Ok(page) => page,
            Err(ApiError::Api { code, .. }) if code == "REPLAY_ID_EXPIRED" => {
                // Resubscribe from now, then cover the gap with Get Updated / Get Deleted, or
                // with the SystemModstamp cursors when the gap is beyond their windows.
                let (_, latest) = ctx.sf.change_events("-1")?;
                poll_replication(ctx, &position)?;
                if !ctx.dry_run() {
                    ctx.state.put(CURSORS, "sf-replay", &latest)?;
                }
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        let n = events.len();
        for event in &events {
            let payload = event.get("payload").unwrap_or(event);
            let header = payload
                .get("ChangeEventHeader")
                .cloned()
                .unwrap_or(Value::Null);
            let entity = header
                .get("entityName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some((flow, parent)) = route(entity) else {
                continue;
            };
            let ids = header
                .get("recordIds")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string);
            match parent {
                None => touched.entry(flow).or_default().extend(ids),
                Some(field) => match text(payload, field) {
                    Some(p) => {
                        touched.entry(flow).or_default().insert(p);
                    }
                    None => {
                        let key = (flow, field, entity.to_string());
                        children.entry(key).or_default().extend(ids);
                    }
                },
            }
        }
        position = latest;
        if n < 1000 {
            break;
        }
    }
    // Child changes without the parent id in the payload: look the parent up.
    for ((flow, field, entity), ids) in children {
        let list: Vec<String> = ids.into_iter().collect();
        for chunk in list.chunks(200) {
            let rows = ctx.sf.query(&format!(
                "SELECT {field} FROM {entity} WHERE Id IN ({})",
                soql_list(chunk)
            ))?;
            touched
                .entry(flow)
                .or_default()
                .extend(rows.iter().filter_map(|r| text(r, field)));
        }
    }
    run_touched(ctx, &touched)?;
    if !ctx.dry_run() {
        subscribed(ctx, &position)?;
    }
    Ok(())
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
        inbound::run_ids(ctx)?;
        ctx.args.only = saved;
    }
    Ok(())
}

/// Where Get Updated / Get Deleted would start if the replay id expires.
const REPLICATED_UNTIL: &str = "sf-replicated-until";

/// Stores the stream position and, a minute back for clock skew, the time it covers.
fn subscribed(ctx: &Ctx<'_>, replay_id: &str) -> FlowResult {
    ctx.state.put(CURSORS, "sf-replay", &replay_id)?;
    ctx.state.put(
        CURSORS,
        REPLICATED_UNTIL,
        &replication_time(Utc::now() - Duration::minutes(1)),
    )?;
    Ok(())
}

fn replication_time(t: chrono::DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Runs each flow over the ids its objects' changes touched.
fn run_touched(
    ctx: &mut Ctx<'_>,
    touched: &BTreeMap<&'static str, BTreeSet<String>>,
) -> FlowResult {
    let saved = ctx.args.only.clone();
    for (flow, ids) in touched {
        ctx.args.only = Some(ids.iter().cloned().collect());
        match *flow {
            "Account" => accounts::run(ctx)?,
            "Product2" => products::run(ctx)?,
            "Opportunity" => invoices::run(ctx)?,
            _ => orders::run(ctx)?,
        }
    }
    ctx.args.only = saved;
    Ok(())
}

/// The second tier, after an expired replay id: Get Updated (and Get Deleted for orders, whose
/// deletion reverses their entry) since the last covered time; beyond their windows, the
/// SystemModstamp cursors.
fn poll_replication(ctx: &mut Ctx<'_>, expired: &str) -> FlowResult {
    let Some(start) = ctx.state.get::<String>(CURSORS, REPLICATED_UNTIL)? else {
        ctx.report.skipped(
            "ChangeEvents",
            expired,
            None,
            "replay id expired: fell back to SystemModstamp polling",
        );
        return salesforce_flows(ctx);
    };
    let end = replication_time(Utc::now() + Duration::days(1));
    let mut touched: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut covered: Option<String> = None;
    for object in ["Account", "Product2", "Opportunity", "Order"] {
        let mut pages = vec![ctx.sf.updated(object, &start, &end)];
        if object == "Order" {
            pages.push(ctx.sf.deleted(object, &start, &end));
        }
        for page in pages {
            match page {
                Ok((ids, until)) => {
                    touched.entry(object).or_default().extend(ids);
                    if covered.as_ref().is_none_or(|c| until < *c) {
                        covered = Some(until);
                    }
                }
                Err(ApiError::Api { code, .. }) if code == "INVALID_REPLICATION_DATE" => {
                    ctx.report.skipped("ChangeEvents", expired, None, "replay id expired beyond Get Updated's window: fell back to SystemModstamp polling");
                    return salesforce_flows(ctx);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    ctx.report.skipped(
        "ChangeEvents",
        expired,
        None,
        format!("replay id expired: covered the gap since {start} with Get Updated / Get Deleted"),
    );
    let touched = touched
        .into_iter()
        .map(|(k, v)| (route_flow(k), v))
        .collect();
    run_touched(ctx, &touched)?;
    if let (Some(covered), false) = (covered, ctx.dry_run()) {
        ctx.state.put(CURSORS, REPLICATED_UNTIL, &covered)?;
    }
    Ok(())
}

fn route_flow(object: &str) -> &'static str {
    route(object).map(|(flow, _)| flow).unwrap_or("Account")
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
    let changes = changed_since(ctx, &since)?;
    let newest = changes
        .iter()
        .filter_map(|(_, v)| v.get("MetaData").and_then(|m| text(m, "LastUpdatedTime")))
        .max();
    let mut covered = BTreeSet::new();
    let customers: Vec<&Value> = changes
        .iter()
        .filter(|(e, v)| {
            e == "Customer" && v.get("status").and_then(Value::as_str) != Some("Deleted")
        })
        .map(|(_, v)| v)
        .collect();
    inbound::customers_to_accounts(ctx, &customers)?;
    for entity in ["Customer", "Invoice", "Payment"] {
        for (_, v) in changes.iter().filter(|(e, _)| e == entity) {
            let already =
                entity == "Customer" && v.get("status").and_then(Value::as_str) != Some("Deleted");
            if !already {
                apply_change(ctx, entity, v)?;
            }
            if let Some(id) = text(v, "Id") {
                covered.insert((entity.to_string(), id));
            }
        }
    }
    if let (Some(newest), false) = (newest, ctx.dry_run()) {
        ctx.state.put(CURSORS, "qbo-cdc", &newest)?;
    }
    Ok(covered)
}

/// The QBO entities whose changes reach Salesforce, in the order they are applied.
const QBO_ENTITIES: [&str; 3] = ["Customer", "Invoice", "Payment"];

/// How far back CDC looks (QBO refuses an older `changedSince`), less an hour for clock skew.
const CDC_LOOK_BACK: Duration = Duration::hours(30 * 24 - 1);

/// The most objects one CDC answer holds.
const CDC_MAX_OBJECTS: usize = 1000;

/// Every customer, invoice and payment changed since `since`: one CDC call; when the cursor is
/// older than CDC's 30 days (a host that was off for weeks) or the answer is at CDC's cap (so
/// it may not hold every change), the records changed since then are read by query instead,
/// with the deletions the CDC answer did hold. Deletions older than CDC's window are not seen.
fn changed_since(ctx: &mut Ctx<'_>, since: &str) -> Result<Vec<(String, Value)>, ApiError> {
    let too_old = chrono::DateTime::parse_from_rfc3339(since)
        .is_ok_and(|t| t.with_timezone(&Utc) < Utc::now() - CDC_LOOK_BACK);
    let deletions = if too_old {
        ctx.report.skipped(
            "ChangeDataCapture",
            since,
            None,
            "the cursor is older than CDC's 30 days: changed records read by query (deletions in the gap are not seen)",
        );
        Vec::new()
    } else {
        let changes = ctx.qbo.cdc(&QBO_ENTITIES, since)?;
        if changes.len() < CDC_MAX_OBJECTS {
            return Ok(changes);
        }
        ctx.report.skipped(
            "ChangeDataCapture",
            since,
            None,
            format!("CDC answered its {CDC_MAX_OBJECTS}-object cap: changed records read by query"),
        );
        changes
            .into_iter()
            .filter(|(_, v)| v.get("status").and_then(Value::as_str) == Some("Deleted"))
            .collect()
    };
    let mut changes = Vec::new();
    for entity in QBO_ENTITIES {
        // Inactive customers are changes too; a query leaves them out unless asked.
        let active = if entity == "Customer" {
            " and Active in (true, false)"
        } else {
            ""
        };
        let rows = ctx.qbo.query(&format!(
            "select * from {entity} where MetaData.LastUpdatedTime >= {}{active}",
            literal(since)
        ))?;
        changes.extend(rows.into_iter().map(|v| (entity.to_string(), v)));
    }
    changes.extend(deletions);
    Ok(changes)
}

fn apply_change(ctx: &mut Ctx<'_>, entity: &str, v: &Value) -> FlowResult {
    let deleted = v.get("status").and_then(Value::as_str) == Some("Deleted");
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

/// One entity a webhook says changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    /// `Customer`, `Invoice`, `Payment`, ...
    pub entity: String,
    /// Its id.
    pub id: String,
    /// `Create`, `Update`, `Delete`, `Void`, `Merge`.
    pub operation: String,
    /// When the change happened, if the webhook says.
    pub last_updated: Option<String>,
}

/// The entities a QBO webhook names, legacy or CloudEvents; an error names what is malformed.
pub fn parse_webhook(body: &str) -> Result<Vec<Hint>, String> {
    let v: Value =
        serde_json::from_str(body).map_err(|e| format!("webhook body is not JSON: {e}"))?;
    let mut hints = Vec::new();
    if let Some(events) = v.as_array() {
        for (i, e) in events.iter().enumerate() {
            let kind = text(e, "type").ok_or(format!("event [{i}]: type is missing"))?;
            let parts: Vec<&str> = kind.split('.').collect();
            let (Some(entity), Some(op)) = (parts.get(1), parts.get(2)) else {
                return Err(format!(
                    "event [{i}]: type {kind:?} is not qbo.<entity>.<operation>.v1"
                ));
            };
            let id = text(e, "intuitentityid")
                .ok_or(format!("event [{i}]: intuitentityid is missing"))?;
            hints.push(Hint {
                entity: capitalize(entity),
                id,
                operation: capitalize(op),
                last_updated: text(e, "time"),
            });
        }
        return Ok(hints);
    }
    let notes = v
        .get("eventNotifications")
        .and_then(Value::as_array)
        .ok_or("webhook body has neither eventNotifications nor a CloudEvents array")?;
    for (i, n) in notes.iter().enumerate() {
        let entities = n
            .get("dataChangeEvent")
            .and_then(|d| d.get("entities"))
            .and_then(Value::as_array)
            .ok_or(format!(
                "eventNotifications[{i}].dataChangeEvent.entities is missing"
            ))?;
        for (j, e) in entities.iter().enumerate() {
            hints.push(Hint {
                entity: text(e, "name").ok_or(format!(
                    "eventNotifications[{i}].entities[{j}].name is missing"
                ))?,
                id: text(e, "id").ok_or(format!(
                    "eventNotifications[{i}].entities[{j}].id is missing"
                ))?,
                operation: text(e, "operation").unwrap_or_default(),
                last_updated: text(e, "lastUpdated"),
            });
        }
    }
    Ok(hints)
}

fn capitalize(s: &str) -> String {
    match s {
        "creditmemo" => "CreditMemo".into(),
        "journalentry" => "JournalEntry".into(),
        "salesreceipt" => "SalesReceipt".into(),
        _ => {
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// A webhook is a hint: one CDC pass since the cursor fetches every changed record in full
/// (covering anything a lost webhook missed); the hinted records CDC did not return are read,
/// one query per entity, and a payment that no longer exists is reversed.
pub fn on_quickbooks_webhook(ctx: &mut Ctx<'_>, hints: Vec<Hint>) -> FlowResult {
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
        assert_eq!(
            parse_webhook(legacy).unwrap(),
            vec![Hint {
                entity: "Payment".into(),
                id: "5".into(),
                operation: "Create".into(),
                last_updated: Some("2026-01-01T00:00:00Z".into()),
            }]
        );
        let ce = r#"[{"specversion":"1.0","id":"x","type":"qbo.invoice.voided.v1","intuitentityid":"9","intuitaccountid":"1","data":{}}]"#;
        assert_eq!(parse_webhook(ce).unwrap()[0].entity, "Invoice");
        assert_eq!(parse_webhook(ce).unwrap()[0].operation, "Voided");
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
        assert!(parse_webhook(r#"[{"type":"qbo.payment.created.v1"}]"#)
            .unwrap_err()
            .contains("intuitentityid"));
    }
}

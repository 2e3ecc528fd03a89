//! Salesforce change events (Change Data Capture), as a Pub/Sub subscriber decodes them, handed
//! to `on-webhook` with source `salesforce`: a JSON array of events, each the decoded payload
//! (`{"ChangeEventHeader": {...}, <fields>}`, bitmap fields already turned into field names) or
//! `{"replayId": ..., "payload": {...}}`.
//!
//! Events are hints: the records they name are re-read before anything is written, so a
//! duplicate or a late event is harmless. What each header says:
//!
//! | header | outcome |
//! |---|---|
//! | `entityName` | the flow that handles the object (children through their parent); objects no flow syncs are ignored |
//! | `changeType` CREATE, UPDATE, UNDELETE and their GAP_ forms | the records in `recordIds` are re-read and synced |
//! | DELETE, GAP_DELETE | an order's journal entry is reversed; a deleted account or opportunity keeps its QBO record (reported) |
//! | GAP_OVERFLOW, or a wildcard id (`006*`) | too many changes to list: everything since the last poll is re-read (`poll-salesforce`) |
//! | `commitUser` the integration user | our own write-back, not echoed to QBO (reported as skipped) |
//! | `changedFields` only system fields and fields Ledgerlink writes | nothing a flow reads changed (reported as skipped) |

use super::context::{Ctx, FlowResult};
use super::routing::{parents_of, route, run_touched};
use super::salesforce_poll;
use super::state::CURSORS;
use crate::clients::json::text;
use crate::clients::salesforce_fields::WRITTEN_BY_LEDGERLINK;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The job that redoes a change event's failed records by `only` (`Opportunity:<id>`, ...).
pub const REPORT_JOB: &str = "poll-salesforce";

/// What happened to the records of one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeType {
    Create,
    Update,
    Delete,
    Undelete,
    /// Too many changes to report one by one: re-read everything since the last poll.
    Overflow,
}

/// One decoded change event, as far as the flows need it.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// `Account`, `Opportunity`, ...
    pub entity: String,
    pub change_type: ChangeType,
    /// A GAP_ event: Salesforce could not build the payload, only the ids are known.
    pub gap: bool,
    pub record_ids: Vec<String>,
    /// Field names (`BillingAddress.City` for compound fields); empty when not listed.
    pub changed_fields: Vec<String>,
    pub commit_user: Option<String>,
    /// The event's body (the record's fields that were sent).
    pub fields: Value,
}

/// Parses the body `on-webhook` received; an error names the event and the field.
pub fn parse_events(body: &str) -> Result<Vec<Change>, String> {
    let v: Value =
        serde_json::from_str(body).map_err(|e| format!("change events body is not JSON: {e}"))?;
    let events = v
        .as_array()
        .ok_or("change events body must be a JSON array of decoded events")?;
    events
        .iter()
        .enumerate()
        .map(|(i, event)| parse_event(event).map_err(|e| format!("event [{i}]: {e}")))
        .collect()
}

fn parse_event(event: &Value) -> Result<Change, String> {
    let payload = event.get("payload").unwrap_or(event);
    let header = payload
        .get("ChangeEventHeader")
        .filter(|h| h.is_object())
        .ok_or("ChangeEventHeader is missing")?;
    let entity = text(header, "entityName").ok_or("ChangeEventHeader.entityName is missing")?;
    let kind = text(header, "changeType").ok_or("ChangeEventHeader.changeType is missing")?;
    let (gap, base) = match kind.strip_prefix("GAP_") {
        Some(rest) => (true, rest),
        None => (false, kind.as_str()),
    };
    let change_type = match base {
        "CREATE" => ChangeType::Create,
        "UPDATE" => ChangeType::Update,
        "DELETE" => ChangeType::Delete,
        "UNDELETE" => ChangeType::Undelete,
        "OVERFLOW" if gap => ChangeType::Overflow,
        _ => {
            return Err(format!(
                "ChangeEventHeader.changeType {kind:?} is not a change type"
            ))
        }
    };
    let record_ids: Vec<String> = match header.get("recordIds") {
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| {
                id.as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .ok_or("ChangeEventHeader.recordIds holds a value that is not an id")
            })
            .collect::<Result<_, _>>()?,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err("ChangeEventHeader.recordIds is not a list".into()),
    };
    if record_ids.is_empty() && change_type != ChangeType::Overflow {
        return Err("ChangeEventHeader.recordIds is empty".into());
    }
    let changed_fields = header
        .get("changedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    // A wildcard id (`006*`) stands for every record of the object: an overflow.
    let wildcard = record_ids.iter().any(|id| id.ends_with('*'));
    Ok(Change {
        entity,
        change_type: if wildcard {
            ChangeType::Overflow
        } else {
            change_type
        },
        gap,
        record_ids,
        changed_fields,
        commit_user: text(header, "commitUser").filter(|u| !u.is_empty()),
        fields: payload.clone(),
    })
}

/// Fields a change to which no flow needs to act on: system stamps (and, from
/// [`WRITTEN_BY_LEDGERLINK`], the fields Ledgerlink writes back itself).
const NOT_READ: [&str; 6] = [
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "LastViewedDate",
    "LastReferencedDate",
    "LastActivityDate",
];

/// Where the integration user's id is kept once read from UserInfo.
const USER_KEY: &str = "sf-integration-user";

/// Syncs the records the events name; a GAP_OVERFLOW re-reads everything since the last poll.
pub fn on_change_events(ctx: &mut Ctx<'_>, changes: Vec<Change>) -> FlowResult {
    let me = integration_user(ctx);
    let mut touched: BTreeMap<&'static str, BTreeSet<String>> = BTreeMap::new();
    let mut children: BTreeMap<(&'static str, &'static str, String), BTreeSet<String>> =
        BTreeMap::new();
    let mut overflow = false;
    for change in changes {
        let Some((flow, parent)) = route(&change.entity) else {
            continue;
        };
        if change.change_type == ChangeType::Overflow {
            overflow = true;
            continue;
        }
        if !change.gap && me.is_some() && change.commit_user == me {
            for id in &change.record_ids {
                ctx.report.skipped(
                    &change.entity,
                    id,
                    None,
                    "changed by the integration user (Ledgerlink's own write): not echoed back",
                );
            }
            continue;
        }
        if change.change_type == ChangeType::Update
            && !change.changed_fields.is_empty()
            && change.changed_fields.iter().all(|f| {
                NOT_READ.contains(&f.as_str()) || WRITTEN_BY_LEDGERLINK.contains(&f.as_str())
            })
        {
            for id in &change.record_ids {
                ctx.report.skipped(
                    &change.entity,
                    id,
                    None,
                    format!(
                        "only {} changed: nothing Ledgerlink syncs",
                        change.changed_fields.join(", ")
                    ),
                );
            }
            continue;
        }
        let ids = change.record_ids.iter().cloned();
        match (change.change_type, parent) {
            // A deleted order's entry is reversed by the order flow (it finds no record).
            (ChangeType::Delete, None) if flow == "Order" => {
                touched.entry(flow).or_default().extend(ids)
            }
            (ChangeType::Delete, None) => {
                for id in &change.record_ids {
                    ctx.report.skipped(
                        &change.entity,
                        id,
                        None,
                        "deleted in Salesforce: its QuickBooks record is kept (void or make it \
                         inactive there if it should go)",
                    );
                }
            }
            // A deleted line changes its parent's roll-ups, which come as the parent's event.
            (ChangeType::Delete, Some(_)) => {}
            (_, None) => touched.entry(flow).or_default().extend(ids),
            (_, Some(field)) => match text(&change.fields, field) {
                Some(p) => {
                    touched.entry(flow).or_default().insert(p);
                }
                None => {
                    let key = (flow, field, change.entity.clone());
                    children.entry(key).or_default().extend(ids);
                }
            },
        }
    }
    if overflow {
        // Everything since the last poll, which includes every record named here.
        return salesforce_poll::poll_salesforce(ctx);
    }
    for ((flow, field, entity), ids) in children {
        let list: Vec<String> = ids.into_iter().collect();
        let parents = parents_of(ctx, &entity, field, &list)?;
        touched.entry(flow).or_default().extend(parents);
    }
    run_touched(ctx, &touched)
}

/// The integration user's id: the `salesforce-user-id` setting, else UserInfo's answer (kept).
/// Unknown when UserInfo cannot be read: then nothing is suppressed as an echo.
fn integration_user(ctx: &mut Ctx<'_>) -> Option<String> {
    if let Some(id) = &ctx.settings.salesforce_user_id {
        return Some(id.clone());
    }
    if let Ok(Some(id)) = ctx.state.get::<String>(CURSORS, USER_KEY) {
        return Some(id);
    }
    let id = ctx.sf.user_id().ok()?;
    let _ = ctx.state.put(CURSORS, USER_KEY, &id);
    Some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn headers_parse_into_changes_and_errors_name_the_event_and_field() {
        let body = json!([
            {"replayId": "AAAA", "payload": {"ChangeEventHeader": {
                "entityName": "Opportunity", "changeType": "UPDATE",
                "recordIds": ["006A", "006B"], "changedFields": ["StageName", "LastModifiedDate"],
                "commitUser": "005X"}, "StageName": "Closed Won"}},
            {"ChangeEventHeader": {"entityName": "Account", "changeType": "GAP_CREATE",
                "recordIds": ["001A"], "commitUser": ""}},
            {"ChangeEventHeader": {"entityName": "Account", "changeType": "GAP_OVERFLOW",
                "recordIds": []}},
            {"ChangeEventHeader": {"entityName": "Order", "changeType": "UPDATE",
                "recordIds": ["801*"]}}
        ])
        .to_string();
        let changes = parse_events(&body).unwrap();
        assert_eq!(changes[0].entity, "Opportunity");
        assert_eq!(changes[0].change_type, ChangeType::Update);
        assert_eq!(changes[0].record_ids, ["006A", "006B"]);
        assert_eq!(changes[0].changed_fields, ["StageName", "LastModifiedDate"]);
        assert_eq!(changes[0].commit_user.as_deref(), Some("005X"));
        assert_eq!(changes[0].fields["StageName"], "Closed Won");
        assert!(changes[1].gap);
        assert_eq!(changes[1].change_type, ChangeType::Create);
        assert_eq!(changes[1].commit_user, None);
        assert_eq!(changes[2].change_type, ChangeType::Overflow);
        assert_eq!(changes[3].change_type, ChangeType::Overflow, "wildcard id");

        for (body, error) in [
            ("{", "change events body is not JSON"),
            ("{}", "must be a JSON array"),
            (
                r#"[{"payload": {}}]"#,
                "event [0]: ChangeEventHeader is missing",
            ),
            (
                r#"[{"ChangeEventHeader": {"entityName": "Account", "changeType": "EXPLODE", "recordIds": ["1"]}}]"#,
                "event [0]: ChangeEventHeader.changeType \"EXPLODE\" is not a change type",
            ),
            (
                r#"[{"ChangeEventHeader": {"changeType": "CREATE", "recordIds": ["1"]}}]"#,
                "event [0]: ChangeEventHeader.entityName is missing",
            ),
            (
                r#"[{"ChangeEventHeader": {"entityName": "Account", "changeType": "CREATE", "recordIds": []}}]"#,
                "event [0]: ChangeEventHeader.recordIds is empty",
            ),
            (
                r#"[{"ChangeEventHeader": {"entityName": "Account", "changeType": "CREATE", "recordIds": [7]}}]"#,
                "event [0]: ChangeEventHeader.recordIds holds a value that is not an id",
            ),
        ] {
            let got = parse_events(body).unwrap_err();
            assert!(got.contains(error), "{body}: {got}");
        }
    }
}

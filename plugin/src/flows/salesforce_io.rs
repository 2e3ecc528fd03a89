//! Reading and writing Salesforce records for the flows: which rows a run works on (the `only`
//! ids; every row with `full`; else those after the object's `(SystemModstamp, Id)` cursor),
//! page by page, with the cursor moved after each page; and field write-backs in sObject
//! Collections, each failure reported on its record.

use super::context::{Ctx, FlowResult};
use super::report::Failure;
use super::state::CURSORS;
use crate::clients::json::text;
use crate::clients::salesforce::{soql_list, soql_literal};
use crate::clients::salesforce_json::{
    notice_opportunity, NoticeOpportunity, OPPORTUNITY_NOTICE_FIELDS,
};
use crate::clients::ApiError;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

fn modstamp_key(object: &str) -> String {
    format!("sf-modstamp/{object}")
}

/// Where an object's changes were read up to: the last row's `SystemModstamp` and `Id` (rows are
/// read in that order), stored as `<stamp>#<id>`. A cursor stored before ids were kept is a bare
/// stamp, read inclusively (`>=`: a re-read record is skipped as unchanged).
fn after_cursor(cursor: &str) -> String {
    match cursor.split_once('#') {
        Some((stamp, id)) => format!(
            "(SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > {}))",
            soql_literal(id)
        ),
        None => format!("SystemModstamp >= {cursor}"),
    }
}

/// The cursor after `rows`: the greatest `(SystemModstamp, Id)` among them.
fn cursor_after(rows: &[Value]) -> Option<String> {
    rows.iter()
        .filter_map(|r| Some((text(r, "SystemModstamp")?, text(r, "Id")?)))
        .max()
        .map(|(stamp, id)| format!("{stamp}#{id}"))
}

/// Rows of `object` to sync: the `only` ids; everything with `full`; else those changed since
/// the object's `SystemModstamp` cursor (inclusive: a re-read record is skipped as unchanged).
pub fn select(
    ctx: &Ctx<'_>,
    object: &str,
    fields: &str,
    condition: &str,
) -> Result<Vec<Value>, ApiError> {
    let mut clauses: Vec<String> = Vec::new();
    if !condition.is_empty() {
        clauses.push(condition.to_string());
    }
    if let Some(only) = &ctx.args.only {
        let mut rows = Vec::new();
        for chunk in only.chunks(200) {
            let mut c = clauses.clone();
            c.push(format!("Id IN ({})", soql_list(chunk)));
            rows.extend(ctx.sf.query(&format!(
                "SELECT {fields} FROM {object} WHERE {} ORDER BY Id",
                c.join(" AND ")
            ))?);
        }
        return Ok(rows);
    }
    if !ctx.args.full {
        if let Ok(Some(cursor)) = ctx.state.get::<String>(CURSORS, &modstamp_key(object)) {
            clauses.push(after_cursor(&cursor));
        }
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    ctx.sf.query(&format!(
        "SELECT {fields} FROM {object}{filter} ORDER BY SystemModstamp, Id"
    ))
}

/// [`select`] a page at a time (up to 2,000 rows), so that a large backfill never holds more
/// than one page; `f` handles each page and the cursor advances after each.
pub fn select_pages(
    ctx: &mut Ctx<'_>,
    object: &str,
    fields: &str,
    condition: &str,
    mut f: impl FnMut(&mut Ctx<'_>, &[Value], Window) -> FlowResult,
) -> FlowResult {
    if ctx.args.only.is_some() {
        let rows = select(ctx, object, fields, condition)?;
        let total = rows.len();
        return f(ctx, &rows, Window { offset: 0, total });
    }
    let mut clauses: Vec<String> = Vec::new();
    if !condition.is_empty() {
        clauses.push(condition.to_string());
    }
    if !ctx.args.full {
        if let Some(cursor) = ctx.state.get::<String>(CURSORS, &modstamp_key(object))? {
            clauses.push(after_cursor(&cursor));
        }
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let mut page = ctx.sf.query_page(&format!(
        "SELECT {fields} FROM {object}{filter} ORDER BY SystemModstamp, Id"
    ))?;
    let total = page.total;
    let mut offset = 0;
    ctx.progress(object, 0, total);
    loop {
        f(ctx, &page.rows, Window { offset, total })?;
        advance_modstamp(ctx, object, &page.rows)?;
        offset += page.rows.len();
        ctx.progress(object, offset, total);
        match page.next {
            Some(url) => page = ctx.sf.next_page(&url)?,
            None => return Ok(()),
        }
    }
}

/// Where a page sits in the whole selection, for progress.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Rows before this page.
    pub offset: usize,
    /// Rows in the selection.
    pub total: usize,
}

/// Moves the object's cursor past the rows read (not for `only` or dry runs).
pub fn advance_modstamp(ctx: &Ctx<'_>, object: &str, rows: &[Value]) -> FlowResult {
    if ctx.args.only.is_some() || ctx.dry_run() {
        return Ok(());
    }
    if let Some(cursor) = cursor_after(rows) {
        ctx.state.put(CURSORS, &modstamp_key(object), &cursor)?;
    }
    Ok(())
}

/// Writes fields back to Salesforce records (sObject Collections, 200 per request); a failure
/// is reported on its record and does not stop the others. Returns how many failed.
pub fn write_back(ctx: &mut Ctx<'_>, sobject: &str, records: &[Value]) -> usize {
    if records.is_empty() || ctx.dry_run() {
        return 0;
    }
    let results = ctx.sf.update_many(sobject, records);
    let mut failed = 0;
    for (record, result) in records.iter().zip(results) {
        if let Err(e) = result {
            let id = record.get("Id").and_then(Value::as_str).unwrap_or("?");
            ctx.report.failed(sobject, id, Failure::Api(e));
            failed += 1;
        }
    }
    failed
}

/// Opportunities `ids` as notifications name them (name, owner, invoice), by Id: one query per
/// 200 ids, never one per record. Ids Salesforce does not return are left out.
pub fn notice_opportunities(
    ctx: &Ctx<'_>,
    ids: &[String],
) -> Result<BTreeMap<String, NoticeOpportunity>, ApiError> {
    let ids: Vec<&String> = ids.iter().collect::<BTreeSet<_>>().into_iter().collect();
    let mut found = BTreeMap::new();
    for chunk in ids.chunks(200) {
        let rows = ctx.sf.query(&format!(
            "SELECT {OPPORTUNITY_NOTICE_FIELDS} FROM Opportunity WHERE Id IN ({})",
            soql_list(chunk)
        ))?;
        for o in rows.iter().filter_map(notice_opportunity) {
            found.insert(o.id.clone(), o);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flows::test_support::soql;
    use crate::flows::Args;
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::Get;
    use serde_json::json;

    #[test]
    fn opportunities_for_notices_are_read_200_ids_a_query_each_id_once() {
        let platform = MemoryPlatform::routed(
            "1",
            Routes::new().on(Get, "FROM Opportunity WHERE Id IN", |_| {
                soql(json!([{"Id": "006X0", "Name": "Deal",
                    "Owner": {"Name": "Ada", "Email": "ada@acme.example"}}]))
            }),
        );
        let ctx = Ctx::new(&platform.platform(), Args::default()).unwrap();
        let mut ids: Vec<String> = (0..201).map(|n| format!("006X{n}")).collect();
        ids.push("006X0".into());
        let found = notice_opportunities(&ctx, &ids).unwrap();
        assert_eq!(platform.http.count(Get, "FROM Opportunity"), 2);
        assert_eq!(
            found.get("006X0"),
            Some(&NoticeOpportunity {
                id: "006X0".into(),
                name: Some("Deal".into()),
                owner_name: Some("Ada".into()),
                owner_email: Some("ada@acme.example".into()),
                ..Default::default()
            })
        );
    }

    #[test]
    fn the_cursor_is_the_last_stamp_and_id_and_reads_strictly_after_it() {
        let rows = [
            json!({"Id": "006B", "SystemModstamp": "2026-01-01T10:00:00.000+0000"}),
            json!({"Id": "006A", "SystemModstamp": "2026-01-01T10:00:05.000+0000"}),
            json!({"Id": "006C", "SystemModstamp": "2026-01-01T10:00:05.000+0000"}),
            json!({"Id": "006D"}),
        ];
        let cursor = cursor_after(&rows).unwrap();
        assert_eq!(cursor, "2026-01-01T10:00:05.000+0000#006C");
        assert_eq!(
            after_cursor(&cursor),
            "(SystemModstamp > 2026-01-01T10:00:05.000+0000 OR \
             (SystemModstamp = 2026-01-01T10:00:05.000+0000 AND Id > '006C'))"
        );
        // A cursor kept before ids were: inclusive, as it was read then.
        assert_eq!(
            after_cursor("2026-01-01T10:00:05.000+0000"),
            "SystemModstamp >= 2026-01-01T10:00:05.000+0000"
        );
        assert_eq!(cursor_after(&[]), None);
    }
}

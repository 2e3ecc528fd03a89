//! sObject Collections, Composite and Composite Batch (api-facts B5, B6).
//!
//! | resource | what |
//! |---|---|
//! | `POST composite/sobjects` | create ≤ 200 records (`attributes.type` each), results in order, `allOrNone` |
//! | `PATCH composite/sobjects` | update by `id` |
//! | `PATCH composite/sobjects/{Type}/{ExtField}` | upsert by external id (`created` in each result) |
//! | `GET composite/sobjects/{Type}?ids=&fields=` | records in the order of `ids`, null for missing ones |
//! | `DELETE composite/sobjects?ids=&allOrNone=` | delete |
//! | `POST composite` | ≤ 25 subrequests, `@{ref.field}` / `@{ref.records[0].Id}` references, `allOrNone` rollback; always 200 `{"compositeResponse":[...]}` |
//! | `POST composite/batch` | ≤ 25 independent subrequests, `haltOnError`; `{"hasErrors","results":[{"statusCode","result"}]}` |
//!
//! Collection results use `{"statusCode","message","fields"}` error objects. With `allOrNone`,
//! records that would have succeeded report `ALL_OR_NONE_OPERATION_ROLLED_BACK` and composite
//! subrequests `PROCESSING_HALTED`. A composite or batch call counts as one API call.

use super::dml::Upserted;
use super::errors::SfError;
use super::http::{dispatch, parse_version, segments, Ctx, Reply};
use super::ids;
use super::org::Org;
use super::values::{number_text, plain_text, unmark_numbers};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// Records per collection call.
pub const MAX_RECORDS: usize = 200;
/// Subrequests per composite or batch call.
pub const MAX_SUBREQUESTS: usize = 25;

fn flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(other) => plain_text(other).is_some_and(|s| s.eq_ignore_ascii_case("true")),
        None => false,
    }
}

fn records_of(body: &Value) -> Result<(&Vec<Value>, bool), SfError> {
    let records = body
        .get("records")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            SfError::json_parser("Cannot deserialize the request: 'records' must be an array")
        })?;
    if records.len() > MAX_RECORDS {
        return Err(SfError::new(
            400,
            "EXCEEDED_ID_LIMIT",
            format!("record limit exceeded: a collection can hold at most {MAX_RECORDS} records"),
        ));
    }
    Ok((records, flag(body.get("allOrNone"))))
}

fn record_type(record: &Value) -> Result<String, SfError> {
    record
        .get("attributes")
        .and_then(|a| a.get("type"))
        .and_then(plain_text)
        .map(str::to_string)
        .ok_or_else(|| {
            SfError::new(
                400,
                "INVALID_TYPE",
                "Must specify a type in the attributes field of each record",
            )
        })
}

fn ok_result(id: &str, created: Option<bool>) -> Value {
    let mut v = json!({"id": id, "success": true, "errors": []});
    if let Some(c) = created {
        v["created"] = json!(c);
    }
    v
}

fn err_result(id: Option<&str>, e: &SfError) -> Value {
    let mut v = json!({"success": false, "errors": [e.to_collection_json()]});
    if let Some(id) = id {
        v["id"] = json!(id);
    }
    v
}

/// Runs `op` for each record; with `all_or_none`, any failure rolls every record back.
fn run_collection<T>(
    org: &mut Org,
    items: &[T],
    all_or_none: bool,
    mut op: impl FnMut(&mut Org, &T) -> Result<(String, Option<bool>), (Option<String>, SfError)>,
) -> Value {
    let snapshot = all_or_none.then(|| org.snapshot());
    org.events
        .begin_transaction(uuid::Uuid::new_v4().to_string());
    let outcomes: Vec<_> = items.iter().map(|item| op(org, item)).collect();
    org.events.end_transaction();
    let failed = outcomes.iter().any(Result::is_err);
    if let (Some(snap), true) = (snapshot, failed) {
        org.restore(snap);
        let rolled_back = SfError::new(
            400,
            "ALL_OR_NONE_OPERATION_ROLLED_BACK",
            "Record rolled back because not all records were valid and the request was using AllOrNone header",
        );
        return Value::Array(
            outcomes
                .iter()
                .map(|o| match o {
                    Ok(_) => err_result(None, &rolled_back),
                    Err((id, e)) => err_result(id.as_deref(), e),
                })
                .collect(),
        );
    }
    Value::Array(
        outcomes
            .iter()
            .map(|o| match o {
                Ok((id, created)) => ok_result(id, *created),
                Err((id, e)) => err_result(id.as_deref(), e),
            })
            .collect(),
    )
}

pub(crate) fn create_many(org: &mut Org, ctx: &Ctx, body: &Value) -> Result<Reply, SfError> {
    let (records, all_or_none) = records_of(body)?;
    let out = run_collection(org, records, all_or_none, |org, rec| {
        let t = record_type(rec).map_err(|e| (None, e))?;
        if rec
            .get("id")
            .or_else(|| rec.get("Id"))
            .is_some_and(|v| !v.is_null())
        {
            return Err((
                None,
                SfError::new(400, "INVALID_FIELD", "cannot specify Id in an insert call")
                    .with_fields(vec!["Id".into()]),
            ));
        }
        org.create(&t, rec, &ctx.origin)
            .map(|id| (id, None))
            .map_err(|e| (None, e))
    });
    Ok(Reply::json(200, out))
}

pub(crate) fn update_many(org: &mut Org, ctx: &Ctx, body: &Value) -> Result<Reply, SfError> {
    let (records, all_or_none) = records_of(body)?;
    let out = run_collection(org, records, all_or_none, |org, rec| {
        let id = rec
            .get("id")
            .or_else(|| rec.get("Id"))
            .and_then(plain_text)
            .map(str::to_string);
        let Some(id) = id else {
            return Err((
                None,
                SfError::new(
                    400,
                    "MISSING_ARGUMENT",
                    "Id not specified in an update call",
                )
                .with_fields(vec!["Id".into()]),
            ));
        };
        let t = record_type(rec).map_err(|e| (Some(id.clone()), e))?;
        let mut fields = rec.clone();
        if let Some(o) = fields.as_object_mut() {
            o.remove("id");
            o.remove("Id");
        }
        let id18 = ids::to_18(&id).ok_or_else(|| {
            (
                Some(id.clone()),
                SfError::new(400, "MALFORMED_ID", format!("malformed id {id}")),
            )
        })?;
        org.update(&t, &id18, &fields, &ctx.origin)
            .map(|_| (id18.clone(), None))
            .map_err(|e| (Some(id18), e))
    });
    Ok(Reply::json(200, out))
}

pub(crate) fn upsert_many(
    org: &mut Org,
    ctx: &Ctx,
    t: &str,
    field: &str,
    body: &Value,
) -> Result<Reply, SfError> {
    let (records, all_or_none) = records_of(body)?;
    // An unknown or non-external-id field fails the whole call.
    org.find_by_external(t, field, "")?;
    let out = run_collection(org, records, all_or_none, |org, rec| {
        let value = rec
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(field)))
            .and_then(|(_, v)| number_text(v).or_else(|| plain_text(v).map(str::to_string)));
        let Some(value) = value else {
            return Err((
                None,
                SfError::new(400, "MISSING_ARGUMENT", format!("{field} not specified"))
                    .with_fields(vec![field.into()]),
            ));
        };
        match org.upsert(t, field, &value, rec, false, &ctx.origin) {
            Ok(Upserted::Created(id)) => Ok((id, Some(true))),
            Ok(Upserted::Updated(id)) => Ok((id, Some(false))),
            Ok(Upserted::Multiple(_)) => Err((
                None,
                SfError::new(
                    300,
                    "DUPLICATE_EXTERNAL_ID",
                    format!("{field}: more than one record found for external id field: {value}"),
                )
                .with_fields(vec![field.into()]),
            )),
            Err(e) => Err((None, e)),
        }
    });
    Ok(Reply::json(200, out))
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub(crate) fn delete_many(
    org: &mut Org,
    ctx: &Ctx,
    query: &[(String, String)],
) -> Result<Reply, SfError> {
    let ids_param = param(query, "ids")
        .ok_or_else(|| SfError::new(400, "MISSING_ARGUMENT", "ids parameter is required"))?;
    let all_or_none = param(query, "allOrNone").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let list: Vec<String> = ids_param
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    if list.len() > MAX_RECORDS {
        return Err(SfError::new(
            400,
            "EXCEEDED_ID_LIMIT",
            format!("record limit exceeded: at most {MAX_RECORDS} ids"),
        ));
    }
    let out = run_collection(org, &list, all_or_none, |org, id| {
        let bad = || {
            (
                Some(id.clone()),
                SfError::new(400, "MALFORMED_ID", format!("malformed id {id}")),
            )
        };
        let id18 = ids::to_18(id).ok_or_else(bad)?;
        let t = org
            .schema
            .by_prefix(ids::prefix(&id18))
            .map(|o| o.name.clone())
            .ok_or_else(bad)?;
        org.delete(&t, &id18, &ctx.origin)
            .map(|_| (id18.clone(), None))
            .map_err(|e| (Some(id18.clone()), SfError { status: 400, ..e }))
    });
    Ok(Reply::json(200, out))
}

pub(crate) fn retrieve_many(
    org: &Org,
    ctx: &Ctx,
    t: &str,
    query: &[(String, String)],
) -> Result<Reply, SfError> {
    let schema = org.schema.clone();
    let d = super::dml::sobject_def(&schema, t)?;
    let ids_param = param(query, "ids")
        .ok_or_else(|| SfError::new(400, "MISSING_ARGUMENT", "ids parameter is required"))?;
    let only: Option<Vec<String>> = match param(query, "fields") {
        None => None,
        Some(f) => {
            let mut names = Vec::new();
            for n in f.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let field = d.field(n).ok_or_else(|| {
                    SfError::invalid_field(format!("No such column '{n}' on entity '{}'", d.name))
                })?;
                names.push(field.name.clone());
            }
            if !names.iter().any(|n| n == "Id") {
                names.insert(0, "Id".into());
            }
            Some(names)
        }
    };
    let out: Vec<Value> = ids_param
        .split(',')
        .map(str::trim)
        .map(|id| {
            ids::to_18(id)
                .and_then(|id| org.store.live(&d.name, &id))
                .map(|r| r.to_json(d, &ctx.base, only.as_deref()))
                .unwrap_or(Value::Null)
        })
        .collect();
    Ok(Reply::json(200, Value::Array(out)))
}

/// `(version, segments, query)` of a subrequest URL (`/services/data/v61.0/...` or `v61.0/...`).
/// A subrequest URL taken apart: API version, path segments, query pairs.
type SplitUrl = (String, Vec<String>, Vec<(String, String)>);

fn split_url(url: &str) -> Result<SplitUrl, SfError> {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let path = path.trim_start_matches('/');
    let path = path.strip_prefix("services/data/").unwrap_or(path);
    let (version_seg, rest) = path.split_once('/').unwrap_or((path, ""));
    let version = parse_version(version_seg).ok_or_else(SfError::not_found)?;
    let query = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    Ok((version, segments(rest), query))
}

fn sub_ctx(ctx: &Ctx, version: String) -> Ctx {
    let mut c = ctx.clone();
    c.base = format!("/services/data/v{version}");
    c.origin.change_origin =
        ctx.origin
            .change_origin
            .replacen(&format!("/{}", ctx.version), &format!("/{version}"), 1);
    c.version = version;
    c.in_composite = true;
    c
}

/// Navigates `records[0].Id` inside a response body.
fn navigate<'a>(mut v: &'a Value, path: &str) -> Option<&'a Value> {
    for part in path.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            v = v.get(name)?;
        }
        for idx in indexes.split('[').filter(|s| !s.is_empty()) {
            let n: usize = idx.trim_end_matches(']').parse().ok()?;
            v = v.get(n)?;
        }
    }
    Some(v)
}

enum RefError {
    /// The named reference failed earlier or does not exist.
    Missing(String),
}

/// Replaces every `@{ref.path}` in `text`; a string that is exactly one reference takes the
/// referenced value's JSON type.
fn substitute(text: &str, refs: &HashMap<String, Value>) -> Result<Value, RefError> {
    let mut out = String::new();
    let mut rest = text;
    let mut whole: Option<Value> = None;
    while let Some(start) = rest.find("@{") {
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let expr = &rest[start + 2..start + len];
        let (name, path) = expr.split_once('.').unwrap_or((expr, ""));
        let root = refs
            .get(name)
            .ok_or_else(|| RefError::Missing(expr.to_string()))?;
        let value = if path.is_empty() {
            Some(root)
        } else {
            navigate(root, path)
        };
        let value = value
            .filter(|v| !v.is_null())
            .ok_or_else(|| RefError::Missing(expr.to_string()))?;
        if start == 0 && len + 1 == rest.len() && out.is_empty() {
            whole = Some(value.clone());
        }
        out.push_str(&rest[..start]);
        match value {
            Value::String(s) => out.push_str(s),
            other => out.push_str(&other.to_string()),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    Ok(whole.unwrap_or(Value::String(out)))
}

fn substitute_json(v: &Value, refs: &HashMap<String, Value>) -> Result<Value, RefError> {
    Ok(match v {
        Value::String(s) if s.contains("@{") => substitute(s, refs)?,
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|x| substitute_json(x, refs))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, x) in o {
                m.insert(k.clone(), substitute_json(x, refs)?);
            }
            Value::Object(m)
        }
        other => other.clone(),
    })
}

fn halted(message: &str) -> Value {
    json!([{"errorCode": "PROCESSING_HALTED", "message": message}])
}

/// `POST composite`.
pub(crate) fn composite(org: &mut Org, ctx: &Ctx, body: &Value) -> Result<Reply, SfError> {
    let requests = body
        .get("compositeRequest")
        .and_then(Value::as_array)
        .ok_or_else(|| SfError::json_parser("compositeRequest is required and must be an array"))?;
    if requests.len() > MAX_SUBREQUESTS {
        return Err(SfError::new(
            400,
            "LIMIT_EXCEEDED",
            format!("The number of subrequests exceeds the limit of {MAX_SUBREQUESTS}"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for r in requests {
        let reference = r
            .get("referenceId")
            .and_then(plain_text)
            .unwrap_or_default();
        if reference.is_empty()
            || !reference
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
            || !seen.insert(reference.to_string())
        {
            return Err(SfError::json_parser(format!(
                "Invalid or duplicate referenceId: '{reference}'"
            )));
        }
        if let Some(h) = r.get("httpHeaders").and_then(Value::as_object) {
            if h.keys().any(|k| {
                ["authorization", "accept", "content-type"]
                    .contains(&k.to_ascii_lowercase().as_str())
            }) {
                return Err(SfError::new(
                    400,
                    "INVALID_HEADER_TYPE",
                    "A subrequest may not set Accept, Authorization or Content-Type",
                ));
            }
        }
    }
    let all_or_none = flag(body.get("allOrNone"));
    let snapshot = all_or_none.then(|| org.snapshot());
    org.events
        .begin_transaction(uuid::Uuid::new_v4().to_string());
    let mut refs: HashMap<String, Value> = HashMap::new();
    let mut results: Vec<Value> = Vec::new();
    let mut failed = false;
    for r in requests {
        let reference = r
            .get("referenceId")
            .and_then(plain_text)
            .unwrap_or_default()
            .to_string();
        if failed && all_or_none {
            results.push(json!({"body": halted("The transaction was rolled back since another operation in the same transaction failed."), "httpHeaders": {}, "httpStatusCode": 400, "referenceId": reference}));
            continue;
        }
        let method = r
            .get("method")
            .and_then(plain_text)
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let url = r.get("url").and_then(plain_text).unwrap_or_default();
        let resolved = substitute(url, &refs).and_then(|u| {
            let sub_body = r
                .get("body")
                .map(|b| substitute_json(b, &refs))
                .transpose()?;
            Ok((u, sub_body))
        });
        let reply = match resolved {
            Err(RefError::Missing(expr)) => {
                let name = expr.split('.').next().unwrap_or_default().to_string();
                Reply::json(400, halted(&format!(
                    "Invalid reference specified. No value for {expr} found in {name}. Provided referenceId ('{name}') must start with a letter or a number, and it can contain only letters, numbers and underscores ('_')."
                )))
            }
            Ok((url_value, sub_body)) => {
                let url = plain_text(&url_value)
                    .map(str::to_string)
                    .unwrap_or_else(|| url_value.to_string());
                match split_url(&url) {
                    Err(e) => Reply::error(&e),
                    Ok((version, segs, query)) => {
                        let c = sub_ctx(ctx, version);
                        dispatch(org, &c, &method, &segs, &query, sub_body.as_ref())
                    }
                }
            }
        };
        if reply.status >= 400 {
            failed = true;
        } else if let Some(b) = &reply.body {
            refs.insert(reference.clone(), b.clone());
        }
        let headers: Map<String, Value> = reply
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        results.push(json!({
            "body": reply.body.as_ref().map(unmark_numbers).unwrap_or(Value::Null),
            "httpHeaders": headers,
            "httpStatusCode": reply.status,
            "referenceId": reference,
        }));
    }
    org.events.end_transaction();
    if let (Some(snap), true) = (snapshot, failed) {
        org.restore(snap);
        for res in results.iter_mut() {
            if res["httpStatusCode"].as_u64().is_some_and(|s| s < 400) {
                res["body"] = halted("The transaction was rolled back since another operation in the same transaction failed.");
                res["httpHeaders"] = json!({});
                res["httpStatusCode"] = json!(400);
            }
        }
    }
    Ok(Reply::json(200, json!({"compositeResponse": results})))
}

/// `POST composite/batch`.
pub(crate) fn batch(org: &mut Org, ctx: &Ctx, body: &Value) -> Result<Reply, SfError> {
    let requests = body
        .get("batchRequests")
        .and_then(Value::as_array)
        .ok_or_else(|| SfError::json_parser("batchRequests is required and must be an array"))?;
    if requests.len() > MAX_SUBREQUESTS {
        return Err(SfError::new(
            400,
            "LIMIT_EXCEEDED",
            format!("The number of batch requests exceeds the limit of {MAX_SUBREQUESTS}"),
        ));
    }
    let halt = flag(body.get("haltOnError"));
    let mut has_errors = false;
    let mut results = Vec::new();
    for r in requests {
        if has_errors && halt {
            results.push(json!({"statusCode": 412, "result": [{"errorCode": "BATCH_PROCESSING_HALTED", "message": "Batch processing halted per request"}]}));
            continue;
        }
        let method = r
            .get("method")
            .and_then(plain_text)
            .unwrap_or("GET")
            .to_ascii_uppercase();
        let url = r.get("url").and_then(plain_text).unwrap_or_default();
        let reply = match split_url(url) {
            Err(e) => Reply::error(&e),
            Ok((version, segs, query)) => dispatch(
                org,
                &sub_ctx(ctx, version),
                &method,
                &segs,
                &query,
                r.get("richInput"),
            ),
        };
        has_errors |= reply.status >= 400;
        results.push(json!({"statusCode": reply.status, "result": reply.body.as_ref().map(unmark_numbers).unwrap_or(Value::Null)}));
    }
    Ok(Reply::json(
        200,
        json!({"hasErrors": has_errors, "results": results}),
    ))
}

//! The `sobjects` resources (api-facts B3): describe, create (with or without the trailing
//! slash), read (`?fields=`), update (204), delete (204, to the recycle bin), read / upsert /
//! delete by external id (201 created, 200 `created:false` or 204 per
//! `SalesforceConfig::upsert_update_status`, 300 on several matches, 404 for a field that is
//! not an external id).

use super::dml::{sobject_def, Upserted};
use super::errors::SfError;
use super::http::{Ctx, Reply};
use super::ids;
use super::org::Org;
use super::schema::SObjectDef;
use serde_json::{json, Value};

pub(crate) fn describe_global(org: &Org, ctx: &Ctx) -> Reply {
    let list: Vec<Value> = org.schema.objects().map(|o| o.summary(&ctx.base)).collect();
    Reply::json(
        200,
        json!({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": list}),
    )
}

pub(crate) fn basic_info(org: &Org, ctx: &Ctx, t: &str) -> Result<Reply, SfError> {
    let schema = org.schema.clone();
    let d = sobject_def(&schema, t)?;
    let recent: Vec<Value> = org
        .store
        .all(&d.name)
        .filter(|r| r.deleted_at.is_none())
        .rev()
        .take(10)
        .map(|r| {
            let mut v = json!({"attributes": r.attributes(&ctx.base), "Id": r.id});
            if let Some(name) = r.fields.get("Name").and_then(|n| n.as_text()) {
                v["Name"] = json!(name);
            }
            v
        })
        .collect();
    Ok(Reply::json(
        200,
        json!({"objectDescribe": d.summary(&ctx.base), "recentItems": recent}),
    ))
}

pub(crate) fn describe(org: &Org, ctx: &Ctx, t: &str) -> Result<Reply, SfError> {
    let schema = org.schema.clone();
    Ok(Reply::json(
        200,
        sobject_def(&schema, t)?.describe(&ctx.base),
    ))
}

pub(crate) fn create(org: &mut Org, ctx: &Ctx, t: &str, body: &Value) -> Result<Reply, SfError> {
    let schema = org.schema.clone();
    let d = sobject_def(&schema, t)?;
    let id = org.create(&d.name, body, &ctx.origin)?;
    let mut r = Reply::json(201, json!({"id": id, "success": true, "errors": []}));
    r.headers.push((
        "Location".into(),
        format!("{}/sobjects/{}/{id}", ctx.base, d.name),
    ));
    Ok(r)
}

/// The field list of `?fields=A,B` (unknown names are INVALID_FIELD), with `Id` added.
fn field_list(d: &SObjectDef, fields: Option<&str>) -> Result<Option<Vec<String>>, SfError> {
    let Some(fields) = fields else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for name in fields.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let f = d.field(name).ok_or_else(|| {
            SfError::invalid_field(format!(
                "No such column '{name}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                d.name
            ))
        })?;
        out.push(f.name.clone());
    }
    if !out.iter().any(|n| n == "Id") {
        out.push("Id".into());
    }
    Ok(Some(out))
}

pub(crate) fn get(
    org: &Org,
    ctx: &Ctx,
    t: &str,
    id: &str,
    fields: Option<&str>,
) -> Result<Reply, SfError> {
    let schema = org.schema.clone();
    let d = sobject_def(&schema, t)?;
    let only = field_list(d, fields)?;
    let Some(id18) = ids::to_18(id) else {
        // Salesforce reads a segment that is not an id as an external-id field name.
        return Err(SfError::new(
            404,
            "NOT_FOUND",
            format!("Provided external ID field does not exist or is not accessible: {id}"),
        ));
    };
    match org.store.get(&d.name, &id18) {
        Some(r) if r.deleted_at.is_none() => {
            Ok(Reply::json(200, r.to_json(d, &ctx.base, only.as_deref())))
        }
        Some(_) => Err(SfError::new(404, "ENTITY_IS_DELETED", "entity is deleted")),
        None => Err(SfError::not_found()),
    }
}

pub(crate) fn update(
    org: &mut Org,
    ctx: &Ctx,
    t: &str,
    id: &str,
    body: &Value,
) -> Result<Reply, SfError> {
    if ids::to_18(id).is_none() {
        return Err(SfError::new(
            404,
            "NOT_FOUND",
            format!("Provided external ID field does not exist or is not accessible: {id}"),
        ));
    }
    org.update(t, id, body, &ctx.origin)?;
    Ok(Reply::empty(204))
}

pub(crate) fn delete(org: &mut Org, ctx: &Ctx, t: &str, id: &str) -> Result<Reply, SfError> {
    if ids::to_18(id).is_none() {
        return Err(SfError::new(
            404,
            "NOT_FOUND",
            format!("Provided external ID field does not exist or is not accessible: {id}"),
        ));
    }
    org.delete(t, id, &ctx.origin)?;
    Ok(Reply::empty(204))
}

fn multiple(org: &Org, ctx: &Ctx, t: &str, hits: &[String]) -> Reply {
    let name = org
        .schema
        .object(t)
        .map(|o| o.name.clone())
        .unwrap_or_else(|| t.to_string());
    Reply::json(
        300,
        json!(hits
            .iter()
            .map(|id| format!("{}/sobjects/{name}/{id}", ctx.base))
            .collect::<Vec<_>>()),
    )
}

pub(crate) fn get_by_external(
    org: &Org,
    ctx: &Ctx,
    t: &str,
    field: &str,
    value: &str,
    fields: Option<&str>,
) -> Result<Reply, SfError> {
    let schema = org.schema.clone();
    let d = sobject_def(&schema, t)?;
    let only = field_list(d, fields)?;
    let (_, hits) = org.find_by_external(&d.name, field, value)?;
    match hits.as_slice() {
        [] => Err(SfError::not_found()),
        [id] => match org.store.live(&d.name, id) {
            Some(r) => Ok(Reply::json(200, r.to_json(d, &ctx.base, only.as_deref()))),
            None => Err(SfError::not_found()),
        },
        _ => Ok(multiple(org, ctx, &d.name, &hits)),
    }
}

pub(crate) fn upsert(
    org: &mut Org,
    ctx: &Ctx,
    t: &str,
    field: &str,
    value: &str,
    body: &Value,
    update_only: bool,
) -> Result<Reply, SfError> {
    match org.upsert(t, field, value, body, update_only, &ctx.origin)? {
        Upserted::Created(id) => {
            let mut r = Reply::json(
                201,
                json!({"id": id, "success": true, "errors": [], "created": true}),
            );
            let name = org
                .schema
                .object(t)
                .map(|o| o.name.clone())
                .unwrap_or_default();
            r.headers.push((
                "Location".into(),
                format!("{}/sobjects/{name}/{id}", ctx.base),
            ));
            Ok(r)
        }
        Upserted::Updated(id) => {
            if org.config.upsert_update_status == 204 {
                Ok(Reply::empty(204))
            } else {
                Ok(Reply::json(
                    200,
                    json!({"id": id, "success": true, "errors": [], "created": false}),
                ))
            }
        }
        Upserted::Multiple(hits) => Ok(multiple(org, ctx, t, &hits)),
    }
}

pub(crate) fn delete_by_external(
    org: &mut Org,
    ctx: &Ctx,
    t: &str,
    field: &str,
    value: &str,
) -> Result<Reply, SfError> {
    let (_, hits) = org.find_by_external(t, field, value)?;
    match hits.as_slice() {
        [] => Err(SfError::not_found()),
        [id] => {
            org.delete(t, id, &ctx.origin)?;
            Ok(Reply::empty(204))
        }
        _ => Ok(multiple(org, ctx, t, &hits)),
    }
}

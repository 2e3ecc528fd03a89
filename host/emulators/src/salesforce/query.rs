//! SOQL evaluation over the store and the `query` / `queryAll` resources (api-facts B4): field
//! paths are resolved against the schema (unknown ones are `INVALID_FIELD`), parent paths come
//! back as nested objects with `attributes`, child subqueries as `{totalSize, done, records}`
//! (or null when empty), and results longer than a page get a `nextRecordsUrl`
//! (`/services/data/vNN.N/query/01g...-2000`) whose pages are served from a saved cursor.

use super::errors::SfError;
use super::http::Ctx;
use super::ids;
use super::org::Org;
use super::schema::{ChildRelationship, FieldDef, FieldType, SObjectDef, Schema};
use super::soql::{self, Cond, InList, Lit, Op, Query, SelectItem};
use super::store::Record;
use super::values::{day_start, Val};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::{HashMap, VecDeque};

/// Saved results of queries with more than one page.
#[derive(Debug, Default)]
pub struct Cursors {
    map: HashMap<String, Vec<Value>>,
    order: VecDeque<String>,
}

const MAX_CURSORS: usize = 200;

impl Cursors {
    fn save(&mut self, locator: String, records: Vec<Value>) {
        if self.order.len() >= MAX_CURSORS {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        self.order.push_back(locator.clone());
        self.map.insert(locator, records);
    }
}

#[derive(Clone, Debug)]
struct Hop {
    field: String,
    relationship: String,
    target: String,
}

#[derive(Clone, Debug)]
struct Path {
    hops: Vec<Hop>,
    field: FieldDef,
}

enum Rhs {
    Val(Val),
    Null,
    Range(DateTime<Utc>, DateTime<Utc>),
}

enum CCond {
    And(Vec<CCond>),
    Or(Vec<CCond>),
    Not(Box<CCond>),
    Cmp(Path, Op, Rhs),
    In(Path, Vec<Val>, bool),
    Like(Path, String),
}

enum CItem {
    Field(Path),
    Sub(Box<Compiled>, ChildRelationship),
    Count(Option<String>),
}

struct Compiled {
    object: String,
    items: Vec<CItem>,
    filter: Option<CCond>,
    order: Vec<(Path, bool, bool)>,
    limit: Option<usize>,
    offset: Option<usize>,
}

fn no_such_column(name: &str, object: &str) -> SfError {
    SfError::invalid_field(format!(
        "No such column '{name}' on entity '{object}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names."
    ))
}

fn resolve(schema: &Schema, obj: &SObjectDef, path: &[String]) -> Result<Path, SfError> {
    let mut path = path;
    if path.len() > 1
        && path[0].eq_ignore_ascii_case(&obj.name)
        && obj.relationship(&path[0]).is_none()
    {
        path = &path[1..];
    }
    let mut cur = obj;
    let mut hops = Vec::new();
    let Some((last, rels)) = path.split_last() else {
        return Err(SfError::malformed_query("unexpected token: end of query"));
    };
    for rel in rels {
        let f = cur.relationship(rel).ok_or_else(|| {
            SfError::invalid_field(format!(
                "Didn't understand relationship '{rel}' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names."
            ))
        })?;
        let target = f
            .reference_to
            .first()
            .and_then(|t| schema.object(t))
            .ok_or_else(|| no_such_column(rel, &cur.name))?;
        hops.push(Hop {
            field: f.name.clone(),
            relationship: f.relationship_name.clone().unwrap_or_default(),
            target: target.name.clone(),
        });
        cur = target;
    }
    let field = cur
        .field(last)
        .ok_or_else(|| no_such_column(last, &cur.name))?
        .clone();
    Ok(Path { hops, field })
}

fn filter_type_error(field: &FieldDef) -> SfError {
    let (ty, quotes) = match field.field_type {
        t if t.is_text() => ("string", "should be enclosed in quotes"),
        FieldType::Boolean => ("boolean", "should not be enclosed in quotes"),
        FieldType::Date => ("date", "should not be enclosed in quotes"),
        FieldType::Datetime => ("dateTime", "should not be enclosed in quotes"),
        _ => ("double", "should not be enclosed in quotes"),
    };
    SfError::new(
        400,
        "INVALID_QUERY_FILTER_OPERATOR",
        format!(
            "value of filter criterion for field '{}' must be of type {ty} and {quotes}",
            field.name
        ),
    )
}

/// The [start, end) range of a relative date literal, in UTC.
fn relative_range(
    name: &str,
    n: Option<i64>,
    now: DateTime<Utc>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = now.date_naive();
    let day = |d: NaiveDate| day_start(d);
    let month_start = |y: i32, m: u32| NaiveDate::from_ymd_opt(y, m, 1).unwrap_or(today);
    let add_months = |d: NaiveDate, k: i32| {
        let total = d.year() * 12 + d.month0() as i32 + k;
        month_start(total.div_euclid(12), total.rem_euclid(12) as u32 + 1)
    };
    let this_month = month_start(today.year(), today.month());
    let week_start = today - Duration::days(today.weekday().num_days_from_sunday() as i64);
    let year_start = |y: i32| NaiveDate::from_ymd_opt(y, 1, 1).unwrap_or(today);
    let n = n.unwrap_or(0).clamp(0, 36_500);
    match name {
        "YESTERDAY" => (day(today - Duration::days(1)), day(today)),
        "TOMORROW" => (
            day(today + Duration::days(1)),
            day(today + Duration::days(2)),
        ),
        "THIS_WEEK" => (day(week_start), day(week_start + Duration::days(7))),
        "LAST_WEEK" => (day(week_start - Duration::days(7)), day(week_start)),
        "NEXT_WEEK" => (
            day(week_start + Duration::days(7)),
            day(week_start + Duration::days(14)),
        ),
        "THIS_MONTH" => (day(this_month), day(add_months(this_month, 1))),
        "LAST_MONTH" => (day(add_months(this_month, -1)), day(this_month)),
        "NEXT_MONTH" => (
            day(add_months(this_month, 1)),
            day(add_months(this_month, 2)),
        ),
        "THIS_YEAR" => (
            day(year_start(today.year())),
            day(year_start(today.year() + 1)),
        ),
        "LAST_YEAR" => (
            day(year_start(today.year() - 1)),
            day(year_start(today.year())),
        ),
        "NEXT_YEAR" => (
            day(year_start(today.year() + 1)),
            day(year_start(today.year() + 2)),
        ),
        "LAST_N_DAYS" => (
            day(today - Duration::days(n)),
            day(today + Duration::days(1)),
        ),
        "NEXT_N_DAYS" => (day(today), day(today + Duration::days(n + 1))),
        _ => (day(today), day(today + Duration::days(1))),
    }
}

fn literal(field: &FieldDef, lit: &Lit, now: DateTime<Utc>) -> Result<Rhs, SfError> {
    let ty = field.field_type;
    Ok(match (lit, ty) {
        (Lit::Null, _) => Rhs::Null,
        (Lit::Relative(name, n), FieldType::Date | FieldType::Datetime) => {
            let (a, b) = relative_range(name, *n, now);
            Rhs::Range(a, b)
        }
        (Lit::Str(s), FieldType::Id | FieldType::Reference) => match ids::to_18(s) {
            Some(id) => Rhs::Val(Val::Text(id)),
            None if s.is_empty() => Rhs::Null,
            None => {
                return Err(SfError::new(
                    400,
                    "INVALID_QUERY_FILTER_OPERATOR",
                    format!("invalid ID field: {s}"),
                ))
            }
        },
        (Lit::Str(s), t) if t.is_text() => Rhs::Val(Val::Text(s.clone())),
        (Lit::Num(d), t) if t.is_number() => Rhs::Val(Val::Num(*d)),
        (Lit::Bool(b), FieldType::Boolean) => Rhs::Val(Val::Bool(*b)),
        (Lit::Date(d), FieldType::Date) => Rhs::Val(Val::Date(*d)),
        (Lit::DateTime(t), FieldType::Datetime) => Rhs::Val(Val::DateTime(*t)),
        _ => return Err(filter_type_error(field)),
    })
}

struct Compiler<'a> {
    org: &'a Org,
}

impl Compiler<'_> {
    fn compile(&self, q: &Query, obj: &SObjectDef) -> Result<Compiled, SfError> {
        let schema = &self.org.schema;
        let mut items = Vec::new();
        let has_count = q
            .select
            .iter()
            .any(|i| matches!(i, SelectItem::Count { .. }));
        if has_count && q.select.len() > 1 {
            return Err(SfError::malformed_query(
                "Field must be grouped or aggregated: COUNT() can't be mixed with other fields without GROUP BY",
            ));
        }
        for item in &q.select {
            items.push(match item {
                SelectItem::Field(p) => CItem::Field(resolve(schema, obj, p)?),
                SelectItem::Count { field, alias } => {
                    if let Some(p) = field {
                        resolve(schema, obj, p)?;
                        CItem::Count(Some(alias.clone().unwrap_or_else(|| "expr0".into())))
                    } else {
                        CItem::Count(None)
                    }
                }
                SelectItem::Sub(sub) => {
                    let rel = obj.child(&sub.from).cloned().ok_or_else(|| {
                        SfError::new(
                            400,
                            "INVALID_TYPE",
                            format!(
                                "Didn't understand relationship '{}' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.",
                                sub.from
                            ),
                        )
                    })?;
                    let child = schema.object(&rel.child).ok_or_else(SfError::not_found)?;
                    if sub.select.iter().any(|i| matches!(i, SelectItem::Sub(_))) {
                        return Err(SfError::malformed_query("Nesting of semi join sub-selects is not supported"));
                    }
                    CItem::Sub(Box::new(self.compile(sub, child)?), rel)
                }
            });
        }
        let filter = q.filter.as_ref().map(|c| self.cond(c, obj)).transpose()?;
        let order = q
            .order
            .iter()
            .map(|o| resolve(schema, obj, &o.path).map(|p| (p, o.desc, o.nulls_last)))
            .collect::<Result<Vec<_>, _>>()?;
        if q.offset.is_some_and(|o| o > 2000) {
            return Err(SfError::new(
                400,
                "NUMBER_OUTSIDE_VALID_RANGE",
                "Maximum SOQL offset allowed is 2000",
            ));
        }
        Ok(Compiled {
            object: obj.name.clone(),
            items,
            filter,
            order,
            limit: q.limit,
            offset: q.offset,
        })
    }

    fn cond(&self, c: &Cond, obj: &SObjectDef) -> Result<CCond, SfError> {
        let schema = &self.org.schema;
        let now = self.org.now;
        Ok(match c {
            Cond::And(v) => CCond::And(
                v.iter()
                    .map(|c| self.cond(c, obj))
                    .collect::<Result<_, _>>()?,
            ),
            Cond::Or(v) => CCond::Or(
                v.iter()
                    .map(|c| self.cond(c, obj))
                    .collect::<Result<_, _>>()?,
            ),
            Cond::Not(c) => CCond::Not(Box::new(self.cond(c, obj)?)),
            Cond::Cmp(p, op, lit) => {
                let path = resolve(schema, obj, p)?;
                let rhs = literal(&path.field, lit, now)?;
                if matches!(rhs, Rhs::Null) && !matches!(op, Op::Eq | Op::Ne) {
                    return Err(SfError::malformed_query(format!(
                        "invalid operator on null for field '{}'",
                        path.field.name
                    )));
                }
                CCond::Cmp(path, *op, rhs)
            }
            Cond::Like(p, pattern) => {
                let path = resolve(schema, obj, p)?;
                if !path.field.field_type.is_text() {
                    return Err(SfError::new(
                        400,
                        "INVALID_QUERY_FILTER_OPERATOR",
                        format!(
                            "invalid operator on field '{}': LIKE applies to text fields only",
                            path.field.name
                        ),
                    ));
                }
                CCond::Like(path, pattern.clone())
            }
            Cond::In(p, list, negated) => {
                let path = resolve(schema, obj, p)?;
                let values = match list {
                    InList::Values(lits) => {
                        let mut out = Vec::new();
                        for l in lits {
                            match literal(&path.field, l, now)? {
                                Rhs::Val(v) => out.push(v),
                                Rhs::Null => out.push(Val::Null),
                                Rhs::Range(..) => return Err(filter_type_error(&path.field)),
                            }
                        }
                        out
                    }
                    InList::Sub(sub) => {
                        let [SelectItem::Field(sp)] = sub.select.as_slice() else {
                            return Err(SfError::malformed_query(
                                "a semi-join subquery selects exactly one field",
                            ));
                        };
                        let sub_obj = schema
                            .object(&sub.from)
                            .ok_or_else(|| invalid_type(&sub.from))?;
                        let compiled = self.compile(sub, sub_obj)?;
                        let sub_path = resolve(schema, sub_obj, sp)?;
                        let rows = run(self.org, &compiled, None, false)?;
                        rows.iter()
                            .map(|r| value_at(self.org, r, &sub_path))
                            .filter(|v| !v.is_null())
                            .collect()
                    }
                };
                CCond::In(path, values, *negated)
            }
        })
    }
}

fn invalid_type(name: &str) -> SfError {
    SfError::new(
        400,
        "INVALID_TYPE",
        format!("sObject type '{name}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."),
    )
}

fn parent<'a>(org: &'a Org, rec: &Record, hop: &Hop) -> Option<&'a Record> {
    let id = rec.fields.get(&hop.field).and_then(Val::as_text)?;
    org.store.get(&hop.target, id)
}

fn value_at(org: &Org, rec: &Record, path: &Path) -> Val {
    let mut cur = rec;
    for hop in &path.hops {
        match parent(org, cur, hop) {
            Some(p) => cur = p,
            None => return Val::Null,
        }
    }
    cur.get(&path.field.name)
}

fn text_eq(a: &Val, b: &Val, ty: FieldType) -> bool {
    match (a, b) {
        (Val::Text(x), Val::Text(y)) if matches!(ty, FieldType::Id | FieldType::Reference) => {
            x == y
        }
        (Val::Text(x), Val::Text(y)) => x.to_lowercase() == y.to_lowercase(),
        _ => a.compare(b) == Some(Ordering::Equal),
    }
}

fn matches(org: &Org, rec: &Record, c: &CCond) -> bool {
    match c {
        CCond::And(v) => v.iter().all(|c| matches(org, rec, c)),
        CCond::Or(v) => v.iter().any(|c| matches(org, rec, c)),
        CCond::Not(c) => !matches(org, rec, c),
        CCond::Like(p, pattern) => match value_at(org, rec, p) {
            Val::Text(s) => soql::like(pattern, &s),
            _ => false,
        },
        CCond::In(p, values, negated) => {
            let v = value_at(org, rec, p);
            let found = values.iter().any(|x| {
                if x.is_null() {
                    v.is_null()
                } else {
                    text_eq(&v, x, p.field.field_type)
                }
            });
            found != *negated
        }
        CCond::Cmp(p, op, rhs) => {
            let v = value_at(org, rec, p);
            match rhs {
                Rhs::Null => (*op == Op::Eq) == v.is_null(),
                _ if v.is_null() => *op == Op::Ne,
                Rhs::Range(start, end) => {
                    let t = match v {
                        Val::Date(d) => day_start(d),
                        Val::DateTime(t) => t,
                        _ => return false,
                    };
                    match op {
                        Op::Eq => t >= *start && t < *end,
                        Op::Ne => !(t >= *start && t < *end),
                        Op::Lt => t < *start,
                        Op::Le => t < *end,
                        Op::Gt => t >= *end,
                        Op::Ge => t >= *start,
                    }
                }
                Rhs::Val(x) => match op {
                    Op::Eq => text_eq(&v, x, p.field.field_type),
                    Op::Ne => !text_eq(&v, x, p.field.field_type),
                    _ => match v.compare(x) {
                        Some(o) => match op {
                            Op::Lt => o == Ordering::Less,
                            Op::Le => o != Ordering::Greater,
                            Op::Gt => o == Ordering::Greater,
                            _ => o != Ordering::Less,
                        },
                        None => false,
                    },
                },
            }
        }
    }
}

/// Rows of `q` (filtered, ordered, offset and limited), optionally only children of `parent_of`.
fn run<'a>(
    org: &'a Org,
    q: &Compiled,
    parent_of: Option<(&str, &str)>,
    all_rows: bool,
) -> Result<Vec<&'a Record>, SfError> {
    let rows: Vec<&Record> = org
        .store
        .all(&q.object)
        .filter(|r| all_rows || r.deleted_at.is_none())
        .filter(|r| {
            parent_of
                .is_none_or(|(field, id)| r.fields.get(field).and_then(Val::as_text) == Some(id))
        })
        .filter(|r| q.filter.as_ref().is_none_or(|c| matches(org, r, c)))
        .collect();
    Ok(order_and_page(org, q, rows))
}

/// The rows of a child subquery for every parent at once, by parent id: one pass over the
/// child object instead of one per parent row (a query over thousands of opportunities with
/// their line items was quadratic).
fn children_by_parent<'a>(
    org: &'a Org,
    sub: &Compiled,
    field: &str,
) -> HashMap<&'a str, Vec<&'a Record>> {
    let mut groups: HashMap<&str, Vec<&Record>> = HashMap::new();
    for r in org
        .store
        .all(&sub.object)
        .filter(|r| r.deleted_at.is_none())
        .filter(|r| sub.filter.as_ref().is_none_or(|c| matches(org, r, c)))
    {
        if let Some(parent) = r.fields.get(field).and_then(Val::as_text) {
            groups.entry(parent).or_default().push(r);
        }
    }
    groups
        .into_iter()
        .map(|(parent, rows)| (parent, order_and_page(org, sub, rows)))
        .collect()
}

/// ORDER BY, OFFSET and LIMIT over rows already filtered.
fn order_and_page<'a>(org: &Org, q: &Compiled, mut rows: Vec<&'a Record>) -> Vec<&'a Record> {
    if !q.order.is_empty() {
        rows.sort_by(|a, b| {
            for (path, desc, nulls_last) in &q.order {
                let (x, y) = (value_at(org, a, path), value_at(org, b, path));
                let o = match (x.is_null(), y.is_null()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => {
                        if *nulls_last {
                            Ordering::Greater
                        } else {
                            Ordering::Less
                        }
                    }
                    (false, true) => {
                        if *nulls_last {
                            Ordering::Less
                        } else {
                            Ordering::Greater
                        }
                    }
                    (false, false) => {
                        let o = x.compare(&y).unwrap_or(Ordering::Equal);
                        if *desc {
                            o.reverse()
                        } else {
                            o
                        }
                    }
                };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
    }
    let offset = q.offset.unwrap_or(0);
    let rows = rows.into_iter().skip(offset);
    match q.limit {
        Some(l) => rows.take(l).collect(),
        None => rows.collect(),
    }
}

fn put_path(
    org: &Org,
    base: &str,
    map: &mut Map<String, Value>,
    rec: &Record,
    hops: &[Hop],
    field: &FieldDef,
) {
    match hops.split_first() {
        None => {
            map.insert(
                field.name.clone(),
                rec.get(&field.name).to_json(field.field_type),
            );
        }
        Some((hop, rest)) => match parent(org, rec, hop) {
            None => {
                map.entry(hop.relationship.clone()).or_insert(Value::Null);
            }
            Some(p) => {
                let entry = map.entry(hop.relationship.clone()).or_insert(Value::Null);
                if !entry.is_object() {
                    *entry = json!({"attributes": p.attributes(base)});
                }
                if let Value::Object(inner) = entry {
                    put_path(org, base, inner, p, rest, field);
                }
            }
        },
    }
}

/// The child rows of each subquery item of a query, grouped by parent (`None` for the other
/// items), computed once for all the parent rows.
type ChildIndex<'a> = Vec<Option<HashMap<&'a str, Vec<&'a Record>>>>;

fn child_index<'a>(org: &'a Org, q: &Compiled) -> ChildIndex<'a> {
    q.items
        .iter()
        .map(|item| match item {
            CItem::Sub(sub, rel) => Some(children_by_parent(org, sub, &rel.field)),
            _ => None,
        })
        .collect()
}

fn project(
    org: &Org,
    base: &str,
    q: &Compiled,
    rec: &Record,
    index: Option<&ChildIndex<'_>>,
) -> Result<Value, SfError> {
    let mut m = Map::new();
    m.insert("attributes".into(), rec.attributes(base));
    for (i, item) in q.items.iter().enumerate() {
        match item {
            CItem::Field(p) => put_path(org, base, &mut m, rec, &p.hops, &p.field),
            CItem::Count(_) => {}
            CItem::Sub(sub, rel) => {
                let kids = match index.and_then(|x| x.get(i)).and_then(Option::as_ref) {
                    Some(groups) => groups.get(rec.id.as_str()).cloned().unwrap_or_default(),
                    None => run(org, sub, Some((&rel.field, &rec.id)), false)?,
                };
                let value = if kids.is_empty() {
                    Value::Null
                } else {
                    let records = kids
                        .iter()
                        .map(|k| project(org, base, sub, k, None))
                        .collect::<Result<Vec<_>, _>>()?;
                    json!({"totalSize": records.len(), "done": true, "records": records})
                };
                m.insert(rel.name.clone(), value);
            }
        }
    }
    Ok(Value::Object(m))
}

/// Runs a SOQL query; answers the first page (and saves the rest for `nextRecordsUrl`).
pub(crate) fn query(
    org: &mut Org,
    ctx: &Ctx,
    soql_text: &str,
    all_rows: bool,
) -> Result<Value, SfError> {
    let parsed = soql::parse(soql_text)?;
    let obj = org.schema.clone();
    let obj = obj
        .object(&parsed.from)
        .ok_or_else(|| invalid_type(&parsed.from))?;
    let compiled = Compiler { org }.compile(&parsed, obj)?;
    let rows = run(org, &compiled, None, all_rows)?;
    if let Some(CItem::Count(alias)) = compiled.items.first() {
        return Ok(match alias {
            None => json!({"totalSize": rows.len(), "done": true, "records": []}),
            Some(alias) => {
                let mut rec = Map::new();
                rec.insert("attributes".into(), json!({"type": "AggregateResult"}));
                rec.insert(alias.clone(), json!(rows.len()));
                json!({"totalSize": 1, "done": true, "records": [Value::Object(rec)]})
            }
        });
    }
    let index = child_index(org, &compiled);
    let records = rows
        .iter()
        .map(|r| project(org, &ctx.base, &compiled, r, Some(&index)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(org, ctx, records))
}

fn page(org: &mut Org, ctx: &Ctx, records: Vec<Value>) -> Value {
    let total = records.len();
    let size = ctx.page_size.max(1);
    if total <= size {
        return json!({"totalSize": total, "done": true, "records": records});
    }
    let locator = org.store.ids.next("01g");
    let first: Vec<Value> = records[..size].to_vec();
    org.cursors.save(locator.clone(), records);
    json!({"totalSize": total, "done": false, "nextRecordsUrl": format!("{}/query/{locator}-{size}", ctx.base), "records": first})
}

/// `GET query/{locator}-{offset}`: the next page of a saved result.
pub(crate) fn next_page(org: &mut Org, ctx: &Ctx, locator: &str) -> Result<Value, SfError> {
    let invalid = || SfError::new(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let records = org.cursors.map.get(id).ok_or_else(invalid)?;
    let total = records.len();
    if offset > total {
        return Err(invalid());
    }
    let size = ctx.page_size.max(1);
    let end = (offset + size).min(total);
    let chunk: Vec<Value> = records[offset..end].to_vec();
    let mut v = json!({"totalSize": total, "done": end >= total, "records": chunk});
    if end < total {
        v["nextRecordsUrl"] = json!(format!("{}/query/{id}-{end}", ctx.base));
    }
    Ok(v)
}

//! The company API under `/v3/company/{realmId}/...`: authentication, throttling, `requestid`
//! replay, then the operation.
//!
//! | method and path (after `/v3/company/{realmId}`) | operation |
//! |---|---|
//! | `POST /{entity}` | create (no Id) or update (Id + SyncToken; `"sparse": true` for sparse) |
//! | `POST /{entity}?operation=delete` | delete a transaction |
//! | `POST /invoice?operation=void`, `POST /payment?operation=update&include=void` | void |
//! | `GET /{entity}/{id}` | read (`?include=invoiceLink` adds Invoice.InvoiceLink) |
//! | `POST /invoice/{id}/send?sendTo=` | email the invoice |
//! | `GET /invoice/{id}/pdf` | a small PDF |
//! | `GET /query?query=`, `POST /query` (application/text) | query |
//! | `POST /batch` | batch |
//! | `GET /cdc?entities=&changedSince=` | change data capture |
//! | `GET /companyinfo/{realmId}`, `GET /preferences` | company settings |

use super::batch::{self, BatchLimits};
use super::cdc;
use super::entities::{self, EntityDef, Kind};
use super::errors::{gateway_fault, throttle_xml, QboError};
use super::idempotency;
use super::oauth::{bearer, TokenProblem};
use super::operations::{render, Balances, Ops, Options};
use super::query;
use super::reply::Reply;
use super::store::{By, Company, IdKey, Record};
use super::timefmt;
use super::webhooks::ChangeEvent;
use super::{QboEmulator, State as EmulatorState};
use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, Method, StatusCode, Uri},
    response::{IntoResponse, Response},
};
use serde_json::{json, Map, Value};
use std::borrow::Cow;

/// Runs a query against the company of `ops`; the answer is the `QueryResponse` object.
pub(crate) fn run_query(ops: &Ops, sql: &str) -> Result<Value, QboError> {
    let parsed = query::parse(sql)?;
    let def = entities::lookup(&parsed.entity).ok_or_else(|| {
        QboError::invalid_query(format!("Entity {} is not supported", parsed.entity))
    })?;
    let company = &*ops.company;
    let filter = query::Filter::new(&parsed, def.kind == Kind::NameList, ops.tz);
    let candidates = candidates(company, def.name, &filter);
    let selected: Vec<Cow<Map<String, Value>>> = if def.name == "ExchangeRate" {
        // Rendered (no Id), then filtered.
        let balances = Balances::default();
        candidates
            .map(|(id, r)| render(def.name, id, r, &balances))
            .filter(|obj| filter.accepts(obj))
            .map(Cow::Owned)
            .collect()
    } else if def.name == "Customer" {
        // Balance is added when rendering: filter on the stored fields first, then render the
        // rest and filter again.
        let stored: Vec<_> = candidates
            .filter(|(_, r)| filter.accepts_without(&r.value, &["Balance", "BalanceWithJobs"]))
            .collect();
        let balances = Balances::of(company, def.name, stored.iter().map(|(id, _)| id.as_str()));
        stored
            .into_iter()
            .map(|(id, r)| render(def.name, id, r, &balances))
            .filter(|obj| filter.accepts(obj))
            .map(Cow::Owned)
            .collect()
    } else if def.name == super::recurring::ENTITY {
        // Filtered on the stored template, answered wrapped: `[{"Invoice": {...}}]`.
        let balances = Balances::default();
        candidates
            .filter(|(_, r)| filter.accepts(&r.value))
            .map(|(id, r)| Cow::Owned(render(def.name, id, r, &balances)))
            .collect()
    } else {
        // Other objects are returned as stored: they are filtered before they are copied.
        candidates
            .filter(|(_, r)| filter.accepts(&r.value))
            .map(|(_, r)| Cow::Borrowed(&r.value))
            .collect()
    };
    query::respond(&parsed, def.name, selected, ops.tz)
}

/// The records of `entity` a query may select, in Id order. An `=` or `IN` condition on `Id` or
/// on an invoice's `DocNumber` names its few candidates through the table's look-ups; other
/// queries read the whole table. The filter then checks every condition on each candidate.
fn candidates<'c>(
    company: &'c Company,
    entity: &str,
    filter: &query::Filter,
) -> Box<dyn Iterator<Item = (&'c String, &'c Record)> + 'c> {
    let Some(table) = company.get_table(entity) else {
        return Box::new(std::iter::empty());
    };
    let mut found: Vec<(&IdKey, &Record)> = Vec::new();
    if let Some(values) = filter.number_values("Id") {
        // A record's `Id` field is its key. Ids the emulator did not allocate ("TAX", "07") can
        // equal a value in other ways, so they are always candidates.
        found.extend(values.iter().filter_map(|v| table.get_keyed(v)));
        found.extend(table.odd_ids());
    } else if let Some(values) = filter
        .plain_text_values("DocNumber")
        .filter(|_| table.unkeyed(By::DocNumber) == Some(0))
    {
        // Every record has a text DocNumber, and these values can only equal one ignoring case.
        for value in values {
            found.extend(table.find_keyed(By::DocNumber, &value.to_lowercase()));
        }
    } else {
        return Box::new(table.iter());
    }
    found.sort_by(|a, b| a.0.cmp(b.0));
    found.dedup_by(|a, b| a.0 == b.0);
    Box::new(found.into_iter().map(|(k, r)| (k.text(), r)))
}

/// `/v3/company/{realm}` with nothing after it.
pub(crate) async fn company_root(
    State(emu): State<QboEmulator>,
    Path(realm): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    company_api(
        State(emu),
        Path((realm, String::new())),
        method,
        uri,
        headers,
        body,
    )
    .await
}

/// Every `/v3/company/{realm}/...` request.
pub(crate) async fn company_api(
    State(emu): State<QboEmulator>,
    Path((realm, rest)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let limit = emu.inner.config.max_body_bytes;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            let time = timefmt::response_time(emu.inner.clock.now(), emu.inner.tz());
            let mut e = QboError::validation(
                "2050",
                "Length exceeds limit",
                format!("The request body exceeds the maximum of {limit} bytes"),
            );
            e.status = StatusCode::PAYLOAD_TOO_LARGE;
            return Reply::fault(&e, &time).into_response();
        }
    };
    let (reply, events) = handle(
        &emu,
        &realm,
        &rest,
        &method,
        uri.query().unwrap_or(""),
        &headers,
        &bytes,
    );
    emu.inner.webhooks.send(events);
    reply.into_response()
}

fn handle(
    emu: &QboEmulator,
    realm: &str,
    rest: &str,
    method: &Method,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> (Reply, Vec<ChangeEvent>) {
    let inner = &emu.inner;
    let now = inner.clock.now();
    let tz = inner.tz();
    let time = timefmt::response_time(now, tz);
    let mut state = inner.lock();

    let auth = |status: StatusCode, detail: &str| {
        Reply::json(
            status,
            &gateway_fault(status, detail, now.timestamp_millis()),
        )
    };
    let token_realm = match bearer(headers).map(|t| state.tokens.check_access(t, now)) {
        None => {
            return (
                auth(
                    StatusCode::UNAUTHORIZED,
                    "Authorization header is missing or is not a Bearer token",
                ),
                Vec::new(),
            )
        }
        Some(Err(TokenProblem::Unknown)) => {
            return (auth(StatusCode::UNAUTHORIZED, "Token invalid"), Vec::new())
        }
        Some(Err(TokenProblem::Expired)) => {
            return (auth(StatusCode::UNAUTHORIZED, "Token expired"), Vec::new())
        }
        Some(Err(TokenProblem::Revoked)) => {
            return (auth(StatusCode::UNAUTHORIZED, "Token revoked"), Vec::new())
        }
        Some(Ok(r)) => r,
    };
    if token_realm != realm || !state.companies.contains_key(realm) {
        return (
            auth(
                StatusCode::FORBIDDEN,
                "The access token is not authorized for this company (realmId)",
            ),
            Vec::new(),
        );
    }

    let segments: Vec<String> = rest
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let is_batch = segments.first().map(String::as_str) == Some("batch");
    if !state
        .limiter
        .admit(realm, is_batch, now, &inner.config.rate_limits)
    {
        return (
            Reply::raw(
                StatusCode::TOO_MANY_REQUESTS,
                "application/xml",
                throttle_xml(&time),
            ),
            Vec::new(),
        );
    }

    // Recurring templates due by now generate their invoices before anything is answered.
    let mut events = Vec::new();
    if let Some(company) = state.companies.get_mut(realm) {
        super::recurring::run_company(company, realm, now, tz, &mut events);
    }

    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let request_id = param(&params, "requestid")
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if let Some(rid) = &request_id {
        let max = if is_batch {
            idempotency::MAX_LEN_BATCH
        } else {
            idempotency::MAX_LEN
        };
        if rid.chars().count() > max {
            return (
                Reply::fault(&QboError::too_long("requestid", max), &time),
                events,
            );
        }
        if let Some(stored) = state
            .replay
            .get(realm, rid, now, inner.config.requestid_ttl_secs)
        {
            return (Reply::from_stored(stored), events);
        }
    }

    let reply = {
        let state = &mut *state;
        let ctx = Route {
            emu,
            params: &params,
            body,
            time: &time,
            has_request_id: request_id.is_some(),
        };
        route(&ctx, state, realm, &segments, method, now, &mut events)
    };
    if let Some(rid) = &request_id {
        state.replay.put(realm, rid, reply.store(now));
    }
    (reply, events)
}

fn param<'p>(params: &'p [(String, String)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

struct Route<'a> {
    emu: &'a QboEmulator,
    params: &'a [(String, String)],
    body: &'a [u8],
    time: &'a str,
    has_request_id: bool,
}

impl Route<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        param(self.params, name)
    }

    fn includes(&self, what: &str) -> bool {
        self.param("include")
            .is_some_and(|i| i.split(',').any(|p| p.trim().eq_ignore_ascii_case(what)))
    }

    fn json_body(&self) -> Result<Value, QboError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(QboError::invalid_property("the request body is empty"));
        }
        let text = std::str::from_utf8(self.body)
            .map_err(|_| QboError::unsupported("The request body is not valid UTF-8"))?;
        serde_json::from_str(text)
            .map_err(|e| QboError::invalid_property(format!("malformed JSON ({e})")))
    }

    fn ok(&self, key: &str, value: Value) -> Reply {
        let mut body = serde_json::Map::new();
        body.insert(key.to_string(), value);
        body.insert("time".into(), json!(self.time));
        Reply::json(StatusCode::OK, &Value::Object(body))
    }
}

fn route(
    ctx: &Route,
    state: &mut EmulatorState,
    realm: &str,
    segments: &[String],
    method: &Method,
    now: chrono::DateTime<chrono::Utc>,
    events: &mut Vec<ChangeEvent>,
) -> Reply {
    let inner = &ctx.emu.inner;
    let Some(company) = state.companies.get_mut(realm) else {
        return Reply::fault(&QboError::unsupported("Unknown company"), ctx.time);
    };
    let options = Options {
        allow_duplicate_doc_number: ctx.includes("allowduplicatedocnum"),
        rename_on_deactivate: inner.config.rename_deleted_customers,
    };
    let mut ops = Ops {
        company,
        realm,
        now,
        tz: inner.tz(),
        events,
        options,
    };
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let result: Result<Reply, QboError> = (|| match (method.as_str(), segs.as_slice()) {
        ("GET", ["query"]) | ("POST", ["query"]) => {
            let sql = match ctx.param("query") {
                Some(q) => q.to_string(),
                None => String::from_utf8_lossy(ctx.body).to_string(),
            };
            if sql.trim().is_empty() {
                return Err(QboError::query_parse(
                    "Encountered \"<EOF>\". The query is empty",
                ));
            }
            Ok(ctx.ok("QueryResponse", run_query(&ops, &sql)?))
        }
        ("POST", ["batch"]) => {
            let limits = BatchLimits {
                max_items: inner.config.batch_max,
                has_request_id: ctx.has_request_id,
                cdc_max_days: inner.config.cdc_max_days,
            };
            let items = batch::run(&mut ops, ctx.json_body()?, &limits)?;
            Ok(ctx.ok("BatchItemResponse", Value::Array(items)))
        }
        ("GET", ["cdc"]) | ("POST", ["cdc"]) => {
            let (names, since) = cdc::parse_request(
                ctx.param("entities"),
                ctx.param("changedSince"),
                now,
                ops.tz,
                inner.config.cdc_max_days,
            )?;
            Ok(ctx.ok(
                "CDCResponse",
                json!([{"QueryResponse": cdc::changes(ops.company, &names, since, ops.tz)}]),
            ))
        }
        ("GET", ["companyinfo", _]) | ("GET", ["companyinfo"]) => {
            let def = entities::lookup("CompanyInfo")
                .ok_or_else(|| QboError::unsupported("CompanyInfo"))?;
            Ok(ctx.ok(def.name, ops.read(def, "1")?))
        }
        ("GET", ["exchangerate"]) => {
            let today = super::timefmt::local_date(now, ops.tz);
            let value = super::tax::exchange_rate(
                ops.company,
                ctx.param("sourcecurrencycode"),
                ctx.param("asofdate"),
                today,
            )?;
            Ok(ctx.ok("ExchangeRate", value))
        }
        ("GET", ["preferences"]) => {
            let def = entities::lookup("Preferences")
                .ok_or_else(|| QboError::unsupported("Preferences"))?;
            Ok(ctx.ok(def.name, ops.read(def, "1")?))
        }
        ("POST", [entity]) => {
            let def = known(entity)?;
            let operation = ctx.param("operation").map(str::to_ascii_lowercase);
            let body = ctx.json_body()?;
            let value = match operation.as_deref() {
                None | Some("create") => ops.save(def, body)?,
                Some("update") if ctx.includes("void") => ops.void(def, body)?,
                Some("update") => ops.save(def, body)?,
                Some("delete") => ops.delete(def, body)?,
                Some("void") => ops.void(def, body)?,
                Some(other) => {
                    return Err(QboError::unsupported(format!(
                        "Operation {other} is not supported"
                    )))
                }
            };
            Ok(ctx.ok(def.name, with_invoice_link(ctx, def, realm, value)))
        }
        ("GET", [entity, id]) => {
            let def = known(entity)?;
            let value = ops.read(def, id)?;
            Ok(ctx.ok(def.name, with_invoice_link(ctx, def, realm, value)))
        }
        ("POST", [entity, id, "send"]) => {
            let def = known(entity)?;
            let value = ops.send(def, id, ctx.param("sendTo").map(str::to_string))?;
            Ok(ctx.ok(def.name, value))
        }
        ("GET", [entity, id, "pdf"]) => {
            let def = known(entity)?;
            if def.name != "Invoice" {
                return Err(QboError::unsupported(format!(
                    "PDF is not available for {}",
                    def.name
                )));
            }
            let invoice = ops.read(def, id)?;
            Ok(Reply::raw(StatusCode::OK, "application/pdf", pdf(&invoice)))
        }
        _ => Err(QboError::unsupported(format!(
            "Operation {} /{} is not supported",
            method,
            segments.join("/")
        ))),
    })();
    result.unwrap_or_else(|e| Reply::fault(&e, ctx.time))
}

fn known(entity: &str) -> Result<&'static EntityDef, QboError> {
    entities::lookup(entity).ok_or_else(|| {
        QboError::unsupported(format!(
            "Unsupported Operation: the resource {entity} is not supported"
        ))
    })
}

fn with_invoice_link(ctx: &Route, def: &EntityDef, realm: &str, mut value: Value) -> Value {
    if def.name == "Invoice"
        && ctx.includes("invoiceLink")
        && value.get("BillEmail").is_some()
        && value.get("status").is_none()
    {
        let id = value
            .get("Id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let token = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("{realm}/{id}").as_bytes(),
        )
        .simple()
        .to_string();
        value["InvoiceLink"] = json!(format!("https://connect.intuit.com/t/scs-v1-{token}"));
    }
    value
}

/// A one-page PDF naming the invoice (enough for "is it a PDF" checks).
fn pdf(invoice: &Value) -> Vec<u8> {
    let doc = invoice
        .get("DocNumber")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let total = invoice
        .get("TotalAmt")
        .map(Value::to_string)
        .unwrap_or_default();
    let text = format!("Invoice {doc} total {total}").replace(['(', ')', '\\'], "");
    let stream = format!("BT /F1 18 Tf 72 720 Td ({text}) Tj ET");
    format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >> endobj\n4 0 obj << /Length {} >> stream\n{stream}\nendstream endobj\n5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n",
        stream.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::super::seed;
    use super::*;

    #[test]
    fn look_ups_answer_as_a_full_scan_would() {
        seed::seeded(Default::default(), |ops| {
            let customers = entities::lookup("Customer").unwrap();
            let customer = ops.save(customers, json!({"DisplayName": "A"})).unwrap();
            let invoices = entities::lookup("Invoice").unwrap();
            for (id, doc) in [
                (None, "SF-1"),
                (None, "sf-2"),
                (Some("07"), "1001"),
                (Some("TAX1"), "SF-3"),
                (None, "2024-05-01"),
                (Some("12"), "12"),
            ] {
                let body = json!({"CustomerRef": {"value": customer["Id"]}, "DocNumber": doc,
                              "Line": [{"DetailType": "SalesItemLineDetail", "Amount": 5}]});
                let body = body.as_object().cloned().unwrap();
                ops.create(invoices, body, id.map(str::to_string)).unwrap();
            }
            // `id` and `docnumber` reach the same fields without the look-ups.
            for (field, condition, matches) in [
                ("Id", "in ('1', '07', '7.0', 'tax1', '12')", 4),
                ("Id", "= '12.00'", 1),
                ("DocNumber", "in ('SF-1', 'SF-2', 'sf-3', '1001.0')", 4),
                ("DocNumber", "= '2024-05-01T00:00:00'", 1),
                ("DocNumber", "in ('12', 'nothing')", 1),
            ] {
                let sql = |f: &str| {
                    format!("select * from Invoice where {f} {condition} orderby TxnDate")
                };
                let fast = run_query(ops, &sql(field)).unwrap();
                let slow = run_query(ops, &sql(&field.to_lowercase())).unwrap();
                assert_eq!(fast, slow, "{}", sql(field));
                let found = fast["Invoice"].as_array().map_or(0, Vec::len);
                assert_eq!(found, matches, "{}", sql(field));
            }
        });
    }

    #[test]
    fn tax_rates_tax_codes_and_exchange_rates_are_queryable() {
        let profile = super::super::CompanyProfile {
            multicurrency: true,
            ..super::super::CompanyProfile::uk()
        };
        seed::seeded(profile, |ops| {
            let codes = run_query(ops, "select * from TaxCode").unwrap();
            let names: Vec<&str> = codes["TaxCode"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|c| c["Name"].as_str())
                .collect();
            assert!(names.contains(&"20.0% S") && !names.contains(&"TAX"));
            let rates = run_query(ops, "select * from TaxRate where Name = '5.0% R'").unwrap();
            assert_eq!(rates["TaxRate"][0]["RateValue"], json!(5));
            let fx = run_query(
                ops,
                "select * from ExchangeRate where SourceCurrencyCode in ('EUR')",
            )
            .unwrap();
            let eur = &fx["ExchangeRate"][0];
            assert_eq!(
                (
                    eur["SourceCurrencyCode"].as_str(),
                    eur["TargetCurrencyCode"].as_str()
                ),
                (Some("EUR"), Some("GBP"))
            );
            assert!(eur.get("Id").is_none());
            let currencies = run_query(ops, "select * from CompanyCurrency").unwrap();
            assert_eq!(currencies["CompanyCurrency"].as_array().unwrap().len(), 2);
        });
    }

    async fn json_of(answer: Response) -> Value {
        let bytes = axum::body::to_bytes(answer.into_body(), 1 << 20)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn exchangerate_route_answers_the_entity_or_a_fault() {
        use tower::ServiceExt;
        let config = super::super::QboConfig {
            company: super::super::CompanyProfile {
                multicurrency: true,
                ..super::super::CompanyProfile::us()
            },
            ..super::super::QboConfig::default()
        };
        let emu = QboEmulator::new(config);
        let realm = emu.config().realms[0].clone();
        let token = emu.issue_tokens(&realm).access_token;
        let get = |query: &str| {
            axum::http::Request::get(format!("/v3/company/{realm}/exchangerate?{query}"))
                .header("Authorization", format!("Bearer {token}"))
                .header("Accept", "application/json")
                .body(Body::empty())
                .unwrap()
        };
        let answer = emu
            .router()
            .oneshot(get(
                "sourcecurrencycode=EUR&asofdate=2025-01-02&minorversion=75",
            ))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let body = json_of(answer).await;
        let rate = &body["ExchangeRate"];
        assert_eq!(rate["Rate"], json!(1.08));
        assert_eq!(rate["AsOfDate"], "2025-01-02");
        assert_eq!(rate["TargetCurrencyCode"], "USD");
        assert!(body["time"].is_string());
        let answer = emu
            .router()
            .oneshot(get("sourcecurrencycode=CHF"))
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        let body = json_of(answer).await;
        assert_eq!(body["Fault"]["Error"][0]["code"], "6000");
    }
}

//! A thin QBO REST client over the `quickbooks` connection: query with paging, read, create,
//! sparse update, batch, CDC, send. Every write carries a `requestid`, so a retried call is
//! answered from QBO's replay cache instead of being done twice.

use super::error::{is_throttle, retry_at, ApiError};
use super::transport::{Started, Transport};
use crate::platform::{Http, HttpResponse, Method};
use chrono::{Duration, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Most operations QBO takes in one `/batch`.
pub const BATCH_MAX: usize = 30;
/// Page size for queries.
const PAGE: usize = 1000;
/// Ids per `Id in (...)` query of [`Quickbooks::read_many`] (keeps the URL short).
const READ_MANY: usize = 100;
/// The minor version every request asks for.
const MINOR_VERSION: &str = "75";

/// One batch operation.
#[derive(Clone, Debug)]
pub enum BatchOp {
    /// A query.
    Query(String),
    /// A create of `entity`.
    Create(&'static str, Value),
    /// A sparse or full update of `entity`.
    Update(&'static str, Value),
}

/// A [`Quickbooks::start_batch`] sent and not yet answered.
#[must_use = "the results are read with Quickbooks::finish_batch"]
pub struct StartedBatch {
    call: Started,
    /// The entity each operation answers with (`None`: a query's rows).
    answers: Vec<Option<&'static str>>,
    /// The entity of a lone write sent as a plain request.
    lone: Option<&'static str>,
}

/// The client for one realm.
pub struct Quickbooks<'a> {
    transport: Transport<'a>,
    realm: String,
}

impl<'a> Quickbooks<'a> {
    /// A client for `realm`.
    pub fn new(http: &'a dyn Http, realm: impl Into<String>) -> Self {
        Self {
            transport: Transport::new(http),
            realm: realm.into(),
        }
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!(
            "http://quickbooks/v3/company/{}/{path}?minorversion={MINOR_VERSION}",
            self.realm
        );
        for (k, v) in query {
            url.push('&');
            url.push_str(k);
            url.push('=');
            url.push_str(&encode(v));
        }
        url
    }

    fn call(&self, method: Method, url: String, body: Option<&Value>) -> Result<Value, ApiError> {
        self.transport.call(method, url, body, decode)
    }

    /// Runs a query, following pages; returns the rows of the queried entity.
    pub fn query(&self, sql: &str) -> Result<Vec<Value>, ApiError> {
        let mut rows = Vec::new();
        let mut start = 1;
        loop {
            let page = self.query_page(sql, start, PAGE)?;
            let n = page.len();
            rows.extend(page);
            if n < PAGE {
                return Ok(rows);
            }
            start += PAGE;
        }
    }

    /// Runs a query for its first `max` rows only (one request).
    pub fn query_first(&self, sql: &str, max: usize) -> Result<Vec<Value>, ApiError> {
        self.query_page(sql, 1, max)
    }

    /// One page of a query: `max` rows from position `start` (1-based).
    fn query_page(&self, sql: &str, start: usize, max: usize) -> Result<Vec<Value>, ApiError> {
        let paged = format!("{sql} STARTPOSITION {start} MAXRESULTS {max}");
        let answer = self.call(Method::Get, self.url("query", &[("query", &paged)]), None)?;
        Ok(query_rows(&answer))
    }

    /// Reads one entity; `None` when it does not exist.
    pub fn read(&self, entity: &str, id: &str) -> Result<Option<Value>, ApiError> {
        let path = format!("{}/{}", entity.to_ascii_lowercase(), encode(id));
        match self.call(Method::Get, self.url(&path, &[]), None) {
            Ok(answer) => Ok(answer.get(entity).cloned()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads many entities of one kind by Id: one query per [`READ_MANY`] ids instead of a read
    /// each. The map holds those that exist, by Id.
    pub fn read_many(
        &self,
        entity: &str,
        ids: &[String],
    ) -> Result<BTreeMap<String, Value>, ApiError> {
        let mut found = BTreeMap::new();
        for chunk in ids.chunks(READ_MANY) {
            let list = literal_list(chunk);
            for row in self.query(&format!("select * from {entity} where Id in ({list})"))? {
                if let Some(id) = row.get("Id").and_then(Value::as_str) {
                    found.insert(id.to_string(), row.clone());
                }
            }
        }
        Ok(found)
    }

    /// Creates an entity.
    pub fn create(&self, entity: &str, body: &Value, request_id: &str) -> Result<Value, ApiError> {
        let started = self.start_create(entity, body, request_id);
        created(entity, self.transport.finish(started))
    }

    /// Sends a create (or update) of `entity` without waiting for the answer.
    fn start_create(&self, entity: &str, body: &Value, request_id: &str) -> Started {
        let url = self.url(&entity.to_ascii_lowercase(), &[("requestid", request_id)]);
        self.transport.start(Method::Post, url, Some(body), decode)
    }

    /// Updates an entity (the body carries `Id`, `SyncToken` and `sparse` when sparse).
    pub fn update(&self, entity: &str, body: &Value, request_id: &str) -> Result<Value, ApiError> {
        self.create(entity, body, request_id)
    }

    /// QBO's rate for `currency` on `as_of`: home-currency units per unit (`/exchangerate`).
    pub fn exchange_rate(
        &self,
        currency: &str,
        as_of: chrono::NaiveDate,
    ) -> Result<Option<rust_decimal::Decimal>, ApiError> {
        let date = as_of.to_string();
        let url = self.url(
            "exchangerate",
            &[("sourcecurrencycode", currency), ("asofdate", &date)],
        );
        let answer = self.call(Method::Get, url, None)?;
        Ok(answer
            .get("ExchangeRate")
            .and_then(|r| r.get("Rate"))
            .and_then(super::json::decimal))
    }

    /// Emails an invoice to its BillEmail.
    pub fn send_invoice(&self, id: &str, request_id: &str) -> Result<Value, ApiError> {
        let url = self.url(
            &format!("invoice/{}/send", encode(id)),
            &[("requestid", request_id)],
        );
        let answer = self.call(Method::Post, url, None)?;
        Ok(answer.get("Invoice").cloned().unwrap_or(answer))
    }

    /// Runs up to [`BATCH_MAX`] operations in one request; one result per operation, in order.
    /// A lone create or update goes as a plain request (same `requestid`): a `/batch` of one
    /// would spend the realm's 40-a-minute batch budget on what the 500-a-minute one covers,
    /// which is what a webhook or a change event usually brings.
    pub fn batch(
        &self,
        ops: &[BatchOp],
        request_id: Option<&str>,
    ) -> Result<Vec<Result<Value, ApiError>>, ApiError> {
        self.finish_batch(self.start_batch(ops, request_id))
    }

    /// [`Quickbooks::batch`] without waiting for the answer: the host paces and sends it while
    /// the run does other work; [`Quickbooks::finish_batch`] reads the results.
    pub fn start_batch(&self, ops: &[BatchOp], request_id: Option<&str>) -> StartedBatch {
        let answers: Vec<Option<&'static str>> = ops
            .iter()
            .map(|op| match op {
                BatchOp::Query(_) => None,
                BatchOp::Create(entity, _) | BatchOp::Update(entity, _) => Some(*entity),
            })
            .collect();
        if let ([BatchOp::Create(entity, body) | BatchOp::Update(entity, body)], Some(id)) =
            (ops, request_id)
        {
            return StartedBatch {
                call: self.start_create(entity, body, id),
                answers,
                lone: Some(*entity),
            };
        }
        let items: Vec<Value> = ops
            .iter()
            .enumerate()
            .map(|(i, op)| match op {
                BatchOp::Query(q) => json!({"bId": format!("b{i}"), "Query": q}),
                BatchOp::Create(entity, body) => {
                    json!({"bId": format!("b{i}"), "operation": "create", *entity: body})
                }
                BatchOp::Update(entity, body) => {
                    json!({"bId": format!("b{i}"), "operation": "update", *entity: body})
                }
            })
            .collect();
        let query: Vec<(&str, &str)> = request_id.map(|r| ("requestid", r)).into_iter().collect();
        StartedBatch {
            call: self.transport.start(
                Method::Post,
                self.url("batch", &query),
                Some(&json!({"BatchItemRequest": items})),
                decode,
            ),
            answers,
            lone: None,
        }
    }

    /// The results of a [`Quickbooks::start_batch`]: one per operation, in order.
    pub fn finish_batch(
        &self,
        started: StartedBatch,
    ) -> Result<Vec<Result<Value, ApiError>>, ApiError> {
        let answer = self.transport.finish(started.call);
        if let Some(entity) = started.lone {
            return match created(entity, answer) {
                Ok(v) => Ok(vec![Ok(v)]),
                // A refusal of the one record is its own result, as in a batch; anything
                // else (a transport error, a throttle, a 5xx) fails the call.
                Err(e @ ApiError::Api { status: 400, .. }) => Ok(vec![Err(e)]),
                Err(e) => Err(e),
            };
        }
        let answer = answer?;
        let responses = answer
            .get("BatchItemResponse")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(started
            .answers
            .iter()
            .enumerate()
            .map(|(i, entity)| {
                let bid = format!("b{i}");
                let Some(item) = responses
                    .iter()
                    .find(|r| r.get("bId").and_then(Value::as_str) == Some(bid.as_str()))
                else {
                    return Err(ApiError::Decode(format!("batch item {bid} missing")));
                };
                if let Some(fault) = item.get("Fault") {
                    return Err(fault_error(400, fault));
                }
                match entity {
                    None => Ok(Value::Array(query_rows(item))),
                    Some(entity) => item
                        .get(*entity)
                        .cloned()
                        .ok_or_else(|| ApiError::Decode(format!("batch item {bid}: no {entity}"))),
                }
            })
            .collect())
    }

    /// Changes since `since` (RFC 3339) for `entities`: `(entity, object)` pairs; deleted
    /// objects carry `"status": "Deleted"`.
    pub fn cdc(&self, entities: &[&str], since: &str) -> Result<Vec<(String, Value)>, ApiError> {
        let answer = self.call(
            Method::Get,
            self.url(
                "cdc",
                &[("entities", &entities.join(",")), ("changedSince", since)],
            ),
            None,
        )?;
        let mut out = Vec::new();
        for block in answer
            .get("CDCResponse")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for qr in block
                .get("QueryResponse")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(obj) = qr.as_object() {
                    for (entity, rows) in obj {
                        if let Some(rows) = rows.as_array() {
                            out.extend(rows.iter().map(|r| (entity.clone(), r.clone())));
                        }
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The rows of a `QueryResponse` (the one array it holds).
fn query_rows(answer: &Value) -> Vec<Value> {
    answer
        .get("QueryResponse")
        .and_then(Value::as_object)
        .and_then(|qr| qr.values().find_map(Value::as_array).cloned())
        .unwrap_or_default()
}

/// A QBO answer: the JSON body, or the error it carries.
fn decode(response: HttpResponse) -> Result<Value, ApiError> {
    let status = response.status;
    if is_throttle(status) {
        return Err(ApiError::Throttled {
            retry_at: retry_at(&response, Utc::now(), Duration::seconds(60)),
        });
    }
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();
    if (200..300).contains(&status) {
        return body.ok_or_else(|| ApiError::Decode("the body is not JSON".into()));
    }
    let fault = body
        .as_ref()
        .and_then(|b| b.get("Fault").or_else(|| b.get("fault")));
    match fault {
        Some(fault) => Err(fault_error(status, fault)),
        None => Err(ApiError::Api {
            status,
            code: String::new(),
            message: String::from_utf8_lossy(&response.body)
                .chars()
                .take(300)
                .collect(),
        }),
    }
}

/// The entity a create or update answers with.
fn created(entity: &str, answer: Result<Value, ApiError>) -> Result<Value, ApiError> {
    answer?
        .get(entity)
        .cloned()
        .ok_or_else(|| ApiError::Decode(format!("no {entity} in the answer")))
}

/// The first error of a `Fault` (either casing).
fn fault_error(status: u16, fault: &Value) -> ApiError {
    let first = fault
        .get("Error")
        .or_else(|| fault.get("error"))
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .cloned()
        .unwrap_or(Value::Null);
    let field = |k: &str, alt: &str| {
        first
            .get(k)
            .or_else(|| first.get(alt))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (message, detail) = (field("Message", "message"), field("Detail", "detail"));
    ApiError::Api {
        status,
        code: field("code", "Code"),
        message: if detail.is_empty() {
            message
        } else {
            format!("{message}: {detail}")
        },
    }
}

/// Percent-encodes a query value or path segment.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// A QBO query string literal: single quotes escaped.
pub fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// Values for a QBO query's `in (...)` list.
pub fn literal_list<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> String {
    values
        .into_iter()
        .map(|v| literal(v.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_in_either_casing_give_their_code() {
        let upper = json!({"Error": [{"Message": "Duplicate Name Exists Error", "Detail": "The name supplied already exists.", "code": "6240"}], "type": "ValidationFault"});
        let e = fault_error(400, &upper);
        assert_eq!(e.code(), "6240");
        assert!(e.to_string().contains("Duplicate Name"));
        let lower = json!({"error": [{"message": "message=AuthenticationFailed", "detail": "Token expired", "code": "3200"}], "type": "AUTHENTICATION"});
        assert_eq!(fault_error(401, &lower).code(), "3200");
    }

    #[test]
    fn query_values_are_encoded_and_literals_escaped() {
        assert_eq!(encode("a b'c"), "a%20b%27c");
        assert_eq!(literal("O'Brien"), "'O\\'Brien'");
    }
}

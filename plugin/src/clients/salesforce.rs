//! A thin Salesforce REST client over the `salesforce` connection: SOQL with paging, PATCH by
//! id, upsert by external id, and sObject Collections for up to 200 records per request.

use super::error::{is_throttle, retry_at, ApiError};
use super::json::text;
use super::quickbooks::encode;
use super::transport::Transport;
use crate::platform::{Http, HttpResponse, Method};
use chrono::{Duration, Utc};
use serde_json::{json, Value};

/// API version.
pub const VERSION: &str = "v61.0";
/// Most records in one sObject Collections request.
pub const COLLECTION_MAX: usize = 200;

/// The result of one record in a collection write.
pub type RecordResult = Result<String, ApiError>;

/// The client.
pub struct Salesforce<'a> {
    transport: Transport<'a>,
}

impl<'a> Salesforce<'a> {
    /// A client over the connection.
    pub fn new(http: &'a dyn Http) -> Self {
        Self {
            transport: Transport::new(http),
        }
    }

    fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        let url = if path.starts_with("/services/") {
            format!("http://salesforce{path}")
        } else {
            format!("http://salesforce/services/data/{VERSION}/{path}")
        };
        self.transport.call(method, url, body, decode)
    }

    /// One sObject Collections write per [`COLLECTION_MAX`] records at `path`, not
    /// all-or-none: one result per record, in order.
    fn collection(&self, path: &str, sobject: &str, records: &[Value]) -> Vec<RecordResult> {
        let mut out = Vec::with_capacity(records.len());
        for chunk in records.chunks(COLLECTION_MAX) {
            let typed: Vec<Value> = chunk
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    if let Some(obj) = r.as_object_mut() {
                        obj.insert("attributes".into(), json!({ "type": sobject }));
                    }
                    r
                })
                .collect();
            let body = json!({"allOrNone": false, "records": typed});
            match self.call(Method::Patch, path, Some(&body)) {
                Ok(Value::Array(results)) => {
                    out.extend(results.iter().map(record_result));
                    for _ in results.len()..chunk.len() {
                        out.push(Err(ApiError::Decode("collection result missing".into())));
                    }
                }
                Ok(_) => out.extend(
                    chunk
                        .iter()
                        .map(|_| Err(ApiError::Decode("collection answer is not a list".into()))),
                ),
                Err(e) => out.extend(chunk.iter().map(|_| Err(e.clone()))),
            }
        }
        out
    }

    /// The first page of a SOQL query and the locator of the next one.
    pub fn query_page(&self, soql: &str) -> Result<Page, ApiError> {
        let answer = self.call(Method::Get, &format!("query?q={}", encode(soql)), None)?;
        Ok(page(answer))
    }

    /// The page at a `nextRecordsUrl`.
    pub fn next_page(&self, next: &str) -> Result<Page, ApiError> {
        Ok(page(self.call(Method::Get, next, None)?))
    }

    /// Runs a SOQL query, following `nextRecordsUrl`.
    pub fn query(&self, soql: &str) -> Result<Vec<Value>, ApiError> {
        let mut answer = self.call(Method::Get, &format!("query?q={}", encode(soql)), None)?;
        let mut rows = Vec::new();
        loop {
            if let Some(records) = answer.get("records").and_then(Value::as_array) {
                rows.extend(records.iter().cloned());
            }
            match answer.get("nextRecordsUrl").and_then(Value::as_str) {
                Some(next) if answer.get("done") != Some(&Value::Bool(true)) => {
                    let next = next.to_string();
                    answer = self.call(Method::Get, &next, None)?;
                }
                _ => return Ok(rows),
            }
        }
    }

    /// The API names of an sObject's fields (`describe`).
    pub fn describe_fields(&self, sobject: &str) -> Result<Vec<String>, ApiError> {
        let answer = self.call(Method::Get, &format!("sobjects/{sobject}/describe"), None)?;
        Ok(answer
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("name").and_then(Value::as_str).map(str::to_string))
            .collect())
    }

    /// Creates a record; returns its id.
    pub fn create(&self, sobject: &str, fields: &Value) -> Result<String, ApiError> {
        let answer = self.call(Method::Post, &format!("sobjects/{sobject}"), Some(fields))?;
        answer
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::Decode("no id in the create answer".into()))
    }

    /// Updates fields of one record.
    pub fn update(&self, sobject: &str, id: &str, fields: &Value) -> Result<(), ApiError> {
        self.call(
            Method::Patch,
            &format!("sobjects/{sobject}/{}", encode(id)),
            Some(fields),
        )
        .map(|_| ())
    }

    /// Upserts one record by external id; returns `(id, created)`.
    pub fn upsert(
        &self,
        sobject: &str,
        field: &str,
        value: &str,
        fields: &Value,
    ) -> Result<(String, bool), ApiError> {
        let answer = self.call(
            Method::Patch,
            &format!("sobjects/{sobject}/{field}/{}", encode(value)),
            Some(fields),
        )?;
        let id = answer
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::Decode("no id in the upsert answer".into()))?;
        let created = answer.get("created").and_then(Value::as_bool) == Some(true);
        Ok((id, created))
    }

    /// Updates many records by id (each `{"Id": ..., field: value}`), [`COLLECTION_MAX`] per
    /// request, not all-or-none: one result per record, in order.
    pub fn update_many(&self, sobject: &str, records: &[Value]) -> Vec<RecordResult> {
        self.collection("composite/sobjects", sobject, records)
    }

    /// Upserts many records on an external id field, [`COLLECTION_MAX`] per request.
    pub fn upsert_many(&self, sobject: &str, field: &str, records: &[Value]) -> Vec<RecordResult> {
        self.collection(
            &format!("composite/sobjects/{sobject}/{field}"),
            sobject,
            records,
        )
    }

    /// Get Updated: ids of `sobject` changed in `[start, end)` and the end the API covered.
    pub fn updated(
        &self,
        sobject: &str,
        start: &str,
        end: &str,
    ) -> Result<(Vec<String>, String), ApiError> {
        self.replication("updated", sobject, start, end)
    }

    /// Get Deleted: ids of `sobject` deleted in `[start, end)` and the end the API covered.
    pub fn deleted(
        &self,
        sobject: &str,
        start: &str,
        end: &str,
    ) -> Result<(Vec<String>, String), ApiError> {
        self.replication("deleted", sobject, start, end)
    }

    fn replication(
        &self,
        kind: &str,
        sobject: &str,
        start: &str,
        end: &str,
    ) -> Result<(Vec<String>, String), ApiError> {
        let answer = self.call(
            Method::Get,
            &format!(
                "sobjects/{sobject}/{kind}/?start={}&end={}",
                encode(start),
                encode(end)
            ),
            None,
        )?;
        // Get Updated lists ids; Get Deleted lists `{id, deletedDate}` records.
        let ids = answer
            .get("ids")
            .or_else(|| answer.get("deletedRecords"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().or_else(|| v.get("id").and_then(Value::as_str)))
            .map(str::to_string)
            .collect();
        Ok((ids, covered(&answer, end)))
    }

    /// The id of the user this connection runs as (OpenID Connect UserInfo): the integration
    /// user, whose own changes change events report as their `commitUser`.
    pub fn user_id(&self) -> Result<String, ApiError> {
        let answer = self.call(Method::Get, "/services/oauth2/userinfo", None)?;
        text(&answer, "user_id").ok_or_else(|| ApiError::Decode("userinfo has no user_id".into()))
    }
}

/// A SOQL string literal: quotes, backslashes and line breaks escaped as SOQL's reserved
/// characters require.
pub fn soql_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Values for a SOQL `IN (...)` list.
pub fn soql_list<S: AsRef<str>>(values: impl IntoIterator<Item = S>) -> String {
    values
        .into_iter()
        .map(|v| soql_literal(v.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn covered(answer: &Value, asked: &str) -> String {
    answer
        .get("latestDateCovered")
        .and_then(Value::as_str)
        .unwrap_or(asked)
        .to_string()
}

/// One page of a SOQL result.
pub struct Page {
    pub rows: Vec<Value>,
    /// The `nextRecordsUrl` while there are more.
    pub next: Option<String>,
    /// `totalSize`: rows in the whole result.
    pub total: usize,
}

fn page(answer: Value) -> Page {
    let rows: Vec<Value> = answer
        .get("records")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let next = match answer.get("done") {
        Some(Value::Bool(true)) => None,
        _ => answer
            .get("nextRecordsUrl")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let total = answer
        .get("totalSize")
        .and_then(Value::as_u64)
        .map_or(rows.len(), |n| n as usize);
    Page { rows, next, total }
}

/// One collection result.
fn record_result(result: &Value) -> RecordResult {
    if result.get("success").and_then(Value::as_bool) == Some(true) {
        return Ok(result
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string());
    }
    let first = result
        .get("errors")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
        .cloned()
        .unwrap_or(Value::Null);
    Err(sf_error(400, &first))
}

fn sf_error(status: u16, error: &Value) -> ApiError {
    let fields = error
        .get("fields")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    ApiError::Api {
        status,
        code: error
            .get("errorCode")
            .or_else(|| error.get("statusCode"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        message: if fields.is_empty() {
            message.to_string()
        } else {
            format!("{message} (fields: {fields})")
        },
    }
}

fn decode(response: HttpResponse) -> Result<Value, ApiError> {
    let status = response.status;
    if is_throttle(status) {
        return Err(ApiError::Throttled {
            retry_at: retry_at(&response, Utc::now(), Duration::seconds(30)),
        });
    }
    if status == 204 {
        return Ok(Value::Null);
    }
    let body: Option<Value> = serde_json::from_slice(&response.body).ok();
    if (200..300).contains(&status) {
        return body.ok_or_else(|| ApiError::Decode("the body is not JSON".into()));
    }
    let first = body
        .as_ref()
        .and_then(|b| b.as_array().and_then(|a| a.first()).cloned())
        .unwrap_or(Value::Null);
    Err(sf_error(status, &first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soql_literals_escape_what_soql_reserves() {
        assert_eq!(soql_literal("006A"), "'006A'");
        assert_eq!(soql_literal(r"O'Brien \ Co"), r"'O\'Brien \\ Co'");
        assert_eq!(soql_literal("a\nb"), r"'a\nb'");
        assert_eq!(soql_list(["a", "b"]), "'a', 'b'");
    }

    #[test]
    fn errors_name_the_code_and_fields() {
        let e = sf_error(
            400,
            &json!({"message": "bad value", "errorCode": "INVALID_FIELD", "fields": ["Amount__c"]}),
        );
        assert_eq!(e.code(), "INVALID_FIELD");
        assert!(e.to_string().contains("Amount__c"));
        assert!(record_result(&json!({"id": "001", "success": true, "errors": []})).is_ok());
    }
}

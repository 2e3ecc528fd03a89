//! What the flows' tests share: the QBO and Salesforce answers in the shapes the APIs give and
//! the clients parse, and reading back what a run did. The routes themselves stay in each test,
//! so that a test shows every call its flow makes.

use super::{Kind, Report};
use crate::clients::salesforce_fields::{EMAIL, PAYMENT_TERMS, QBO_CUSTOMER_ID, TAX_EXEMPT};
use crate::platform::memory::json;
use crate::platform::{HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// The QBO company of every test tenant.
pub const REALM: &str = "9130355377151526";

/// When QBO says it answered.
const TIME: &str = "2026-03-02T09:00:00.000-08:00";

/// A SOQL answer with every row on one page.
pub fn soql(records: Value) -> HttpResponse {
    let n = records.as_array().map_or(0, Vec::len);
    json(
        200,
        json!({"totalSize": n, "done": true, "records": records}),
    )
}

/// A QBO query answer; as QBO does, an empty one names no entity.
pub fn qbo_query(entity: &str, rows: Value) -> HttpResponse {
    let n = rows.as_array().map_or(0, Vec::len);
    let response = if n == 0 {
        json!({})
    } else {
        json!({entity: rows, "startPosition": 1, "maxResults": n})
    };
    json(200, json!({"QueryResponse": response, "time": TIME}))
}

/// QBO's answer to a read or a create of one `entity`.
pub fn qbo_entity(entity: &str, value: Value) -> HttpResponse {
    json(200, json!({entity: value, "time": TIME}))
}

/// A request's JSON body (`Null` when it has none).
pub fn body(request: &HttpRequest) -> Value {
    request
        .body
        .as_deref()
        .and_then(|b| serde_json::from_slice(b).ok())
        .unwrap_or_default()
}

/// QBO's answer to a `/batch` of creates: each `entity` as sent, with Ids from `first_id` on,
/// answered in reverse order (only the `bId` pairs an answer with its operation).
pub fn qbo_batch_created(request: &HttpRequest, entity: &str, first_id: u32) -> HttpResponse {
    let items = body(request)["BatchItemRequest"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut answers: Vec<Value> = items
        .iter()
        .zip(first_id..)
        .map(|(item, id)| {
            let mut created = item[entity].clone();
            created["Id"] = json!(id.to_string());
            created["SyncToken"] = json!("0");
            json!({"bId": item["bId"], entity: created})
        })
        .collect();
    answers.reverse();
    json(200, json!({"BatchItemResponse": answers, "time": TIME}))
}

/// Salesforce's answer to an sObject Collections write: every record saved, in order.
pub fn sf_saved(request: &HttpRequest) -> HttpResponse {
    let results: Vec<Value> = body(request)["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| json!({"id": r["Id"], "success": true, "errors": []}))
        .collect();
    json(200, Value::Array(results))
}

/// Each outcome as (entity, record, kind, target), for one assertion over a run.
/// Asserts a run's outcomes (entity, record, kind, target) and that it made no request the
/// test did not script; a failure prints the records and every request made.
#[track_caller]
pub fn assert_run(
    report: &Report,
    platform: &crate::platform::memory::MemoryPlatform,
    expected: Vec<(&str, &str, Kind, Option<&str>)>,
) {
    assert_eq!(
        outcomes(report),
        expected,
        "{:#?}\n{:#?}",
        report.records,
        platform.http.requests()
    );
    assert_eq!(platform.http.unscripted(), Vec::<String>::new());
}

/// Each record's (entity, record id, kind, target id).
pub fn outcomes(report: &Report) -> Vec<(&str, &str, Kind, Option<&str>)> {
    report
        .records
        .iter()
        .map(|r| {
            (
                r.entity.as_str(),
                r.record_id.as_str(),
                r.kind,
                r.target_id.as_deref(),
            )
        })
        .collect()
}

/// An Account as a SOQL row carries it (billing address, phone and custom fields).
pub fn sf_account(id: &str, name: &str, email: Option<&str>, customer: Option<&str>) -> Value {
    json!({"attributes": {"type": "Account", "url": format!("/services/data/v61.0/sobjects/Account/{id}")},
        "Id": id, "Name": name, "BillingStreet": "1 Market St", "BillingCity": "San Francisco",
        "BillingState": "CA", "BillingPostalCode": "94105", "BillingCountry": "USA",
        "Phone": null, EMAIL: email, QBO_CUSTOMER_ID: customer,
        PAYMENT_TERMS: null, TAX_EXEMPT: false,
        "SystemModstamp": "2026-03-01T10:00:00.000+0000"})
}

/// A QBO Customer as a query or a read returns it.
pub fn qbo_customer(id: &str, name: &str, email: Option<&str>) -> Value {
    let mut c = json!({"Id": id, "SyncToken": "0", "DisplayName": name, "Active": true,
        "BillAddr": {"Line1": "9 Elm St", "City": "Oakland", "CountrySubDivisionCode": "CA",
            "PostalCode": "94607", "Country": "USA"}});
    if let Some(email) = email {
        c["PrimaryEmailAddr"] = json!({"Address": email});
    }
    c
}

/// QBO's answer to a read of an entity it does not have.
pub fn qbo_not_found() -> HttpResponse {
    json(
        400,
        json!({"Fault": {"Error": [{"Message": "Object Not Found",
            "Detail": "Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees.",
            "code": "610"}], "type": "ValidationFault"}, "time": TIME}),
    )
}

/// The code of each outcome with its entity, record and kind, for one assertion over findings.
pub fn codes(report: &Report) -> Vec<(&str, &str, &str, Kind)> {
    report
        .records
        .iter()
        .map(|r| {
            (
                r.code.as_deref().unwrap_or("-"),
                r.entity.as_str(),
                r.record_id.as_str(),
                r.kind,
            )
        })
        .collect()
}

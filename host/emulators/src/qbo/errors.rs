//! Error envelopes, exactly as QBO writes them (api-facts A9):
//!
//! | kind | HTTP | body |
//! |---|---|---|
//! | API fault | 400 (500/503 for `SystemFault`) | `{"Fault":{"Error":[{"Message","Detail","code","element"}],"type":"ValidationFault"},"time":...}` |
//! | gateway 401 / 403 | 401 / 403 | lowercase `{"fault":{"error":[...],"type":"AUTHENTICATION"},...}` |
//! | throttle | 429 | the XML `IntuitResponse` of `fixtures/qbo/throttle_error_429.xml`, even for JSON clients |

use axum::http::StatusCode;
use serde_json::{json, Value};

/// One `Fault.Error[]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorEntry {
    /// Short message, e.g. "Stale Object Error".
    pub message: String,
    /// Longer detail.
    pub detail: String,
    /// Numeric code as a string, e.g. "5010".
    pub code: String,
    /// The element at fault (`""` when none; absent for query errors).
    pub element: Option<String>,
}

/// A QBO `Fault` with its HTTP status.
#[derive(Clone, Debug, PartialEq)]
pub struct QboError {
    /// HTTP status of a single-request answer (inside a batch the item carries only the Fault).
    pub status: StatusCode,
    /// `ValidationFault`, `SystemFault`, ...
    pub fault_type: &'static str,
    /// The errors, usually one.
    pub errors: Vec<ErrorEntry>,
}

impl QboError {
    fn one(
        status: StatusCode,
        fault_type: &'static str,
        code: &str,
        message: &str,
        detail: String,
    ) -> Self {
        Self {
            status,
            fault_type,
            errors: vec![ErrorEntry {
                message: message.into(),
                detail,
                code: code.into(),
                element: Some(String::new()),
            }],
        }
    }

    /// A 400 `ValidationFault`.
    pub fn validation(code: &str, message: &str, detail: impl Into<String>) -> Self {
        Self::one(
            StatusCode::BAD_REQUEST,
            "ValidationFault",
            code,
            message,
            detail.into(),
        )
    }

    /// Sets the `element` of the first error.
    pub fn element(mut self, element: &str) -> Self {
        if let Some(e) = self.errors.first_mut() {
            e.element = Some(element.into());
        }
        self
    }

    /// 5010: the SyncToken sent is not the current one.
    pub fn stale_object() -> Self {
        Self::validation(
            "5010",
            "Stale Object Error",
            "Stale Object Error : You and API API were working on this at the same time. API API finished before you did, so your work was not saved.",
        )
    }

    /// 6240: a DisplayName (or Name) is already used; `what` is "customer", "vendor", "employee",
    /// "product or service", "account", ...
    pub fn duplicate_name(what: &str) -> Self {
        Self::validation(
            "6240",
            "Duplicate Name Exists Error",
            format!("The name supplied already exists. : Another {what} is already using this name. Please use a different name."),
        )
    }

    /// 6140: DocNumber already used by another transaction of the same type.
    pub fn duplicate_doc_number(doc_number: &str, txn_type: &str, txn_id: &str) -> Self {
        Self::validation(
            "6140",
            "Duplicate Document Number Error",
            format!(
                "Duplicate Document Number Error : You must specify a different number. This number has already been used. DocNumber={doc_number} is assigned to TxnType={txn_type} with TxnId={txn_id}"
            ),
        )
    }

    /// 2500: a reference names an object that does not exist or is inactive.
    pub fn invalid_reference(detail: impl Into<String>) -> Self {
        Self::validation(
            "2500",
            "Invalid Reference Id",
            format!("Invalid Reference Id : {}", detail.into()),
        )
    }

    /// 610: the object asked for does not exist (or was deleted).
    pub fn object_not_found(entity: &str, id: &str) -> Self {
        Self::validation(
            "610",
            "Object Not Found",
            format!("Object Not Found : Something you're trying to use has been made inactive. Check the fields with accounts, customers, items, vendors or employees. ({entity} Id={id})"),
        )
    }

    /// 2020: a required field is missing.
    pub fn required(field: &str) -> Self {
        Self::validation(
            "2020",
            "Required param missing, need to supply the required value for the API",
            format!("Required parameter {field} is missing in the request"),
        )
        .element(field)
    }

    /// 2010: the body is not valid JSON, or a property is of the wrong kind.
    pub fn invalid_property(detail: impl Into<String>) -> Self {
        Self::validation(
            "2010",
            "Request has invalid or unsupported property",
            format!(
                "Property Name:{} specified is unsupported or invalid",
                detail.into()
            ),
        )
    }

    /// 2080: a number field holds something that is not a number.
    pub fn illegal_number(field: &str, value: &str) -> Self {
        Self::validation(
            "2080",
            "Illegal number format",
            format!("Illegal number {value} for {field}"),
        )
        .element(field)
    }

    /// 2170: an enumeration field has a value outside the enumeration.
    pub fn invalid_enum(field: &str, value: &str) -> Self {
        Self::validation(
            "2170",
            "Invalid Enumeration",
            format!("Invalid Enumeration : {value}"),
        )
        .element(field)
    }

    /// 2050: a string is longer than allowed.
    pub fn too_long(field: &str, max: usize) -> Self {
        Self::validation(
            "2050",
            "Length exceeds limit",
            format!("Length of the field exceeds the maximum of {max} characters: {field}"),
        )
        .element(field)
    }

    /// 6000: a business rule was broken.
    pub fn business(detail: impl Into<String>) -> Self {
        Self::validation(
            "6000",
            "A business validation error has occurred while processing your request",
            format!("Business Validation Error: {}", detail.into()),
        )
    }

    /// 4000: the query does not parse.
    pub fn query_parse(detail: impl Into<String>) -> Self {
        let mut e = Self::validation(
            "4000",
            "Error parsing query",
            format!("QueryParserError: {}", detail.into()),
        );
        e.errors[0].element = None;
        e
    }

    /// 4001: the query parses but is not allowed (the fixture's shape: no `element`).
    pub fn invalid_query(detail: impl Into<String>) -> Self {
        let mut e = Self::validation(
            "4001",
            "Invalid query",
            format!("QueryValidationError: {}", detail.into()),
        );
        e.errors[0].element = None;
        e
    }

    /// 500: the path or operation is not supported.
    pub fn unsupported(detail: impl Into<String>) -> Self {
        Self::validation("500", "Unsupported Operation", detail)
    }

    /// 10000: a server-side failure (fixture `system_fault_10000.json`).
    pub fn system_fault(status: StatusCode) -> Self {
        let mut e = Self::one(
            status,
            "SystemFault",
            "10000",
            "An application error has occurred while processing your request",
            "System Failure Error: Could not find resource for relative : service unavailable"
                .into(),
        );
        e.errors[0].element = None;
        e
    }

    /// The `Fault` object (without the envelope), as it appears in a batch item.
    pub fn fault_json(&self) -> Value {
        let errors: Vec<Value> = self
            .errors
            .iter()
            .map(|e| {
                let mut v = json!({"Message": e.message, "Detail": e.detail, "code": e.code});
                if let Some(el) = &e.element {
                    v["element"] = json!(el);
                }
                v
            })
            .collect();
        json!({"Error": errors, "type": self.fault_type})
    }

    /// The whole response body: `{"Fault": ..., "time": ...}`.
    pub fn body(&self, time: &str) -> Value {
        json!({"Fault": self.fault_json(), "time": time})
    }
}

/// The gateway's lowercase envelope for 401 (code 3200) and 403 (code 3100).
pub fn gateway_fault(status: StatusCode, detail: &str, epoch_ms: i64) -> Value {
    let (message, code, kind) = if status == StatusCode::FORBIDDEN {
        (
            "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
            "3100",
            "SERVICE",
        )
    } else {
        (
            "message=AuthenticationFailed; errorCode=003200; statusCode=401",
            "3200",
            "AUTHENTICATION",
        )
    };
    json!({
        "warnings": null,
        "intuitObject": null,
        "fault": {"error": [{"message": message, "detail": detail, "code": code, "element": null}], "type": kind},
        "report": null,
        "queryResponse": null,
        "batchItemResponse": [],
        "attachableResponse": [],
        "syncErrorResponse": null,
        "requestId": null,
        "time": epoch_ms,
        "status": null,
        "cdcresponse": []
    })
}

/// The throttle body (HTTP 429), XML whatever the client asked for.
pub fn throttle_xml(time: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<IntuitResponse time=\"{time}\" xmlns=\"http://schema.intuit.com/finance/v3\">\n  <Fault type=\"SERVICE\">\n    <Error code=\"3001\">\n      <Message>message=ThrottleExceeded; errorCode=003001; statusCode=429</Message>\n      <Detail>The request limit was reached.  Try again later</Detail>\n    </Error>\n  </Fault>\n</IntuitResponse>\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_envelope_has_the_documented_keys() {
        let body = QboError::stale_object().body("t");
        assert_eq!(body["Fault"]["type"], "ValidationFault");
        assert_eq!(body["Fault"]["Error"][0]["code"], "5010");
        assert_eq!(body["Fault"]["Error"][0]["element"], "");
        assert_eq!(body["time"], "t");
    }

    #[test]
    fn query_faults_have_no_element_like_the_fixture() {
        let body =
            QboError::invalid_query("value 0 is too small. Min allowed value is 1").body("t");
        assert!(body["Fault"]["Error"][0].get("element").is_none());
        assert_eq!(
            body["Fault"]["Error"][0]["Detail"],
            "QueryValidationError: value 0 is too small. Min allowed value is 1"
        );
    }
}

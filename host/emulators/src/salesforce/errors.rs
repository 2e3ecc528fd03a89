//! Salesforce error bodies: always a JSON array of `{"message","errorCode","fields"}` (api-facts B8).
//! Inside sObject Collections the same error uses `statusCode` instead of `errorCode` (B5).

use serde_json::{json, Value};

/// One API error, with the HTTP status it is answered with.
#[derive(Clone, Debug, PartialEq)]
pub struct SfError {
    /// HTTP status.
    pub status: u16,
    /// Salesforce error code, e.g. `REQUIRED_FIELD_MISSING`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Fields the error is about; the key is left out when empty, as in the fixtures.
    pub fields: Vec<String>,
}

impl SfError {
    /// An error with no fields.
    pub fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// The same error about these fields.
    pub fn with_fields(mut self, fields: Vec<String>) -> Self {
        self.fields = fields;
        self
    }

    /// `{"message","errorCode"[,"fields"]}` as in a REST error array.
    pub fn to_json(&self) -> Value {
        let mut v = json!({"message": self.message, "errorCode": self.code});
        if !self.fields.is_empty() {
            v["fields"] = json!(self.fields);
        }
        v
    }

    /// `{"statusCode","message","fields"}` as inside sObject Collections results.
    pub fn to_collection_json(&self) -> Value {
        json!({"statusCode": self.code, "message": self.message, "fields": self.fields})
    }

    /// The REST body: a one-element array.
    pub fn body(&self) -> Value {
        json!([self.to_json()])
    }

    /// 401 INVALID_SESSION_ID.
    pub fn invalid_session() -> Self {
        Self::new(401, "INVALID_SESSION_ID", "Session expired or invalid")
    }

    /// 404 NOT_FOUND for an unknown resource or record.
    pub fn not_found() -> Self {
        Self::new(404, "NOT_FOUND", "The requested resource does not exist")
    }

    /// 400 JSON_PARSER_ERROR.
    pub fn json_parser(message: impl Into<String>) -> Self {
        Self::new(400, "JSON_PARSER_ERROR", message)
    }

    /// 400 MALFORMED_QUERY.
    pub fn malformed_query(message: impl Into<String>) -> Self {
        Self::new(400, "MALFORMED_QUERY", message)
    }

    /// 400 INVALID_FIELD.
    pub fn invalid_field(message: impl Into<String>) -> Self {
        Self::new(400, "INVALID_FIELD", message)
    }

    /// 400 REQUIRED_FIELD_MISSING naming the fields.
    pub fn required_missing(fields: Vec<String>) -> Self {
        Self::new(
            400,
            "REQUIRED_FIELD_MISSING",
            format!("Required fields are missing: [{}]", fields.join(", ")),
        )
        .with_fields(fields)
    }

    /// 400 FIELD_INTEGRITY_EXCEPTION.
    pub fn integrity(message: impl Into<String>, fields: Vec<String>) -> Self {
        Self::new(400, "FIELD_INTEGRITY_EXCEPTION", message).with_fields(fields)
    }

    /// 405 METHOD_NOT_ALLOWED.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!("HTTP Method '{method}' not allowed. Allowed are GET,HEAD,PATCH,POST,DELETE"),
        )
    }
}

impl std::fmt::Display for SfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for SfError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fieldless_errors_have_the_fixture_key_set() {
        let v = SfError::invalid_session().body();
        assert_eq!(
            v,
            json!([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])
        );
    }

    #[test]
    fn collection_errors_use_status_code() {
        let v = SfError::required_missing(vec!["Name".into()]).to_collection_json();
        assert_eq!(v["statusCode"], "REQUIRED_FIELD_MISSING");
        assert_eq!(v["fields"], json!(["Name"]));
    }
}

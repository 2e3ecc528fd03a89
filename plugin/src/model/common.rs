use serde::{Deserialize, Serialize};

/// What kind of refusal a mapping made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// A field is missing, malformed or out of range.
    InvalidInput,
    /// A reference the mapping needs was not supplied.
    UnresolvedReference,
    /// The input is well formed but an accounting rule refuses it.
    RuleViolation,
    /// Not offered by this build.
    NotAvailable,
}

/// One reason, tied to a record and a field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct FieldError {
    /// e.g. "Opportunity 0065e00000AbCdEAAV".
    pub record_id: String,
    /// e.g. "line-items[3].quantity".
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl FieldError {
    /// Builds one reason.
    pub fn new(
        record_id: impl Into<String>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            record_id: record_id.into(),
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Every problem found in one input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "kebab-case")]
#[error("{kind:?}: {}", errors.iter().map(|e| format!("{} {}: {}", e.record_id, e.field, e.reason)).collect::<Vec<_>>().join("; "))]
pub struct MappingError {
    /// The kind of refusal.
    pub kind: ErrorKind,
    /// Each problem.
    pub errors: Vec<FieldError>,
}

impl MappingError {
    /// A refusal of one kind with these reasons.
    pub fn new(kind: ErrorKind, errors: Vec<FieldError>) -> Self {
        Self { kind, errors }
    }

    /// A refusal with one reason.
    pub fn one(
        kind: ErrorKind,
        record_id: impl Into<String>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::new(kind, vec![FieldError::new(record_id, field, reason)])
    }

    /// An invalid-input refusal with one reason.
    pub fn invalid(
        record_id: impl Into<String>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::one(ErrorKind::InvalidInput, record_id, field, reason)
    }
}

/// A postal address both systems can hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct PostalAddress {
    /// Street lines (Salesforce joins them with newlines; QBO has Line1..Line5).
    pub lines: Vec<String>,
    /// City.
    pub city: Option<String>,
    /// State or province.
    pub region: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
}

/// A QBO reference.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Reference {
    /// The id.
    pub value: String,
    /// The display name.
    pub name: Option<String>,
}

impl Reference {
    /// A reference by id only.
    pub fn id(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            name: None,
        }
    }

    /// A reference by id and name.
    pub fn named(value: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            name: Some(name.into()),
        }
    }
}

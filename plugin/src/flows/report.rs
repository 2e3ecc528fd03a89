//! A run's report: one outcome per record, with the reason of every skip and failure.

use crate::clients::ApiError;
use crate::model::MappingError;

/// What happened to a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Kind {
    Created,
    Updated,
    Skipped,
    Failed,
}

/// One record's outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Outcome {
    pub entity: String,
    pub record_id: String,
    pub kind: Kind,
    pub target_id: Option<String>,
    pub detail: String,
    pub code: Option<String>,
    pub retryable: bool,
}

/// The outcomes of a run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// In the order they happened.
    pub records: Vec<Outcome>,
    /// Set when a call was throttled: the earliest time to retry the rest.
    pub throttled_until: Option<String>,
}

impl Report {
    fn push(&mut self, entity: &str, id: &str, kind: Kind, target: Option<&str>, detail: String) {
        self.records.push(Outcome {
            entity: entity.into(),
            record_id: id.into(),
            kind,
            target_id: target.map(str::to_string),
            detail,
            code: None,
            retryable: false,
        });
    }

    /// A record was created on the other side.
    pub fn created(&mut self, entity: &str, id: &str, target: &str, detail: impl Into<String>) {
        self.push(entity, id, Kind::Created, Some(target), detail.into());
    }

    /// A record was updated on the other side.
    pub fn updated(&mut self, entity: &str, id: &str, target: &str, detail: impl Into<String>) {
        self.push(entity, id, Kind::Updated, Some(target), detail.into());
    }

    /// Nothing to do, and why.
    pub fn skipped(
        &mut self,
        entity: &str,
        id: &str,
        target: Option<&str>,
        detail: impl Into<String>,
    ) {
        self.push(entity, id, Kind::Skipped, target, detail.into());
    }

    /// An outcome with a code of its own (not retryable): an audit finding, a record waiting
    /// for a review decision.
    pub fn coded(
        &mut self,
        kind: Kind,
        entity: &str,
        id: &str,
        target: Option<&str>,
        code: &str,
        detail: impl Into<String>,
    ) {
        self.push(entity, id, kind, target, detail.into());
        if let Some(last) = self.records.last_mut() {
            last.code = Some(code.to_string());
        }
    }

    /// A failure with its code and retryability.
    pub fn failed(&mut self, entity: &str, id: &str, failure: Failure) {
        if let Failure::Api(ApiError::Throttled { retry_at })
        | Failure::Related(_, ApiError::Throttled { retry_at }) = &failure
        {
            if self
                .throttled_until
                .as_deref()
                .is_none_or(|t| t > retry_at.as_str())
            {
                self.throttled_until = Some(retry_at.clone());
            }
        }
        self.records.push(Outcome {
            entity: entity.into(),
            record_id: id.into(),
            kind: Kind::Failed,
            target_id: None,
            detail: failure.to_string(),
            code: Some(failure.code()),
            retryable: failure.retryable(),
        });
    }

    /// Count of outcomes of a kind.
    pub fn count(&self, kind: Kind) -> u32 {
        u32::try_from(self.records.iter().filter(|r| r.kind == kind).count()).unwrap_or(u32::MAX)
    }
}

/// Why one record failed.
#[derive(Clone, Debug)]
pub enum Failure {
    /// A mapping refused it.
    Mapping(MappingError),
    /// An API call failed.
    Api(ApiError),
    /// The record itself is unusable (missing field, unknown reference).
    Invalid(String),
    /// An API call about a related record failed (e.g. the opportunity a payment updates); the
    /// text names that record, the error keeps its code and whether it is retryable.
    Related(String, ApiError),
}

impl Failure {
    /// The code for the error ledger.
    pub fn code(&self) -> String {
        match self {
            Failure::Mapping(_) => "mapping".into(),
            Failure::Api(e) | Failure::Related(_, e) => e.code(),
            Failure::Invalid(_) => "invalid-record".into(),
        }
    }

    /// True when the same attempt may succeed later.
    pub fn retryable(&self) -> bool {
        matches!(self, Failure::Api(e) | Failure::Related(_, e) if e.retryable())
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Mapping(e) => write!(f, "{e}"),
            Failure::Api(e) => write!(f, "{e}"),
            Failure::Invalid(m) => write!(f, "{m}"),
            Failure::Related(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

impl From<MappingError> for Failure {
    fn from(e: MappingError) -> Self {
        Failure::Mapping(e)
    }
}

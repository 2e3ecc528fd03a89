//! Durable flow state in the tenant's key-value store: links between the two systems, cursors,
//! per-invoice payment ledgers and the review queue. Values are JSON.

use crate::platform::KeyValue;
use serde::{de::DeserializeOwned, Serialize};

/// Links Salesforce Id <-> QBO Id per entity, with what was last synced.
pub const LINKS: &str = "links";
/// Trigger positions (QBO CDC time, Salesforce replay id).
pub const CURSORS: &str = "cursors";
/// Everything else (payment ledgers, aging state).
pub const STATE: &str = "state";
/// Reports for the host to render (reconciliation, aging).
pub const REPORTS: &str = "reports";
/// The review queue: accounts waiting for a person's decision, by Account Id.
pub const REVIEW: &str = "review";

/// Typed access to the store.
pub struct State<'a> {
    kv: &'a dyn KeyValue,
}

impl<'a> State<'a> {
    /// Over a key-value store.
    pub fn new(kv: &'a dyn KeyValue) -> Self {
        Self { kv }
    }

    /// A value; an unreadable one is an error naming the key.
    pub fn get<T: DeserializeOwned>(&self, bucket: &str, key: &str) -> Result<Option<T>, String> {
        match self.kv.get(bucket, key)? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| format!("state {bucket}/{key} is unreadable: {e}")),
        }
    }

    /// Stores a value.
    pub fn put<T: Serialize>(&self, bucket: &str, key: &str, value: &T) -> Result<(), String> {
        let bytes = serde_json::to_vec(value).map_err(|e| e.to_string())?;
        self.kv.set(bucket, key, &bytes)
    }

    /// Removes a value.
    pub fn delete(&self, bucket: &str, key: &str) -> Result<(), String> {
        self.kv.delete(bucket, key)
    }

    /// Keys of a bucket starting with `prefix`.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, String> {
        Ok(self
            .kv
            .keys(bucket)?
            .into_iter()
            .filter(|k| k.starts_with(prefix))
            .collect())
    }
}

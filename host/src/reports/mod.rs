//! Rendering the reports the component stores (bucket `reports`): the month-end reconciliation
//! as CSV and as a readable HTML page with a chart, and the aging buckets as CSV. The component
//! computes; the host, which has a filesystem, writes files.

pub mod aging;
pub mod reconcile;

use crate::tenant::TenantCaps;
use anyhow::{Context, Result};
use serde::de::DeserializeOwned;

/// A report the component stored for `tenant`, e.g. `reconcile/latest`.
pub fn stored<T: DeserializeOwned>(tenant: &TenantCaps, key: &str) -> Result<Option<T>> {
    let Some(bytes) = tenant.storage.get(&tenant.id, "reports", key)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .with_context(|| format!("the stored report {key} is unreadable"))
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_html_escape_what_they_must() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape("<b>&"), "&lt;b&gt;&amp;");
    }
}

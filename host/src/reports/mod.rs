//! Rendering the reports the component stored, as its `report` export returns them
//! ([`crate::flow_calls::report`]): the month-end reconciliation as CSV and as a readable HTML page
//! with a chart, and the aging buckets as CSV. The component computes; the host, which has a
//! filesystem, writes files.

pub mod aging;
pub mod reconcile;

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

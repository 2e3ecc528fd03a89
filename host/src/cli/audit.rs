//! `ledgerlink audit --config F [--tenant T] [--json]`: the pre-launch audit, the component's
//! `audit` job. It reads both systems and writes nothing; the findings are printed grouped by
//! kind (duplicates within QBO and within Salesforce, the pairs the matching ladder would link
//! and on which rung, ambiguous matches, products without an item, opportunities that would be
//! refused). Exit 1 when some finding needs a person.

use super::job::{outcome, report_json, run_for_report, TenantArgs, EXIT_RECORDS_FAILED};
use crate::runtime::exports::ledgerlink::sync::flows::{Outcome, RunReport};
use anyhow::Result;
use std::collections::BTreeMap;
use std::path::Path;

/// Runs `ledgerlink audit`.
pub async fn run(plugin: Option<&Path>, args: TenantArgs) -> Result<i32> {
    let report = match run_for_report(plugin, &args, "audit", "{}").await? {
        Ok(report) => report,
        Err(code) => return Ok(code),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
    } else {
        print!("{}", render(&report));
    }
    Ok(if report.failed > 0 {
        EXIT_RECORDS_FAILED
    } else {
        0
    })
}

/// The findings grouped by their code, problems first.
pub fn render(report: &RunReport) -> String {
    let mut groups: BTreeMap<(bool, String), Vec<String>> = BTreeMap::new();
    for r in &report.records {
        let code = r
            .code
            .clone()
            .unwrap_or_else(|| outcome(r.outcome).to_string());
        let line = format!(
            "  {} {}{}: {}",
            r.entity,
            r.record_id,
            r.target_id
                .as_deref()
                .map(|t| format!(" -> {t}"))
                .unwrap_or_default(),
            r.detail
        );
        groups
            .entry((r.outcome != Outcome::Failed, code))
            .or_default()
            .push(line);
    }
    let mut out = String::from("Audit (read only: nothing was written in either system)\n");
    for ((informational, code), lines) in &groups {
        let mark = if *informational {
            ""
        } else {
            " (needs a person)"
        };
        out.push_str(&format!("\n{code}{mark}: {}\n", lines.len()));
        for line in lines {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "\n{} findings, {} needing a person\n",
        report.records.len(),
        report.failed
    ));
    out
}

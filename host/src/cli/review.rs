//! `ledgerlink review list|link ACCOUNT CUSTOMER|create ACCOUNT|skip ACCOUNT --config F`: the
//! review queue of ambiguous matches, the component's `review` job. An Account the matching
//! ladder could not match with certainty waits here, neither linked nor created, until a person
//! decides; the account flow applies the decision on its next run.

use super::job::{outcome, report_json, run_for_report, TenantArgs};
use anyhow::Result;
use serde_json::json;
use std::path::Path;

/// What to do.
#[derive(clap::Subcommand)]
pub enum Decision {
    /// The accounts waiting for a decision, with their candidates.
    List,
    /// Link the Account to this QBO customer.
    Link {
        /// The Salesforce Account id.
        account: String,
        /// The QBO customer id.
        customer: String,
    },
    /// Create a new QBO customer for the Account despite the candidates.
    Create {
        /// The Salesforce Account id.
        account: String,
    },
    /// Never sync the Account (until another decision).
    Skip {
        /// The Salesforce Account id.
        account: String,
    },
}

/// Arguments of `ledgerlink review`.
#[derive(clap::Args)]
pub struct ReviewArgs {
    #[command(subcommand)]
    decision: Decision,
    #[command(flatten)]
    tenant: TenantArgs,
}

/// Runs `ledgerlink review`.
pub async fn run(plugin: Option<&Path>, args: ReviewArgs) -> Result<i32> {
    let job_args = match &args.decision {
        Decision::List => json!({"action": "list"}),
        Decision::Link { account, customer } => {
            json!({"action": "link", "account": account, "customer": customer})
        }
        Decision::Create { account } => json!({"action": "create", "account": account}),
        Decision::Skip { account } => json!({"action": "skip", "account": account}),
    };
    let report = match run_for_report(plugin, &args.tenant, "review", &job_args.to_string()).await?
    {
        Ok(report) => report,
        Err(code) => return Ok(code),
    };
    if args.tenant.json {
        println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
        return Ok(0);
    }
    if report.records.is_empty() {
        println!("No account is waiting for review.");
    }
    for r in &report.records {
        println!(
            "{:<8} {:<15} {:<8} {:<20} {}",
            outcome(r.outcome),
            r.code.as_deref().unwrap_or("-"),
            r.entity,
            r.record_id,
            r.detail
        );
    }
    if !matches!(args.decision, Decision::List) {
        println!(
            "The account flow applies it on its next run (or now: `ledgerlink job sync-accounts`)."
        );
    }
    Ok(0)
}

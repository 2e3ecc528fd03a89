//! The review queue: accounts the matching ladder could not match with certainty (several
//! plausible customers on one rung, or only similar names), each with its candidates, the
//! opportunities waiting for it and, once a person decided, the decision. One entry per
//! account, in the `review` bucket under its Account Id; the account flow removes it once the
//! account is linked. Nothing here is written in a dry run.

use super::context::{Ctx, FlowResult};
use super::matching::{self, Candidate};
use super::state::REVIEW;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// What a person decided for a queued account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Decision {
    /// Link the account to this QBO customer.
    Link {
        /// The QBO Customer Id.
        customer: String,
    },
    /// Create a new customer even though candidates exist.
    Create,
    /// Never sync the account until a new decision.
    Skip,
}

impl Decision {
    /// The report code of an account with this decision.
    pub fn code(&self) -> &'static str {
        match self {
            Decision::Link { .. } => "review-link",
            Decision::Create => "review-create",
            Decision::Skip => "review-skip",
        }
    }
}

/// The code of an account waiting for a decision.
pub const PENDING: &str = "pending-review";

/// One account's entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Review {
    /// The Account's name, for the list.
    pub account_name: String,
    /// The customers the ladder found, as of its last run.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// `None` while pending.
    #[serde(default)]
    pub decision: Option<Decision>,
    /// Opportunities the invoice flow skipped for this account: rerun once it is linked.
    #[serde(default)]
    pub waiting: BTreeSet<String>,
}

impl Review {
    /// What the entry says, for a report: `candidates for "Acme Widgets": 58 "Acme Inc" (score
    /// 0.93, similar name); ...` while pending, else the decision.
    pub fn describe(&self) -> String {
        let name = &self.account_name;
        match &self.decision {
            None => format!(
                "candidates for {name:?}: {}",
                matching::list(&self.candidates)
            ),
            Some(Decision::Link { customer }) => {
                format!("{name:?}: link to customer {customer}, applied on the next account sync")
            }
            Some(Decision::Create) => {
                format!("{name:?}: create a new customer, applied on the next account sync")
            }
            Some(Decision::Skip) => format!("{name:?}: kept out of sync until a new decision"),
        }
    }
}

/// Account `account_id`'s entry.
pub fn entry(ctx: &Ctx<'_>, account_id: &str) -> Result<Option<Review>, String> {
    ctx.state.get(REVIEW, account_id)
}

/// Every entry, by Account Id.
pub fn all(ctx: &Ctx<'_>) -> Result<Vec<(String, Review)>, String> {
    let mut entries = Vec::new();
    for account_id in ctx.state.keys(REVIEW, "")? {
        if let Some(review) = ctx.state.get::<Review>(REVIEW, &account_id)? {
            entries.push((account_id, review));
        }
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(entries)
}

/// Stores account `account_id`'s entry.
pub fn put(ctx: &Ctx<'_>, account_id: &str, review: &Review) -> FlowResult {
    if !ctx.dry_run() {
        ctx.state.put(REVIEW, account_id, review)?;
    }
    Ok(())
}

/// Removes account `account_id`'s entry (it is linked now).
pub fn remove(ctx: &Ctx<'_>, account_id: &str) -> FlowResult {
    if !ctx.dry_run() {
        ctx.state.delete(REVIEW, account_id)?;
    }
    Ok(())
}

/// Notes that opportunity `opportunity_id` waits for account `account_id`'s decision.
pub fn wait_for(ctx: &Ctx<'_>, account_id: &str, opportunity_id: &str) -> FlowResult {
    if let Some(mut review) = entry(ctx, account_id)? {
        if review.waiting.insert(opportunity_id.to_string()) {
            put(ctx, account_id, &review)?;
        }
    }
    Ok(())
}

/// Reports account `account_id` as kept out of sync by a person's `skip` decision.
pub fn report_skipped(ctx: &mut Ctx<'_>, account_id: &str) {
    ctx.report.coded(
        super::report::Kind::Skipped,
        "Account",
        account_id,
        None,
        Decision::Skip.code(),
        "kept out of sync by a review decision (skip)",
    );
}

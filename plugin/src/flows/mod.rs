//! The effectful flows: read state, call the APIs through the host's connections, write state.
//! One module per flow; each reports per record what it created, updated, skipped and why it
//! failed. Every write is idempotent: QBO writes carry a `requestid` derived from the source
//! record and its content, Salesforce writes are PATCHes by id or upserts by external id, and
//! links are checked (and recovered from QBO by DocNumber) before anything is created.
//!
//! Dependencies point one way, down this table, and no flow uses another flow (tests over the
//! `use` lines keep both so). A flow is a job's entry (`run`); what two flows share, such as
//! syncing one account, is a module of the record-sync layer below them.
//!
//! | layer | modules |
//! |---|---|
//! | what starts a run | [`triggers`] (QBO polls and webhooks, backfill, redo by id), [`change_events`] (Salesforce change events), `run_job` here |
//! | the polls | [`salesforce_poll`] (Get Updated / Get Deleted, then `SystemModstamp` cursors), [`quickbooks_poll`] (CDC since the cursor, a catch-up by query past its limits) |
//! | routing | [`routing`] (which flow handles a Salesforce object or a QBO entity; the flows over touched ids) |
//! | the flows | [`accounts`], [`products`], [`invoices`] (with its parts: plan, updates, details, currency, recurring: subscriptions as QBO recurring templates, records: the invoice-record sources of `invoice-source`), [`orders`], [`payments`], [`adjustments`] (credit memos, refunds, voided and deleted invoices), [`inbound`], [`aging`], [`reconcile`], [`audit`] (reads both systems, writes nothing; `run_job` hands it the invoice flow's plan), [`review`] (the review queue's list and decisions) |
//! | one record synced, for any flow | [`customers`] (an account's customer, the matching ladder, review decisions applied), [`items`] (a product's item), [`classification`] (a customer's location and class) |
//! | shared by the flows | [`links`], [`settlement`] (a record's payment figures over all its invoices), [`credits`] (which invoice a credit memo or refund counts against), [`review_queue`] (accounts waiting for a person's decision), [`matching`] (name similarity, rungs, candidates), [`salesforce_io`], [`qbo_lists`], [`context`], [`report`], [`state`], [`ids`], [`settings`], [`invoice_settings`], [`stored_reports`] (where reports are kept), [`notice_text`] (how notifications name records and people) |
//! | what a host may ask | [`status`] (progress and cursors, the `status` export); the `report` export reads [`stored_reports`] |

pub mod accounts;
pub mod adjustments;
pub mod aging;
pub mod audit;
pub mod change_events;
pub mod classification;
pub mod context;
pub mod credits;
pub mod customers;
pub mod ids;
pub mod inbound;
pub mod invoice_settings;
pub mod invoices;
pub mod items;
pub mod links;
pub mod matching;
pub mod notice_text;
pub mod orders;
pub mod payments;
pub mod products;
pub mod qbo_lists;
pub mod quickbooks_poll;
pub mod reconcile;
pub mod report;
pub mod review;
pub mod review_queue;
pub mod routing;
pub mod salesforce_io;
pub mod salesforce_poll;
pub mod settings;
pub mod settlement;
pub mod state;
pub mod status;
pub mod stored_reports;
pub mod triggers;

pub use context::{Args, Ctx};
pub use report::{Failure, Kind, Outcome, Report};

use crate::platform::Platform;

/// A job the component offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobInfo {
    /// Name passed to `run-job`.
    pub name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Default cron schedule (`sec min hour day month weekday`).
    pub default_schedule: Option<&'static str>,
}

/// Why a job did not run at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobError {
    /// No such job.
    NotAvailable(String),
    /// Arguments or body are not what the job takes.
    InvalidArgs(String),
    /// Throttled before any record was handled; retry at this time.
    Throttled(String),
    /// The job failed as a whole.
    Failed(String),
}

/// Every job.
pub const JOBS: [JobInfo; 14] = [
    JobInfo { name: "poll", description: "Salesforce changes (public REST) and QBO changes (CDC) since the last cursors, then every flow they touch", default_schedule: Some("0 */5 * * * *") },
    JobInfo { name: "backfill", description: "Every existing account, product, Closed Won opportunity and activated order, then QBO customers, invoices and payments", default_schedule: None },
    JobInfo { name: "sync-accounts", description: "Salesforce Account -> QBO Customer (matching ladder before any create)", default_schedule: None },
    JobInfo { name: "sync-products", description: "Product2 / PricebookEntry -> QBO Item", default_schedule: None },
    JobInfo { name: "sync-invoices", description: "Closed Won Opportunity -> QBO Invoice, with the invoice written back", default_schedule: None },
    JobInfo { name: "sync-orders", description: "Activated Order -> QBO JournalEntry (reversed on change or cancellation)", default_schedule: None },
    JobInfo { name: "poll-salesforce", description: "Salesforce changes by public REST: Get Updated / Get Deleted since the last covered time, else (SystemModstamp, Id) cursors", default_schedule: None },
    JobInfo { name: "poll-quickbooks", description: "QBO CDC since the cursor: payments, customers and invoices to Salesforce", default_schedule: None },
    JobInfo { name: "sync-payments", description: "QBO Payments (by id) -> Opportunity payment status", default_schedule: None },
    JobInfo { name: "sync-quickbooks", description: "QBO records by id (Customer:<id>, Invoice:<id>, Payment:<id>) -> Salesforce; redoes a webhook's failed records", default_schedule: None },
    JobInfo { name: "aging", description: "Invoice aging: Days Outstanding on the Opportunity, alerts on newly crossed 30/60/90 days", default_schedule: Some("0 0 6 * * *") },
    JobInfo { name: "reconcile", description: "Closed Won vs invoiced for a period (default: last month), stored and summarised", default_schedule: Some("0 0 7 1 * *") },
    JobInfo { name: "audit", description: "Before a launch, writing nothing: duplicate QBO customers and Salesforce accounts, the account-customer pairs the matching ladder would link (and on which rung), ambiguous matches, products without a QBO item, opportunities the invoice flow would refuse; one outcome per finding, grouped by code", default_schedule: None },
    JobInfo { name: "review", description: "The review queue of ambiguous account matches: {\"action\": \"list\"}, or a decision {\"action\": \"link\"|\"create\"|\"skip\", \"account\": ..., \"customer\": ...} applied on the account's next sync", default_schedule: None },
];

/// Runs job `name`.
pub fn run_job(platform: &Platform<'_>, name: &str, args: &str) -> Result<Report, JobError> {
    if !JOBS.iter().any(|j| j.name == name) {
        return Err(JobError::NotAvailable(format!(
            "no job {name:?}; jobs: {}",
            JOBS.iter().map(|j| j.name).collect::<Vec<_>>().join(", ")
        )));
    }
    let raw_args = args;
    let mut args = match name {
        // The review job takes arguments of its own (parsed below).
        "review" => Args::default(),
        // The audit covers every record and writes nothing, whatever it is passed.
        "audit" => Args {
            dry_run: true,
            full: true,
            only: None,
            entities: Default::default(),
            ..Args::parse(raw_args)?
        },
        _ => Args::parse(raw_args)?,
    };
    // A retry of a run that failed as a whole (`<job>:(run)` in the ledger) is the whole run.
    let whole_run = args
        .only
        .as_ref()
        .is_some_and(|only| only.iter().any(|id| id == RUN_RECORD));
    if whole_run {
        // Jobs that read their records by id have nothing to run without ids: they keep the
        // other records named; every other job covers them all in a whole run.
        let rest: Vec<String> = args
            .only
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|id| id != RUN_RECORD)
            .collect();
        if BY_ID_JOBS.contains(&name) && !rest.is_empty() {
            args.only = Some(rest);
        }
    }
    let redo = args.only.is_some();
    let mut ctx = Ctx::new(platform, args)?;
    // A new run: the progress of the last one is not this one's.
    let _ = ctx.state.delete(state::STATE, context::PROGRESS_KEY);
    let outcome = match name {
        // Record-level retries of the polls and the backfill: exactly the records named.
        "poll" | "backfill" | "poll-salesforce" | "poll-quickbooks" if redo => {
            triggers::redo_only(&mut ctx)
        }
        "poll" => salesforce_poll::poll_salesforce(&mut ctx)
            .and_then(|()| quickbooks_poll::poll_quickbooks(&mut ctx)),
        "backfill" => triggers::backfill(&mut ctx),
        "sync-accounts" => accounts::run(&mut ctx),
        "sync-products" => products::run(&mut ctx),
        "sync-invoices" => invoices::run(&mut ctx),
        "sync-orders" => orders::run(&mut ctx),
        "poll-salesforce" => salesforce_poll::poll_salesforce(&mut ctx),
        "poll-quickbooks" => quickbooks_poll::poll_quickbooks(&mut ctx),
        "sync-payments" => payments::run_ids(&mut ctx),
        "sync-quickbooks" => routing::quickbooks_ids(&mut ctx),
        "aging" => aging::run(&mut ctx),
        "reconcile" => reconcile::run(&mut ctx),
        "audit" => audit::run(&mut ctx, invoices::run),
        "review" => {
            let action = review::Action::parse(raw_args).map_err(JobError::InvalidArgs)?;
            match review::run(&mut ctx, &action) {
                Ok(()) => Ok(()),
                Err(review::Refusal::Abort(abort)) => Err(abort),
                Err(review::Refusal::InvalidArgs(why)) => return Err(JobError::InvalidArgs(why)),
            }
        }
        _ => unreachable!("checked against JOBS above"),
    };
    if outcome.is_ok() {
        if whole_run {
            ctx.report
                .skipped(name, RUN_RECORD, None, "the run completed");
        }
        if redo && matches!(name, "aging" | "reconcile") {
            // These compute over every record; each one named was redone with the rest.
            redone_with_the_rest(&mut ctx);
        }
    }
    ctx.finish(name, outcome)
}

/// The record id under which a run that failed as a whole is reported (its entity is the job).
pub const RUN_RECORD: &str = "(run)";

/// The jobs that only ever work on the records `only` names.
const BY_ID_JOBS: [&str; 2] = ["sync-payments", "sync-quickbooks"];

/// Reports each `only` record that this run did not report on as redone, so that the error
/// ledger resolves it.
fn redone_with_the_rest(ctx: &mut Ctx<'_>) {
    for id in ctx.args.only.clone().unwrap_or_default() {
        let entity = ctx.args.entities.get(&id).cloned().unwrap_or_default();
        if !ctx
            .report
            .records
            .iter()
            .any(|r| r.record_id == id && r.entity == entity)
        {
            ctx.report
                .skipped(&entity, &id, None, "redone in a run over every record");
        }
    }
}

/// Handles a verified webhook body from QBO, or decoded change events from Salesforce.
pub fn on_webhook(platform: &Platform<'_>, source: &str, body: &str) -> Result<Report, JobError> {
    match source {
        "quickbooks" => {
            let hints = triggers::parse_webhook(body).map_err(JobError::InvalidArgs)?;
            let mut ctx = Ctx::new(platform, Args::default())?;
            let outcome = triggers::on_quickbooks_webhook(&mut ctx, hints);
            // A throttled webhook run asks for a CDC pass later, which covers what it missed.
            ctx.finish("poll-quickbooks", outcome)
        }
        "salesforce" => {
            let changes = change_events::parse_events(body).map_err(JobError::InvalidArgs)?;
            let mut ctx = Ctx::new(platform, Args::default())?;
            let outcome = change_events::on_change_events(&mut ctx, changes);
            ctx.finish(change_events::REPORT_JOB, outcome)
        }
        _ => Err(JobError::InvalidArgs(format!(
            "webhooks from {source:?} are not handled; only \"quickbooks\" and \"salesforce\""
        ))),
    }
}

/// The job a webhook run's report is filed under: it redoes the run's failed records by `only`
/// (`Payment:<id>`, `Invoice:<id>`, `Customer:<id>` for QBO; `Opportunity:<id>`, ... for
/// Salesforce change events, which `poll-salesforce` redoes).
pub fn webhook_report_job(source: &str) -> &'static str {
    match source {
        "salesforce" => change_events::REPORT_JOB,
        _ => "sync-quickbooks",
    }
}

#[cfg(test)]
pub mod test_support;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::memory::{json, MemoryPlatform};

    #[test]
    fn a_retry_of_a_failed_run_and_a_record_of_a_by_id_job_redoes_the_record_too() {
        // QBO no longer has payment 130: a delete, never applied here.
        let platform = MemoryPlatform::new("1", |req| {
            if req.url.contains("/query") {
                json(200, serde_json::json!({"QueryResponse": {}}))
            } else {
                json(404, serde_json::json!({}))
            }
        });
        let args = r#"{"only": ["sync-payments:(run)", "Payment:130"]}"#;
        let report = run_job(&platform.platform(), "sync-payments", args).unwrap();
        let ids: Vec<(&str, &str)> = report
            .records
            .iter()
            .map(|r| (r.entity.as_str(), r.record_id.as_str()))
            .collect();
        assert_eq!(
            ids,
            vec![("Payment", "130"), ("sync-payments", RUN_RECORD)],
            "{:#?}",
            report.records
        );
    }

    /// A throttle answer whose retry time the host set.
    fn throttled(_: &crate::platform::HttpRequest) -> crate::platform::HttpResponse {
        crate::platform::HttpResponse {
            status: 429,
            headers: vec![(
                "x-ledgerlink-retry-at".into(),
                "2026-03-05T10:01:00Z".into(),
            )],
            body: br#"{"fault": {"error": [{"message": "ThrottleExceeded", "code": "003001"}]}}"#
                .to_vec(),
        }
    }

    #[test]
    fn a_throttled_run_asks_for_a_rerun_of_the_same_records_at_the_hosts_retry_time() {
        use crate::platform::memory::Routes;
        use crate::platform::Method::Get;
        let platform = MemoryPlatform::routed(
            test_support::REALM,
            Routes::new().on(Get, "select * from Payment", throttled),
        );
        let args = r#"{"only": ["Payment:77", "Payment:78"]}"#;
        let report = run_job(&platform.platform(), "sync-payments", args).unwrap();
        assert_eq!(
            test_support::outcomes(&report),
            vec![
                ("Payment", "77", Kind::Failed, None),
                ("Payment", "78", Kind::Failed, None)
            ]
        );
        assert!(report
            .records
            .iter()
            .all(|r| r.retryable && r.code.as_deref() == Some("throttled")));
        assert_eq!(
            platform.schedule.0.borrow().as_slice(),
            [(
                "sync-payments".to_string(),
                r#"{"only":["Payment:77","Payment:78"]}"#.to_string(),
                "2026-03-05T10:01:00Z".to_string()
            )]
        );
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
    }

    #[test]
    fn a_run_throttled_before_any_record_is_a_throttled_job_rerun_whole() {
        use crate::platform::memory::Routes;
        use crate::platform::Method::Get;
        let platform = MemoryPlatform::routed(
            test_support::REALM,
            Routes::new().on(Get, "FROM Account", throttled),
        );
        let result = run_job(&platform.platform(), "sync-accounts", "");
        assert_eq!(
            result.err(),
            Some(JobError::Throttled("2026-03-05T10:01:00Z".into()))
        );
        assert_eq!(
            platform.schedule.0.borrow().as_slice(),
            [(
                "sync-accounts".to_string(),
                r#"{"only":null}"#.to_string(),
                "2026-03-05T10:01:00Z".to_string()
            )]
        );
    }
}

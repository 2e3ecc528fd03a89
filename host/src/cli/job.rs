//! `ledgerlink job NAME` runs one of the component's jobs for a configured tenant, once, and
//! prints what happened per record; `ledgerlink plan` runs the backfill as a dry run: every flow
//! against live data, nothing written, and per record what it would create, update or skip.

use super::progress::ProgressWatch;
use crate::config::HostConfig;
use crate::flow_calls;
use crate::runtime::exports::ledgerlink::sync::flows::{Outcome, RunReport};
use crate::runtime::{Limits, Runtime};
use crate::scheduler::lease::Leases;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the tenant comes from (global: `review` takes them after its subcommand too).
#[derive(clap::Args)]
pub struct TenantArgs {
    /// The host config file.
    #[arg(
        long,
        short,
        global = true,
        value_name = "FILE",
        default_value = "ledgerlink.toml"
    )]
    config: PathBuf,
    /// The tenant (default: the only one configured).
    #[arg(long, global = true)]
    tenant: Option<String>,
    /// Print the report as JSON.
    #[arg(long, global = true)]
    pub(super) json: bool,
    /// How long to wait, in seconds, while another run (the daemon's, another `ledgerlink
    /// job`) holds the tenant: one writer per tenant.
    #[arg(long, global = true, value_name = "SECS", default_value_t = 600)]
    wait: u64,
}

/// Arguments of `ledgerlink job`.
#[derive(clap::Args)]
pub struct JobArgs {
    /// The job, e.g. `backfill`, `poll`, `sync-invoices`, `aging`, `reconcile`.
    name: String,
    /// JSON arguments, e.g. `{"only": ["006..."]}` or `{"as-of": "2026-01-31"}`.
    #[arg(long, default_value = "{}")]
    args: String,
    #[command(flatten)]
    tenant: TenantArgs,
}

/// Exit code when some records failed (they are listed).
pub const EXIT_RECORDS_FAILED: i32 = 1;
/// Exit code when the job did not run (throttled before starting, bad arguments, failed).
pub const EXIT_JOB_FAILED: i32 = 2;
/// Exit code when another run held the tenant for longer than `--wait`.
pub const EXIT_BUSY: i32 = 3;

/// Runs `ledgerlink job`.
pub async fn run(plugin: Option<&Path>, args: JobArgs) -> Result<i32> {
    execute(plugin, &args.tenant, &args.name, &args.args).await
}

/// Runs `ledgerlink plan`.
pub async fn plan(plugin: Option<&Path>, args: TenantArgs) -> Result<i32> {
    execute(plugin, &args, "backfill", r#"{"dry-run": true}"#).await
}

async fn execute(plugin: Option<&Path>, t: &TenantArgs, name: &str, job_args: &str) -> Result<i32> {
    let report = match run_for_report(plugin, t, name, job_args).await? {
        Ok(report) => report,
        Err(code) => return Ok(code),
    };
    if t.json {
        println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
    } else {
        print_report(&report);
    }
    Ok(if report.failed > 0 {
        EXIT_RECORDS_FAILED
    } else {
        0
    })
}

/// Runs job `name` once for the tenant `t` names, under its lease and with a progress bar:
/// the report, or the exit code when the job did not run (what stopped it is printed).
pub async fn run_for_report(
    plugin: Option<&Path>,
    t: &TenantArgs,
    name: &str,
    job_args: &str,
) -> Result<std::result::Result<RunReport, i32>> {
    let config = HostConfig::load(&t.config)?;
    let tenant_id = config.tenant_id(t.tenant.as_deref())?;
    let db = config.store.open()?;
    let tenant = config.tenant_caps(&tenant_id, &db)?;
    // Jobs block on the APIs for most of their time; the CPU deadline is the call's wall time.
    let limits = Limits {
        cpu_deadline: Duration::from_secs(3600),
        wall_clock: Duration::from_secs(3600),
        ..Limits::default()
    };
    let runtime = match plugin {
        Some(path) => Runtime::from_file(path, limits)?,
        None => Runtime::embedded(limits)?,
    };
    let leases = Leases::new(db.clone())?;
    let waiting = |busy: &crate::scheduler::lease::Busy| eprintln!("waiting: {busy}");
    let wait = Some(Duration::from_secs(t.wait));
    let _lease = match leases.acquire(&tenant_id, name, wait, waiting).await? {
        Ok(lease) => lease,
        Err(busy) => {
            eprintln!("{busy}; not run (try again, or --wait longer)");
            return Ok(Err(EXIT_BUSY));
        }
    };
    let bar = ProgressWatch::start(
        runtime.clone(),
        tenant.clone(),
        indicatif::ProgressBar::new(0),
    );
    let result = flow_calls::run_job(&runtime, &tenant, name, job_args).await;
    bar.finish();
    let result = result.with_context(|| format!("running {name} for {tenant_id}"))?;
    Ok(match result {
        Ok(r) => Ok(r),
        Err(e) => {
            eprintln!("{}", flow_calls::summary(name, &Err(e)));
            Err(EXIT_JOB_FAILED)
        }
    })
}

/// An outcome's name.
pub fn outcome(o: Outcome) -> &'static str {
    match o {
        Outcome::Created => "created",
        Outcome::Updated => "updated",
        Outcome::Skipped => "skipped",
        Outcome::Failed => "failed",
    }
}

/// A report as JSON.
pub fn report_json(r: &RunReport) -> serde_json::Value {
    serde_json::json!({
        "job": r.job,
        "created": r.created, "updated": r.updated, "skipped": r.skipped, "failed": r.failed,
        "records": r.records.iter().map(|o| serde_json::json!({
            "entity": o.entity, "record-id": o.record_id, "outcome": outcome(o.outcome),
            "target-id": o.target_id, "detail": o.detail, "code": o.code, "retryable": o.retryable,
        })).collect::<Vec<_>>(),
    })
}

/// One line per record, then the totals.
pub fn print_report(r: &RunReport) {
    for o in &r.records {
        println!(
            "{:<8} {:<14} {:<20} {:<10} {}",
            outcome(o.outcome),
            o.entity,
            o.record_id,
            o.target_id.as_deref().unwrap_or("-"),
            o.detail
        );
    }
    println!(
        "{}: {} created, {} updated, {} skipped, {} failed",
        r.job, r.created, r.updated, r.skipped, r.failed
    );
}

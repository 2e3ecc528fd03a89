//! `ledgerlink report reconcile|aging --config F [--tenant T] [--period P] [--out DIR]
//! [--format html|csv|json]`: writes what the `reconcile` or `aging` job stored for a
//! configured tenant (the newest, or the one of a period), asked of the component's `report`
//! export. No API is called.

use crate::config::HostConfig;
use crate::flow_calls;
use crate::reports::currency_of;
use crate::reports::files::{self, Format};
use crate::runtime::exports::ledgerlink::sync::flows::ReportKind;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Which report.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Kind {
    /// The month-end reconciliation (the `reconcile` job).
    Reconcile,
    /// Invoice aging (the `aging` job).
    Aging,
}

/// Arguments of `ledgerlink report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// Which report.
    #[arg(value_enum)]
    kind: Kind,
    /// The host config file.
    #[arg(long, short, value_name = "FILE", default_value = "ledgerlink.toml")]
    config: PathBuf,
    /// The tenant (default: the only one configured).
    #[arg(long)]
    tenant: Option<String>,
    /// Which run's report: for `reconcile` a month `YYYY-MM` or `YYYY-MM-DD/YYYY-MM-DD`, for
    /// `aging` the as-of date `YYYY-MM-DD`; default: the newest.
    #[arg(long)]
    period: Option<String>,
    /// Where to write the files.
    #[arg(long, default_value = ".")]
    out: PathBuf,
    /// Formats to write (repeat or comma-separate); default: all three.
    #[arg(long, value_enum, value_delimiter = ',')]
    format: Vec<Format>,
}

/// Exit code when no run stored the report asked for.
pub const EXIT_NO_REPORT: i32 = 2;

/// Runs `ledgerlink report`; prints the paths written.
pub async fn run(plugin: Option<&Path>, args: ReportArgs) -> Result<i32> {
    let config = HostConfig::load(&args.config)?;
    let tenant_id = config.tenant_id(args.tenant.as_deref())?;
    let db = config.store.open()?;
    // A stored report needs no connection: no token is asked for.
    let tenant = config.offline_caps(&tenant_id, &db)?;
    let runtime = crate::daemon::load_runtime(plugin)?;
    let (kind, job) = match args.kind {
        Kind::Reconcile => (ReportKind::Reconcile, "reconcile"),
        Kind::Aging => (ReportKind::Aging, "aging"),
    };
    let Some(report) = flow_calls::report(&runtime, &tenant, kind, args.period.as_deref()).await?
    else {
        eprintln!(
            "no {job} report is stored for tenant {tenant_id}{}: run `ledgerlink job {job}` first",
            args.period
                .as_deref()
                .map(|p| format!(" for {p}"))
                .unwrap_or_default()
        );
        return Ok(EXIT_NO_REPORT);
    };
    let formats = if args.format.is_empty() {
        Format::ALL.to_vec()
    } else {
        args.format.clone()
    };
    let currency = currency_of(&tenant);
    for path in files::write(&args.out, &report, &formats, &currency)? {
        println!("{}", path.display());
    }
    Ok(0)
}

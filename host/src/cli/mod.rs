//! The `ledgerlink` command line.

mod audit;
mod call;
mod connect;
#[cfg(feature = "emulators")]
mod demo;
#[cfg(feature = "emulators")]
mod emulate;
mod errors;
mod init;
mod job;
mod progress;
mod report;
mod review;
mod run;
mod status;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Ledgerlink keeps Salesforce and QuickBooks Online in agreement.
#[derive(Parser)]
#[command(name = "ledgerlink", version, about)]
pub struct Cli {
    /// Load this component instead of the one built into the binary.
    #[arg(long, global = true, value_name = "PATH")]
    pub plugin: Option<std::path::PathBuf>,
    /// Write logs as JSON lines (for log shippers).
    #[arg(long, global = true, env = "LEDGERLINK_LOG_JSON")]
    pub log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call one mapping function with JSON in and JSON out (what an n8n-style host does per item).
    Call(call::CallArgs),
    /// Run the QuickBooks Online and/or Salesforce emulators on 127.0.0.1.
    #[cfg(feature = "emulators")]
    Emulate(emulate::EmulateArgs),
    /// Write a commented example config file.
    Init(init::InitArgs),
    /// Run every flow against seeded in-process emulators and write the reports: the main job.
    #[cfg(feature = "emulators")]
    Demo(demo::DemoArgs),
    /// Run one of the component's jobs for a configured tenant, once.
    Job(job::JobArgs),
    /// Dry run: what every flow would create, update or skip, writing nothing.
    Plan(job::TenantArgs),
    /// Pre-launch audit: duplicates, the matches the ladder would make, ambiguous matches,
    /// products without an item, opportunities that would be refused; nothing written.
    Audit(job::TenantArgs),
    /// The review queue of ambiguous Account <-> Customer matches: list, link, create, skip.
    Review(review::ReviewArgs),
    /// Run the host: webhook receiver, inbox worker and scheduler, until SIGTERM or Ctrl-C.
    Run(run::RunArgs),
    /// Show each tenant's connections, cursors, last runs, inbox depth and open errors.
    Status(status::StatusArgs),
    /// Write a tenant's reconciliation or aging report (HTML, CSV, JSON) from what its last
    /// run stored.
    Report(report::ReportArgs),
    /// List, retry or dismiss record errors.
    Errors(errors::ErrorsArgs),
    /// Connect a tenant to QuickBooks Online (OAuth authorization code).
    Connect(connect::ConnectArgs),
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> Result<i32> {
    let cli = Cli::parse();
    // The daemon reports what it does; one-shot commands only warn.
    let default_level = if matches!(cli.command, Command::Run(_)) {
        "info"
    } else {
        "warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("LEDGERLINK_LOG")
        .unwrap_or_else(|_| default_level.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if cli.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match cli.command {
            Command::Call(args) => call::run(cli.plugin.as_deref(), args).await,
            #[cfg(feature = "emulators")]
            Command::Emulate(args) => emulate::run(args).await,
            Command::Init(args) => init::run(args),
            #[cfg(feature = "emulators")]
            Command::Demo(args) => demo::run(cli.plugin.as_deref(), args).await,
            Command::Job(args) => job::run(cli.plugin.as_deref(), args).await,
            Command::Plan(args) => job::plan(cli.plugin.as_deref(), args).await,
            Command::Audit(args) => audit::run(cli.plugin.as_deref(), args).await,
            Command::Review(args) => review::run(cli.plugin.as_deref(), args).await,
            Command::Run(args) => run::run(cli.plugin.as_deref(), args).await,
            Command::Status(args) => status::run(cli.plugin.as_deref(), args).await,
            Command::Report(args) => report::run(cli.plugin.as_deref(), args).await,
            Command::Errors(args) => errors::run(cli.plugin.as_deref(), args).await,
            Command::Connect(args) => connect::run(args).await,
        }
    })
}

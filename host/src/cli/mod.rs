//! The `ledgerlink` command line.

mod call;
mod demo;
mod emulate;
mod init;
mod job;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Ledgerlink keeps Salesforce and QuickBooks Online in agreement.
#[derive(Parser)]
#[command(name = "ledgerlink", version, about)]
pub struct Cli {
    /// Load this component instead of the one built into the binary.
    #[arg(long, global = true, value_name = "PATH")]
    pub plugin: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Call one mapping function with JSON in and JSON out (what an n8n-style host does per item).
    Call(call::CallArgs),
    /// Run the QuickBooks Online and/or Salesforce emulators on 127.0.0.1.
    Emulate(emulate::EmulateArgs),
    /// Write a commented example config file.
    Init(init::InitArgs),
    /// Run every flow against seeded in-process emulators and write the reports: the main job.
    Demo(demo::DemoArgs),
    /// Run one of the component's jobs for a configured tenant, once.
    Job(job::JobArgs),
    /// Dry run: what every flow would create, update or skip, writing nothing.
    Plan(job::TenantArgs),
}

/// Runs the CLI; returns the process exit code.
pub fn main() -> Result<i32> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LEDGERLINK_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        match cli.command {
            Command::Call(args) => call::run(cli.plugin.as_deref(), args).await,
            Command::Emulate(args) => emulate::run(args).await,
            Command::Init(args) => init::run(args),
            Command::Demo(args) => demo::run(cli.plugin.as_deref(), args).await,
            Command::Job(args) => job::run(cli.plugin.as_deref(), args).await,
            Command::Plan(args) => job::plan(cli.plugin.as_deref(), args).await,
        }
    })
}

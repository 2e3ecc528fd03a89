//! `ledgerlink errors list|retry [ID]|dismiss ID --config FILE`: the error ledger
//! ([`crate::scheduler::ledger`]).

use crate::config::HostConfig;
use crate::daemon::{load_runtime, Host};
use crate::scheduler::ledger::only_entry;
use crate::scheduler::{ErrorLedger, RunResult};
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Arguments of `ledgerlink errors`.
#[derive(clap::Args)]
pub struct ErrorsArgs {
    #[command(subcommand)]
    command: ErrorsCommand,
}

#[derive(clap::Subcommand)]
enum ErrorsCommand {
    /// List errors (open ones unless --all).
    List {
        /// The config file.
        #[arg(long, short, value_name = "FILE", default_value = "ledgerlink.toml")]
        config: PathBuf,
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Also resolved and dismissed ones.
        #[arg(long)]
        all: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Retry one error now (also a permanent one, once its record was fixed), or every open
    /// retryable error.
    Retry {
        /// The error id (from `errors list`).
        id: Option<i64>,
        /// The config file.
        #[arg(long, short, value_name = "FILE", default_value = "ledgerlink.toml")]
        config: PathBuf,
    },
    /// Dismiss an error: it is never retried again.
    Dismiss {
        /// The error id.
        id: i64,
        /// The config file.
        #[arg(long, short, value_name = "FILE", default_value = "ledgerlink.toml")]
        config: PathBuf,
    },
}

/// Runs the command.
pub async fn run(plugin: Option<&Path>, args: ErrorsArgs) -> Result<i32> {
    match args.command {
        ErrorsCommand::List {
            config,
            tenant,
            all,
            json,
        } => {
            let config = HostConfig::load(&config)?;
            let ledger = ErrorLedger::new(config.store.open()?)?;
            let errors = ledger.list(tenant.as_deref(), (!all).then_some("open"))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&errors)?);
            } else if errors.is_empty() {
                println!("no errors");
            } else {
                println!(
                    "{:>5}  {:<10} {:<12} {:<14} {:<18} {:<10} {:<9} {:>4}  {:<24} DETAIL",
                    "ID", "TENANT", "JOB", "ENTITY", "RECORD", "CODE", "STATE", "TRY", "NEXT RETRY"
                );
                for e in errors {
                    println!(
                        "{:>5}  {:<10} {:<12} {:<14} {:<18} {:<10} {:<9} {:>4}  {:<24} {}",
                        e.id,
                        e.tenant,
                        e.job,
                        e.entity,
                        e.record_id,
                        e.code.as_deref().unwrap_or("-"),
                        e.state,
                        e.attempts,
                        e.next_retry.as_deref().unwrap_or(if e.retryable {
                            "-"
                        } else {
                            "never (permanent)"
                        }),
                        e.detail
                    );
                }
            }
            Ok(0)
        }
        ErrorsCommand::Dismiss { id, config } => {
            let config = HostConfig::load(&config)?;
            let ledger = ErrorLedger::new(config.store.open()?)?;
            if !ledger.dismiss(id, chrono::Utc::now())? {
                bail!("there is no error {id}");
            }
            println!("dismissed error {id}");
            Ok(0)
        }
        ErrorsCommand::Retry { id, config } => {
            let config = HostConfig::load(&config)?;
            let host = Host::open(&config, load_runtime(plugin)?)?;
            let ledger = host.runner.ledger();
            let errors = match id {
                Some(id) => {
                    let e = ledger
                        .get(id)?
                        .with_context(|| format!("there is no error {id}"))?;
                    if e.state != "open" {
                        bail!("error {id} is {}; only open errors are retried", e.state);
                    }
                    if e.job
                        .starts_with(crate::scheduler::ledger::NOT_A_JOB_PREFIX)
                    {
                        bail!("error {id} came from a webhook the component did not name a job for; it cannot be re-run (dismiss it once handled)");
                    }
                    vec![e]
                }
                None => ledger
                    .list(None, Some("open"))?
                    .into_iter()
                    .filter(|e| {
                        e.retryable
                            && !e
                                .job
                                .starts_with(crate::scheduler::ledger::NOT_A_JOB_PREFIX)
                    })
                    .collect(),
            };
            if errors.is_empty() {
                println!("nothing to retry");
                return Ok(0);
            }
            let mut batches: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
            for e in errors {
                batches
                    .entry((e.tenant, e.job))
                    .or_default()
                    .push(only_entry(&e.entity, &e.record_id));
            }
            let mut code = 0;
            for ((tenant, job), ids) in batches {
                let args = serde_json::json!({ "only": ids }).to_string();
                match host
                    .runner
                    .run(&tenant, &job, &args, "manual-retry")
                    .await?
                {
                    RunResult::Finished {
                        status, summary, ..
                    } => {
                        println!("{tenant}: {summary}");
                        if status != "ok" {
                            code = 1;
                        }
                    }
                    RunResult::Skipped => println!("{tenant}: {job} is already running"),
                }
            }
            Ok(code)
        }
    }
}

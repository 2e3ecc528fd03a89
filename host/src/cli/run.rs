//! `ledgerlink run --config FILE`: the daemon ([`crate::daemon`]) until SIGTERM or Ctrl-C.

use crate::config::HostConfig;
use anyhow::Result;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `ledgerlink run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The config file.
    #[arg(long, short, value_name = "FILE", default_value = "ledgerlink.toml")]
    config: PathBuf,
}

/// Runs the daemon.
pub async fn run(plugin: Option<&Path>, args: RunArgs) -> Result<i32> {
    let config = HostConfig::load(&args.config)?;
    let runtime = crate::daemon::load_runtime(plugin)?;
    crate::daemon::run(
        &config,
        runtime,
        |addr| {
            println!("ledgerlink listening on http://{addr}");
            let _ = std::io::stdout().flush();
        },
        crate::daemon::shutdown_signal(),
    )
    .await?;
    Ok(0)
}

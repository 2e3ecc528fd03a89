//! `ledgerlink status --config FILE [--json]`.

use crate::config::HostConfig;
use crate::runtime::{Limits, Runtime};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Arguments of `ledgerlink status`.
#[derive(clap::Args)]
pub struct StatusArgs {
    /// The config file.
    #[arg(long, short, value_name = "FILE", default_value = "ledgerlink.toml")]
    config: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Prints the status of every tenant.
pub async fn run(plugin: Option<&Path>, args: StatusArgs) -> Result<i32> {
    let config = HostConfig::load(&args.config)?;
    let db = config.store.open()?;
    let runtime = match plugin {
        Some(path) => Runtime::from_file(path, Limits::default())?,
        None => Runtime::embedded(Limits::default())?,
    };
    let statuses = crate::status::collect(&config, &db, &runtime).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
    } else {
        print!("{}", crate::status::render_text(&statuses));
    }
    Ok(0)
}

//! `ledgerlink init [PATH]`: writes a commented example config.

use anyhow::{bail, Result};
use std::path::PathBuf;

/// Arguments of `ledgerlink init`.
#[derive(clap::Args)]
pub struct InitArgs {
    /// Where to write it.
    #[arg(default_value = "ledgerlink.toml")]
    path: PathBuf,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
}

/// Writes the example config.
pub fn run(args: InitArgs) -> Result<i32> {
    if args.path.exists() && !args.force {
        bail!(
            "{} exists; pass --force to overwrite it",
            args.path.display()
        );
    }
    std::fs::write(&args.path, crate::config::EXAMPLE)?;
    println!("wrote {}", args.path.display());
    Ok(0)
}

//! `ledgerlink call <function> [--input FILE|-]`.

use crate::runtime::{Limits, Runtime};
use crate::tenant::TenantCaps;
use anyhow::{Context, Result};
use std::io::Read;
use std::path::Path;

/// Arguments of `ledgerlink call`.
#[derive(clap::Args)]
pub struct CallArgs {
    /// The mapping function, e.g. `build-invoice`.
    function: String,
    /// The input JSON file (`-` or absent: standard input). `{"input": ...}` wrappers are accepted.
    #[arg(long, short, value_name = "FILE")]
    input: Option<String>,
    /// Print compact JSON instead of pretty JSON.
    #[arg(long)]
    compact: bool,
}

/// Exit code when the function answered with an error value (printed as `{"err": ...}`).
pub const EXIT_MAPPING_ERROR: i32 = 3;

/// Runs the command.
pub async fn run(plugin: Option<&Path>, args: CallArgs) -> Result<i32> {
    let (text, source) = match args.input.as_deref() {
        None | Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading standard input")?;
            (text, "standard input".to_string())
        }
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
            path.to_string(),
        ),
    };
    let input = crate::runtime::dynamic::parse_json(&text, &source)?;
    let runtime = match plugin {
        Some(path) => Runtime::from_file(path, Limits::default())?,
        None => Runtime::embedded(Limits::default())?,
    };
    let output = runtime
        .call_json(&TenantCaps::ephemeral("cli")?, &args.function, &input)
        .await?;
    let printed = if args.compact {
        serde_json::to_string(&output)?
    } else {
        serde_json::to_string_pretty(&output)?
    };
    println!("{printed}");
    Ok(if output.get("err").is_some() {
        EXIT_MAPPING_ERROR
    } else {
        0
    })
}

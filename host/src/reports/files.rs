//! Writing a stored report as files: `reconciliation-<start>_<end>.<ext>` or
//! `aging-<as-of>.<ext>`, one per format, into a directory (made when missing). Used by
//! `ledgerlink report`, by the daemon after each scheduled run and by `demo`.

use super::{aging, reconcile};
use crate::runtime::exports::ledgerlink::sync::flows::{ReportKind, StoredReport};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// A file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A self-contained page with the chart and the tables.
    Html,
    /// One row per record, then the totals.
    Csv,
    /// The report as the component stored it, amounts as exact decimal text.
    Json,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::Html, Format::Csv, Format::Json];

    fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// The report kind of the job that stores it (`reconcile`, `aging`), if it stores one.
pub fn kind_of_job(job: &str) -> Option<ReportKind> {
    match job {
        "reconcile" => Some(ReportKind::Reconcile),
        "aging" => Some(ReportKind::Aging),
        _ => None,
    }
}

/// The file name without its extension.
pub fn stem(report: &StoredReport) -> String {
    match report {
        StoredReport::Reconcile(r) => format!("reconciliation-{}_{}", r.period_start, r.period_end),
        StoredReport::Aging(r) => format!("aging-{}", r.as_of),
    }
}

/// The report in `format`; amounts in `currency`.
pub fn render(report: &StoredReport, format: Format, currency: &str) -> Result<String> {
    Ok(match (report, format) {
        (StoredReport::Reconcile(r), Format::Html) => reconcile::html(r, currency),
        (StoredReport::Reconcile(r), Format::Csv) => reconcile::csv(r),
        (StoredReport::Reconcile(r), Format::Json) => {
            serde_json::to_string_pretty(&reconcile::json(r))? + "\n"
        }
        (StoredReport::Aging(r), Format::Html) => aging::html(r, currency),
        (StoredReport::Aging(r), Format::Csv) => aging::csv(r),
        (StoredReport::Aging(r), Format::Json) => {
            serde_json::to_string_pretty(&aging::json(r))? + "\n"
        }
    })
}

/// Writes `report` in each of `formats` into `dir`; the paths written.
pub fn write(
    dir: &Path,
    report: &StoredReport,
    formats: &[Format],
    currency: &str,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stem = stem(report);
    let mut written = Vec::new();
    for format in formats {
        let path = dir.join(format!("{stem}.{}", format.extension()));
        std::fs::write(&path, render(report, *format, currency)?)
            .with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

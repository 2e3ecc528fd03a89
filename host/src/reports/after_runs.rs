//! The daemon's reports: after each run of `reconcile` or `aging` (cron, retry, run-later),
//! the report the run stored is written as HTML, CSV and JSON into `<dir>/<tenant>/`, read
//! through the component's `report` export like `ledgerlink report` reads it. A failure to
//! write is logged and never fails the run.

use super::currency_of;
use super::files::{self, Format};
use crate::flow_calls;
use crate::runtime::exports::ledgerlink::sync::flows::RunReport;
use crate::runtime::Runtime;
use crate::scheduler::RunObserver;
use crate::tenant::TenantCaps;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Writes each tenant's reports after their jobs run.
pub struct ReportWriter {
    runtime: Runtime,
    tenants: BTreeMap<String, TenantCaps>,
    dir: PathBuf,
}

impl ReportWriter {
    /// Into `dir`, for `tenants` (the runner's, so the same capabilities read the report).
    pub fn new(runtime: Runtime, tenants: BTreeMap<String, TenantCaps>, dir: PathBuf) -> Self {
        Self {
            runtime,
            tenants,
            dir,
        }
    }
}

impl RunObserver for ReportWriter {
    fn finished(&self, tenant: &str, job: &str, _report: &RunReport) {
        let (Some(kind), Some(caps)) = (files::kind_of_job(job), self.tenants.get(tenant)) else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (runtime, caps, dir) = (self.runtime.clone(), caps.clone(), self.dir.join(tenant));
        handle.spawn(async move {
            let written = match flow_calls::report(&runtime, &caps, kind, None).await {
                Ok(Some(report)) => {
                    files::write(&dir, &report, &Format::ALL, &currency_of(&caps))
                }
                Ok(None) => return,
                Err(e) => Err(e),
            };
            match written {
                Ok(paths) => tracing::info!(tenant = %caps.id, files = ?paths, "report written"),
                Err(e) => tracing::warn!(tenant = %caps.id, error = %format!("{e:#}"), "writing the report failed"),
            }
        });
    }
}

//! Calling the component's flows for a tenant: a fresh instance per job or webhook, under the
//! runtime's limits. The outer `Result` is the host's (a trap, a limit, a missing export); the
//! inner one is the guest's own answer.

use crate::runtime::exports::ledgerlink::sync::flows::{
    FlowError, FlowStatus, Job, ReportKind, RunReport, StoredReport,
};
use crate::runtime::Runtime;
use crate::tenant::TenantCaps;
use anyhow::Result;

/// The guest's answer to a job or a webhook.
pub type FlowResult = std::result::Result<RunReport, FlowError>;

/// The jobs the component offers and their default schedules.
pub async fn describe(runtime: &Runtime, tenant: &TenantCaps) -> Result<Vec<Job>> {
    let jobs: Vec<Job> = runtime
        .with_timeout("describe", async {
            let (mut store, plugin) = runtime.instantiate(tenant).await?;
            Ok(plugin
                .ledgerlink_sync_flows()
                .call_describe(&mut store)
                .await?)
        })
        .await?;
    runtime.remember_jobs(jobs.iter().map(|j| j.name.clone()).collect());
    Ok(jobs)
}

/// The component's progress and trigger cursors for `tenant` (its `status` export): how the host
/// learns them without reading the component's storage.
pub async fn status(runtime: &Runtime, tenant: &TenantCaps) -> Result<FlowStatus> {
    runtime
        .with_timeout("status", async {
            let (mut store, plugin) = runtime.instantiate(tenant).await?;
            Ok(plugin
                .ledgerlink_sync_flows()
                .call_status(&mut store)
                .await?)
        })
        .await
}

/// The report of `kind` the component stored for `tenant` (its `report` export): the newest, or
/// the one of `period`. The host never reads the component's storage itself.
pub async fn report(
    runtime: &Runtime,
    tenant: &TenantCaps,
    kind: ReportKind,
    period: Option<&str>,
) -> Result<Option<StoredReport>> {
    let answer = runtime
        .with_timeout("report", async {
            let (mut store, plugin) = runtime.instantiate(tenant).await?;
            Ok(plugin
                .ledgerlink_sync_flows()
                .call_report(&mut store, kind, period)
                .await?)
        })
        .await?;
    answer.map_err(|e| anyhow::anyhow!("tenant {}: {e}", tenant.id))
}

/// Runs job `name` with JSON `args` for `tenant`.
pub async fn run_job(
    runtime: &Runtime,
    tenant: &TenantCaps,
    name: &str,
    args: &str,
) -> Result<FlowResult> {
    runtime
        .with_timeout(name, async {
            let (mut store, plugin) = runtime.instantiate(tenant).await?;
            Ok(plugin
                .ledgerlink_sync_flows()
                .call_run_job(&mut store, name, args)
                .await?)
        })
        .await
}

/// Hands a verified webhook body from `source` to the component.
pub async fn on_webhook(
    runtime: &Runtime,
    tenant: &TenantCaps,
    source: &str,
    body: &str,
) -> Result<FlowResult> {
    runtime
        .with_timeout("on-webhook", async {
            let (mut store, plugin) = runtime.instantiate(tenant).await?;
            Ok(plugin
                .ledgerlink_sync_flows()
                .call_on_webhook(&mut store, source, body)
                .await?)
        })
        .await
}

/// A one-line summary of a flow's answer, for logs and the CLI.
pub fn summary(job: &str, result: &FlowResult) -> String {
    match result {
        Ok(r) => format!(
            "{job}: {} created, {} updated, {} skipped, {} failed",
            r.created, r.updated, r.skipped, r.failed
        ),
        Err(FlowError::NotAvailable(m)) => format!("{job}: not available: {m}"),
        Err(FlowError::InvalidArgs(m)) => format!("{job}: invalid arguments: {m}"),
        Err(FlowError::Throttled(at)) => format!("{job}: throttled, retry at {at}"),
        Err(FlowError::Failed(m)) => format!("{job}: failed: {m}"),
    }
}

//! Running one job for one tenant, at most once at a time per tenant and job, and under the
//! tenant's lease (one writer per tenant): the run is recorded in `job_runs`, its failed
//! records go to the error ledger, and a job that answers `throttled(T)` is scheduled again at
//! T (through the `run-later` table).

use super::lease::{Lease, Leases};
use super::ledger::ErrorLedger;
use super::ledger::{MAX_ATTEMPTS, RUN_RECORD};
use super::ledger_mirror::LedgerMirror;
use super::runs::JobRuns;
use crate::alerts::{self, Alerts, Kind as AlertKind};
use crate::cluster::Ownership;
use crate::flow_calls::{self, FlowResult};
use crate::metrics::{self, Metrics};
use crate::runtime::exports::ledgerlink::sync::flows::{FlowError, Outcome, RunReport};
use crate::runtime::Runtime;
use crate::tenant::TenantCaps;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Told of every report a run or a webhook answered (after it is recorded): how `demo` tallies
/// what the scheduler's runs did without a second loop of its own.
pub trait RunObserver: Send + Sync {
    /// `job` (or `webhook:<source>`) of `tenant` answered `report`.
    fn finished(&self, tenant: &str, job: &str, report: &RunReport);
}

/// What became of a request to run a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunResult {
    /// The same job of the same tenant was already running: this trigger was skipped.
    Skipped,
    /// It ran; the `job_runs` row, its status and summary.
    Finished {
        /// `job_runs.id`.
        run_id: i64,
        /// `job_runs.status`.
        status: String,
        /// `job_runs.summary`.
        summary: String,
    },
}

/// "Not now", as the error of [`Runner::run_webhook`] when the component answered
/// `throttled(until)`: the inbox worker keeps the row pending until `until` instead of failing it.
#[derive(Debug, thiserror::Error)]
#[error("postponed until {until}: {reason}")]
pub struct Postpone {
    /// When to try again.
    pub until: DateTime<Utc>,
    /// Why.
    pub reason: String,
}

/// The right to run one (tenant, job); dropping it frees the slot.
pub struct Reservation {
    key: (String, String),
    running: Arc<Mutex<HashSet<(String, String)>>>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

/// Runs jobs for the configured tenants.
pub struct Runner {
    runtime: Runtime,
    tenants: BTreeMap<String, TenantCaps>,
    runs: JobRuns,
    ledger: ErrorLedger,
    leases: Leases,
    alerts: Option<Alerts>,
    observer: Option<Arc<dyn RunObserver>>,
    mirror: Option<LedgerMirror>,
    running: Arc<Mutex<HashSet<(String, String)>>>,
    metrics: Metrics,
    /// The tenants this host serves, when it shares the store with other hosts (`run`).
    ownership: std::sync::OnceLock<Ownership>,
}

/// A run for a tenant this host no longer serves (another host took it over): nothing ran.
#[derive(Debug, thiserror::Error)]
#[error("tenant {tenant} is served by another host now; {job} did not run here")]
pub struct Moved {
    /// The tenant.
    pub tenant: String,
    /// The job that did not run.
    pub job: String,
}

/// The status stored for a flow's answer.
pub fn status_of(result: &Result<FlowResult>) -> &'static str {
    match result {
        Ok(Ok(_)) => "ok",
        Ok(Err(FlowError::Throttled(_))) => "throttled",
        Ok(Err(FlowError::NotAvailable(_))) => "not-available",
        Ok(Err(FlowError::InvalidArgs(_))) => "invalid-args",
        Ok(Err(FlowError::Failed(_))) => "failed",
        Err(_) => "error",
    }
}

impl Runner {
    /// A runner over `tenants` (built once: their pacing budgets live in them).
    pub fn new(
        runtime: Runtime,
        tenants: BTreeMap<String, TenantCaps>,
        db: &crate::db::Database,
        metrics: Metrics,
    ) -> Result<Self> {
        Ok(Self {
            runtime,
            tenants,
            runs: JobRuns::new(db.clone())?,
            ledger: ErrorLedger::new(db.clone())?,
            leases: Leases::new(db.clone())?,
            alerts: None,
            observer: None,
            mirror: None,
            running: Arc::default(),
            metrics,
            ownership: std::sync::OnceLock::new(),
        })
    }

    /// Runs only for the tenants `ownership` holds (set once, by the daemon).
    pub fn set_ownership(&self, ownership: Ownership) {
        let _ = self.ownership.set(ownership);
    }

    /// Whether a live run (of this host or another) holds `tenant`'s run lease.
    pub fn run_in_progress(&self, tenant: &str) -> Result<bool> {
        self.leases.held_by_live(tenant)
    }

    /// Whether this host serves `tenant` (always, without ownership).
    pub fn serves(&self, tenant: &str) -> bool {
        self.ownership.get().is_none_or(|o| o.owns(tenant))
    }

    /// Raises `alerts` for what a person must know after a run (a job failed as a whole, a
    /// record's retries ran out, the Salesforce quota at its reserve).
    pub fn with_alerts(mut self, alerts: Alerts) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// Tells `observer` of every report (see [`RunObserver`]).
    pub fn with_observer(mut self, observer: Arc<dyn RunObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Mirrors the error ledger into Salesforce after each run (see [`LedgerMirror`]).
    pub fn with_ledger_mirror(mut self, mirror: LedgerMirror) -> Self {
        self.mirror = Some(mirror);
        self
    }

    /// Asks for a mirror pass for `tenant` (in the background: a slow or refusing Salesforce
    /// never holds up the run).
    fn mirror(&self, tenant: &str) {
        if let Some(mirror) = &self.mirror {
            mirror.request(tenant);
        }
    }

    fn observe(&self, tenant: &str, job: &str, result: &Result<FlowResult>) {
        if let (Some(observer), Ok(Ok(report))) = (&self.observer, result) {
            observer.finished(tenant, job, report);
        }
    }

    /// After a run of `job`: its alert raised or cleared, exhausted records and the quota
    /// alerted.
    fn alert(
        &self,
        tenant: &str,
        job: &str,
        status: &str,
        summary: &str,
        exhausted: &[(String, String, String)],
    ) {
        let Some(alerts) = &self.alerts else {
            return;
        };
        let key = format!("job:{job}");
        if matches!(status, "failed" | "error" | "invalid-args") {
            alerts.raise_and_flush(
                tenant,
                &key,
                AlertKind::JobFailed,
                &format!("Ledgerlink {tenant}: {summary}"),
            );
        } else if status == "ok" {
            if let Err(e) = alerts.clear(tenant, &key) {
                tracing::warn!(tenant, error = %format!("{e:#}"), "clearing an alert failed");
            }
        }
        for (entity, record, detail) in exhausted {
            alerts.raise_and_flush(
                tenant,
                &alerts::exhausted_key(job, entity, record),
                AlertKind::RetriesExhausted,
                &format!("Ledgerlink {tenant}: {entity} {record} failed {MAX_ATTEMPTS} times in {job} and is no longer retried automatically: {detail} (`ledgerlink errors retry` or `dismiss`)"),
            );
        }
        let quota = self
            .tenants
            .get(tenant)
            .and_then(|caps| caps.connections.get("salesforce"))
            .and_then(|c| c.pacer.as_ref())
            .and_then(|p| Some((p.usage(&p.lane_of(""))?, p.config().daily_reserve)));
        if let Some(((used, limit), reserve)) = quota {
            if limit.saturating_sub(used) <= reserve {
                alerts.raise_and_flush(
                    tenant,
                    &alerts::quota_key(Utc::now()),
                    AlertKind::QuotaReserve,
                    &format!("Ledgerlink {tenant}: Salesforce daily API use is at {used} of {limit}; calls are paused to keep the last {reserve} for the org's other users until the quota frees up"),
                );
            }
        }
    }

    /// The tenants.
    pub fn tenants(&self) -> &BTreeMap<String, TenantCaps> {
        &self.tenants
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The `job_runs` table.
    pub fn runs(&self) -> &JobRuns {
        &self.runs
    }

    /// The error ledger.
    pub fn ledger(&self) -> &ErrorLedger {
        &self.ledger
    }

    /// Takes the (tenant, job) slot, or `None` while a run of it is in progress.
    pub fn reserve(&self, tenant: &str, job: &str) -> Option<Reservation> {
        let key = (tenant.to_string(), job.to_string());
        let fresh = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone());
        fresh.then(|| Reservation {
            key,
            running: self.running.clone(),
        })
    }

    /// Runs `job` unless it is already running for `tenant`.
    pub async fn run(
        &self,
        tenant: &str,
        job: &str,
        args: &str,
        trigger: &str,
    ) -> Result<RunResult> {
        let Some(reservation) = self.reserve(tenant, job) else {
            tracing::info!(
                tenant,
                job,
                trigger,
                "job already running; this trigger is skipped"
            );
            self.metrics.inc(
                metrics::CALLS,
                &[("tenant", tenant), ("what", job), ("outcome", "skipped")],
            );
            return Ok(RunResult::Skipped);
        };
        self.run_reserved(reservation, args, trigger).await
    }

    /// Runs the reserved job.
    pub async fn run_reserved(
        &self,
        reservation: Reservation,
        args: &str,
        trigger: &str,
    ) -> Result<RunResult> {
        let (tenant, job) = (reservation.key.0.clone(), reservation.key.1.clone());
        let caps = self
            .tenants
            .get(&tenant)
            .with_context(|| format!("no tenant {tenant:?} in the config"))?;
        let _lease = self.lease(&tenant, &job).await?;
        let run_id = self.runs.start(&tenant, &job, args, trigger, Utc::now())?;
        tracing::info!(tenant = %tenant, job = %job, trigger, run_id, "job started");
        let started = Instant::now();
        let result = flow_calls::run_job(&self.runtime, caps, &job, args).await;
        let now = Utc::now();
        let status = status_of(&result);
        let summary = match &result {
            Ok(flow) => flow_calls::summary(&job, flow),
            Err(e) => format!("{job}: {e:#}"),
        };
        // The run happened: whatever fails from here is logged, and the run is still recorded
        // as finished.
        let mut exhausted = Vec::new();
        match &result {
            Ok(Ok(report)) => match self.ledger.record(&tenant, &job, report, now) {
                Ok(update) => {
                    let whole = serde_json::from_str::<serde_json::Value>(args)
                        .map_or(true, |a| a.get("only").is_none());
                    let stopped_early = report
                        .records
                        .iter()
                        .any(|r| r.record_id == RUN_RECORD && r.outcome == Outcome::Failed);
                    if whole && !stopped_early {
                        if let Err(e) = self.ledger.resolve_run(&tenant, &job, now) {
                            tracing::warn!(tenant = %tenant, job = %job, error = %format!("{e:#}"),
                                "resolving the earlier whole-run failure failed");
                        }
                    }
                    if update.failed + update.resolved > 0 {
                        tracing::info!(tenant = %tenant, job = %job, failed = update.failed,
                            resolved = update.resolved, "error ledger updated");
                    }
                    exhausted = update.exhausted;
                }
                Err(e) => {
                    tracing::error!(tenant = %tenant, job = %job, error = %format!("{e:#}"),
                        "recording the run's record outcomes in the error ledger failed");
                    self.metrics
                        .inc(metrics::ERRORS, &[("tenant", &tenant), ("what", "ledger")]);
                }
            },
            Ok(Err(FlowError::Throttled(at))) => {
                let when = throttled_until(at, now);
                match caps.schedule.schedule(&tenant, &job, args, when) {
                    Ok(_) => tracing::info!(tenant = %tenant, job = %job,
                        retry_at = %when.to_rfc3339(), "job throttled; scheduled again"),
                    Err(e) => tracing::error!(tenant = %tenant, job = %job,
                        error = %format!("{e:#}"), "could not schedule the throttled job again"),
                }
            }
            Err(e) => {
                tracing::error!(tenant = %tenant, job = %job, error = %format!("{e:#}"), "job failed in the host");
                self.metrics
                    .inc(metrics::ERRORS, &[("tenant", &tenant), ("what", "job")]);
            }
            Ok(Err(_)) => {}
        }
        self.runs.finish(run_id, status, &summary, now)?;
        self.observe(&tenant, &job, &result);
        self.mirror(&tenant);
        self.alert(&tenant, &job, status, &summary, &exhausted);
        self.metrics.inc(
            metrics::CALLS,
            &[("tenant", &tenant), ("what", &job), ("outcome", status)],
        );
        self.metrics.observe(
            metrics::CALL_SECONDS,
            &[("tenant", &tenant), ("what", &job)],
            started.elapsed(),
        );
        tracing::info!(tenant = %tenant, job = %job, run_id, status, summary = %summary, "job finished");
        drop(reservation);
        Ok(RunResult::Finished {
            run_id,
            status: status.to_string(),
            summary,
        })
    }

    /// The tenant's lease for `job`, waiting while another run holds it.
    async fn lease(&self, tenant: &str, job: &str) -> Result<Lease> {
        let lease = self
            .leases
            .acquire(tenant, job, None, |busy| {
                tracing::info!(tenant, job, holder = %busy.holder, running = %busy.job,
                    "waiting for the tenant's lease");
            })
            .await?;
        let lease = lease?;
        // The tenant may have moved to another host while this run waited: checked in the
        // store, under the fence this host holds it by.
        if let Some(ownership) = self.ownership.get().cloned() {
            let t = tenant.to_string();
            let holds = tokio::task::spawn_blocking(move || ownership.still_holds(&t)).await??;
            if !holds {
                return Err(Moved {
                    tenant: tenant.to_string(),
                    job: job.to_string(),
                }
                .into());
            }
        }
        Ok(lease)
    }

    /// Hands a verified webhook body to the component, recorded in `job_runs` as job
    /// `webhook:<source>`. `throttled(T)` is a [`Postpone`] (the inbox row waits until T); any
    /// other answer but a report is an error (the row fails).
    pub async fn run_webhook(&self, tenant: &str, source: &str, body: &str) -> Result<()> {
        let caps = self
            .tenants
            .get(tenant)
            .with_context(|| format!("no tenant {tenant:?} in the config"))?;
        let job = format!("webhook:{source}");
        let _lease = self.lease(tenant, &job).await?;
        let run_id = self.runs.start(tenant, &job, "{}", "webhook", Utc::now())?;
        let started = Instant::now();
        let result = flow_calls::on_webhook(&self.runtime, caps, source, body).await;
        let status = status_of(&result);
        let summary = match &result {
            Ok(flow) => flow_calls::summary(&job, flow),
            Err(e) => format!("{job}: {e:#}"),
        };
        let now = Utc::now();
        if let Ok(Ok(report)) = &result {
            // Failed records go to the ledger under the job the component names as having
            // handled them (its retry is that job with `only`), else under `webhook:<source>`,
            // which is not re-run automatically.
            let ledger_job = if report.job.is_empty() {
                job.as_str()
            } else {
                report.job.as_str()
            };
            if let Err(e) = self.ledger.record(tenant, ledger_job, report, now) {
                tracing::error!(tenant, job = %job, error = %format!("{e:#}"),
                    "recording the webhook's record outcomes in the error ledger failed");
            }
        }
        self.runs.finish(run_id, status, &summary, now)?;
        self.observe(tenant, &job, &result);
        self.mirror(tenant);
        self.alert(tenant, &job, status, &summary, &[]);
        self.metrics.inc(
            metrics::CALLS,
            &[("tenant", tenant), ("what", &job), ("outcome", status)],
        );
        self.metrics.observe(
            metrics::CALL_SECONDS,
            &[("tenant", tenant), ("what", &job)],
            started.elapsed(),
        );
        match result {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(FlowError::Throttled(at))) => Err(anyhow::Error::new(Postpone {
                until: throttled_until(&at, now),
                reason: summary,
            })),
            _ => anyhow::bail!("{summary}"),
        }
    }
}

/// The time a `throttled(T)` answer names, or a minute from now when T is not RFC 3339 or is
/// in the past.
pub fn throttled_until(at: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    match DateTime::parse_from_rfc3339(at) {
        Ok(t) if t.with_timezone(&Utc) > now => t.with_timezone(&Utc),
        Ok(_) => now,
        Err(_) => {
            tracing::warn!(at, "throttled() time is not RFC 3339; retrying in a minute");
            now + chrono::Duration::minutes(1)
        }
    }
}

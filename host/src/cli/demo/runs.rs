//! The demo's runs go through the scheduler's runner, as the daemon's do: each is recorded in
//! `job_runs`, its failed records go to the error ledger, a throttled job to `run-later`, and
//! the retries are the scheduler's (`retry` and `run-later` triggers). Only the clock differs:
//! the demo ticks the scheduler at a time past every back-off, a second apart (the emulators'
//! rate window is a second, not QBO's minute), so a step ends when nothing is left to retry.

use super::tally::Tally;
use crate::caps::schedule::{ScheduleBackend, StoreSchedule};
use crate::db::Database;
use crate::emulated_company::TENANT;
use crate::flow_calls;
use crate::metrics::Metrics;
use crate::runtime::exports::ledgerlink::sync::flows::RunReport;
use crate::runtime::Runtime;
use crate::scheduler::{RunObserver, RunResult, Runner, Scheduler};
use crate::tenant::TenantCaps;
use crate::webhooks::{worker, InboxItem};
use anyhow::{bail, Context, Result};
use chrono::Utc;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Rounds of retries a step may take before the demo gives up on it (the ledger stops retrying
/// a record after its tenth attempt, so this is never the limit that ends a step).
const SETTLE_ROUNDS: usize = 15;

/// What the runner tells the demo: every report of the step in progress, first run and
/// retries alike.
#[derive(Default)]
struct StepTally(Mutex<Tally>);

impl StepTally {
    fn take(&self) -> Tally {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl RunObserver for StepTally {
    fn finished(&self, _tenant: &str, _job: &str, report: &RunReport) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).add(report);
    }
}

/// The demo tenant's scheduler, runner and run-later table.
pub struct DemoRuns {
    scheduler: Scheduler,
    later: StoreSchedule,
    tally: Arc<StepTally>,
}

impl DemoRuns {
    /// A runner for the demo tenant with every cron schedule off: the demo runs each job
    /// itself, in order, and leaves the retries to the scheduler.
    pub async fn new(
        runtime: Runtime,
        tenant: TenantCaps,
        db: &Database,
        metrics: Metrics,
    ) -> Result<Self> {
        let jobs = flow_calls::describe(&runtime, &tenant).await?;
        let off: BTreeMap<String, String> = jobs
            .into_iter()
            .map(|j| (j.name, "off".to_string()))
            .collect();
        let tally = Arc::new(StepTally::default());
        let tenants = BTreeMap::from([(TENANT.to_string(), tenant)]);
        let runner = Runner::new(runtime, tenants, db, metrics)?.with_observer(tally.clone());
        let scheduler = Scheduler::new(
            Arc::new(runner),
            db,
            &BTreeMap::from([(TENANT.to_string(), off)]),
        )
        .await?;
        Ok(Self {
            scheduler,
            later: StoreSchedule::new(db.clone()),
            tally,
        })
    }

    /// Runs `job` once, then its retries until none is due; the tally of every attempt.
    pub async fn step(&self, job: &str, args: Value) -> Result<Tally> {
        self.tally.take();
        let runner = self.scheduler.runner();
        match runner.run(TENANT, job, &args.to_string(), "demo").await? {
            RunResult::Finished {
                status, summary, ..
            } if !matches!(status.as_str(), "ok" | "throttled") => bail!("{summary}"),
            RunResult::Skipped => bail!("{job} was already running"),
            RunResult::Finished { .. } => {}
        }
        self.settle(job).await?;
        Ok(self.tally.take())
    }

    /// The inbox handler the daemon uses: each webhook through the runner (`webhook:<source>`
    /// in `job_runs`, failed records in the ledger, a throttled one postponed in the inbox).
    pub fn webhook_handler(&self) -> Arc<dyn worker::InboxHandler> {
        let runner = self.scheduler.runner().clone();
        Arc::new(move |item: InboxItem| {
            let runner = runner.clone();
            async move {
                let body = String::from_utf8(item.body).context("webhook body is not UTF-8")?;
                runner.run_webhook(&item.tenant, &item.source, &body).await
            }
        })
    }

    /// After the webhooks of a step were drained: their retries, and the step's tally.
    pub async fn finish_webhooks(&self) -> Result<Tally> {
        self.settle("webhooks").await?;
        Ok(self.tally.take())
    }

    /// Ticks the scheduler until no retry or run-later of the tenant is pending.
    async fn settle(&self, what: &str) -> Result<()> {
        let runner = self.scheduler.runner();
        for _ in 0..SETTLE_ROUNDS {
            let retrying = runner
                .ledger()
                .list(Some(TENANT), Some("open"))?
                .iter()
                .any(|e| e.next_retry.is_some());
            if !retrying && self.later.pending(TENANT)? == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            // Past the longest back-off (6 h), so every pending retry is due now.
            self.scheduler
                .tick(Utc::now() + chrono::Duration::hours(7))
                .await?;
            self.scheduler.wait_idle(Duration::from_secs(600)).await;
        }
        bail!("{what}: retries still pending after {SETTLE_ROUNDS} rounds")
    }
}

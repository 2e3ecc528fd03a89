//! The scheduler: what runs when, without a person.
//!
//! | trigger | source | rule |
//! |---|---|---|
//! | `cron` | [`spec`]: `describe`'s default schedules, overridden or turned off by config | slots missed while the host was down run once at start, not once per slot ([`slots`]) |
//! | `run-later` | the guest's `schedule.run-later`, and jobs that answered `throttled(T)` | claimed by one host while it runs, completed only after the run, so a crash runs it again when the claim runs out |
//! | `retry` | the [`ledger`]'s due retryable errors | `run-job(job, {"only": [ids]})` |
//! | `resume` | a cron run interrupted by a crash (`job_runs` still `running` at start) | once, unless a missed slot runs anyway |
//!
//! One run per tenant and job at a time ([`runner`]): a trigger that finds the job running is
//! skipped (cron, retries) or left pending (run-later). One writer per tenant ([`lease`]): a
//! run of another job (or a webhook) for the same tenant waits for the tenant's lease, across
//! every process that shares the store. Hosts sharing a store tick the same jobs: a cron slot is
//! taken by one host only ([`slots`]), a run-later row claimed by one host only, a due retry
//! claimed by one host only ([`ledger`]).

pub mod lease;
pub mod ledger;
pub mod ledger_mirror;
pub mod runner;
pub mod runs;
pub mod slots;
pub mod spec;
pub mod stagger;

pub use ledger::ErrorLedger;
pub use ledger_mirror::LedgerMirror;
pub use runner::{Moved, Postpone, RunObserver, RunResult, Runner};
pub use runs::JobRuns;

use crate::caps::schedule::{ScheduleBackend, StoreSchedule, CLAIM_LEASE};
use crate::db::Database;
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use slots::{latest_due, CronSlots};
use spec::Cron;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;

/// One recurring job of one tenant.
#[derive(Clone)]
pub struct CronJob {
    /// Tenant.
    pub tenant: String,
    /// Job name.
    pub job: String,
    /// When.
    pub cron: Cron,
    /// How long after each slot it fires ([`stagger`]; zero for a schedule from the config).
    pub offset: chrono::Duration,
}

/// What one [`Scheduler::tick`] started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// (tenant, job, trigger) of every run started.
    pub started: Vec<(String, String, String)>,
    /// (tenant, job) of cron slots skipped because the job was still running.
    pub skipped: Vec<(String, String)>,
}

/// The scheduler of a host. Share it in an `Arc`.
pub struct Scheduler {
    runner: Arc<Runner>,
    cron: Vec<CronJob>,
    slots: CronSlots,
    later: StoreSchedule,
    /// run-later rows this host claimed and handed to a task not finished yet, with when each
    /// was due (what it goes back to if the run is dropped).
    dispatched: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
    tasks: tokio::sync::Mutex<JoinSet<()>>,
    /// The tenants this scheduler has taken on (at start, or since, from another host).
    adopted: Mutex<BTreeSet<String>>,
}

impl Scheduler {
    /// A scheduler for `runner`'s tenants: each tenant's jobs are described by the component and
    /// `overrides[tenant]` (`job = "cron"` or `"off"`) applied.
    pub async fn new(
        runner: Arc<Runner>,
        db: &Database,
        overrides: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Result<Self> {
        let mut cron = Vec::new();
        for (tenant, caps) in runner.tenants() {
            let described = crate::flow_calls::describe(runner.runtime(), caps).await?;
            let empty = BTreeMap::new();
            let effective = spec::effective(&described, overrides.get(tenant).unwrap_or(&empty))
                .map_err(|e| e.context(format!("tenant {tenant}")))?;
            for (job, c) in effective {
                let offset = stagger::job_offset(tenant, &job, &c, overrides.get(tenant));
                tracing::info!(tenant = %tenant, job = %job, cron = %c.source(), offset_secs = offset.num_seconds(), "job scheduled");
                cron.push(CronJob {
                    tenant: tenant.clone(),
                    job,
                    cron: c,
                    offset,
                });
            }
        }
        Ok(Self {
            runner,
            cron,
            slots: CronSlots::new(db.clone())?,
            later: StoreSchedule::new(db.clone()),
            dispatched: Arc::default(),
            tasks: tokio::sync::Mutex::new(JoinSet::new()),
            adopted: Mutex::default(),
        })
    }

    /// The recurring jobs.
    pub fn cron_jobs(&self) -> &[CronJob] {
        &self.cron
    }

    /// The runner.
    pub fn runner(&self) -> &Arc<Runner> {
        &self.runner
    }

    /// Call once at start: jobs never scheduled before start counting from `now` (no catch-up
    /// for a first start), and the tenants this host serves taken on ([`Self::adopt`]).
    pub async fn start(&self, now: DateTime<Utc>) -> Result<TickReport> {
        for job in &self.cron {
            self.slots.init(&job.tenant, &job.job, now)?;
        }
        self.adopt_new(&self.served(), now).await
    }

    /// The tenants this host serves now (all of them without ownership).
    fn served(&self) -> Vec<String> {
        self.runner
            .tenants()
            .keys()
            .filter(|t| self.runner.serves(t))
            .cloned()
            .collect()
    }

    /// Takes on the tenants this host serves now and had not taken on yet (all of them at
    /// start; later, those taken over from another host).
    async fn adopt_new(&self, served: &[String], now: DateTime<Utc>) -> Result<TickReport> {
        let served: BTreeSet<String> = served.iter().cloned().collect();
        let new: Vec<String> = {
            let mut adopted = self.adopted.lock().unwrap_or_else(|p| p.into_inner());
            let new = served.difference(&adopted).cloned().collect();
            *adopted = served;
            new
        };
        if new.is_empty() {
            return Ok(TickReport::default());
        }
        self.adopt(&new, now).await
    }

    /// Takes on `tenants`: their runs left `running` by a dead process (no live run holds the
    /// tenant's lease) are marked `interrupted` and interrupted cron runs are resumed (unless a
    /// missed slot will run anyway). A run still going on another host is left alone.
    async fn adopt(&self, tenants: &[String], now: DateTime<Utc>) -> Result<TickReport> {
        let mut report = TickReport::default();
        let mut idle = Vec::new();
        for tenant in tenants {
            if !self.runner.run_in_progress(tenant)? {
                idle.push(tenant.clone());
            }
        }
        let interrupted = self.runner.runs().interrupt_unfinished_of(now, &idle)?;
        let mut resumed = HashSet::new();
        for run in interrupted
            .into_iter()
            .filter(|r| r.trigger == "cron" || r.trigger == "resume")
        {
            let catching_up = match self
                .cron
                .iter()
                .find(|c| c.tenant == run.tenant && c.job == run.job)
            {
                Some(c) => {
                    let last = self.slots.last(&c.tenant, &c.job)?.unwrap_or(now);
                    latest_due(&c.cron, last, now - c.offset).is_some()
                }
                None => false,
            };
            if catching_up || !resumed.insert((run.tenant.clone(), run.job.clone())) {
                continue;
            }
            tracing::info!(tenant = %run.tenant, job = %run.job, "resuming a run interrupted by a stop");
            if self
                .spawn(&run.tenant, &run.job, run.args, "resume", None)
                .await
            {
                report.started.push((run.tenant, run.job, "resume".into()));
            }
        }
        Ok(report)
    }

    /// Starts what is due at `now`: cron slots, run-later schedules, error retries.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport> {
        // One reading of what this host serves for the whole tick.
        let tenants = self.served();
        let mut report = self.adopt_new(&tenants, now).await?;
        for job in &self.cron {
            // Another host serves it, and records its slots.
            if !tenants.contains(&job.tenant) {
                continue;
            }
            let last = self.slots.last(&job.tenant, &job.job)?.unwrap_or(now);
            // A slot fires `offset` after its time; the slot itself is what is recorded.
            let Some(slot) = latest_due(&job.cron, last, now - job.offset) else {
                continue;
            };
            if !self.slots.take(&job.tenant, &job.job, slot)? {
                tracing::debug!(tenant = %job.tenant, job = %job.job, %slot, "cron slot taken by another host");
                continue;
            }
            if self
                .spawn(&job.tenant, &job.job, "{}".into(), "cron", None)
                .await
            {
                report
                    .started
                    .push((job.tenant.clone(), job.job.clone(), "cron".into()));
            } else {
                tracing::info!(tenant = %job.tenant, job = %job.job, "cron slot skipped: the job is still running");
                report.skipped.push((job.tenant.clone(), job.job.clone()));
            }
        }
        // Only the tenants this host serves: another host claims the others' rows.
        for due in self.later.claim_due(now, &tenants, CLAIM_LEASE)? {
            let fresh = match self
                .dispatched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(due.id.clone())
            {
                Entry::Vacant(v) => {
                    v.insert(due.run_at);
                    true
                }
                Entry::Occupied(_) => false,
            };
            if !fresh {
                // Still running here (its claim ran out and came back to this host): the
                // running task renews and completes it.
                continue;
            }
            if self
                .spawn(
                    &due.tenant,
                    &due.job,
                    due.args.clone(),
                    "run-later",
                    Some(due.id.clone()),
                )
                .await
            {
                report
                    .started
                    .push((due.tenant, due.job, "run-later".into()));
            } else {
                // Busy: give it back, pending for a later tick.
                self.dispatched
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&due.id);
                self.later.release(&due.id, due.run_at)?;
            }
        }
        for batch in self.runner.ledger().claim_due_of(now, Some(&tenants))? {
            if !self.runner.tenants().contains_key(&batch.tenant) {
                continue;
            }
            let args = serde_json::json!({ "only": batch.record_ids }).to_string();
            if self
                .spawn(&batch.tenant, &batch.job, args, "retry", None)
                .await
            {
                report
                    .started
                    .push((batch.tenant, batch.job, "retry".into()));
            }
        }
        Ok(report)
    }

    /// Spawns a run if the (tenant, job) slot is free; false when it is busy.
    async fn spawn(
        &self,
        tenant: &str,
        job: &str,
        args: String,
        trigger: &'static str,
        later_id: Option<String>,
    ) -> bool {
        let Some(reservation) = self.runner.reserve(tenant, job) else {
            return false;
        };
        let runner = self.runner.clone();
        let later = self.later.clone();
        let dispatched = self.dispatched.clone();
        self.tasks.lock().await.spawn(async move {
            let run = runner.run_reserved(reservation, &args, trigger);
            let result = match &later_id {
                Some(id) => renewing(&later, id, run).await,
                None => run.await,
            };
            if let Err(e) = &result {
                tracing::error!(error = %format!("{e:#}"), trigger, "recording a run failed");
            }
            if let Some(id) = later_id {
                let run_at = dispatched
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
                let ended = match (&result, run_at) {
                    (Ok(_), _) => later.complete(&id).context("completing"),
                    // Not recorded: pending again, for a later tick.
                    (Err(_), Some(at)) => later.release(&id, at).map(drop).context("releasing"),
                    (Err(_), None) => Ok(()),
                };
                if let Err(e) = ended {
                    tracing::error!(error = %format!("{e:#}"), id, "ending a run-later claim");
                }
            }
        });
        true
    }

    /// Ticks every `every` until `shutdown` resolves; then waits up to `grace` for runs in
    /// progress. Runs still going after the grace are dropped: their `job_runs` rows stay
    /// `running` (resumed at the next start) and run-later rows stay pending.
    pub async fn run(&self, every: Duration, grace: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        match self.start(Utc::now()).await {
            Ok(r) if !r.started.is_empty() => {
                tracing::info!(resumed = r.started.len(), "scheduler started")
            }
            Ok(_) => tracing::info!(jobs = self.cron.len(), "scheduler started"),
            Err(e) => tracing::error!(error = %format!("{e:#}"), "scheduler start"),
        }
        loop {
            if let Err(e) = self.tick(Utc::now()).await {
                tracing::error!(error = %format!("{e:#}"), "scheduler tick");
            }
            self.reap().await;
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(every) => {}
            }
        }
        if !self.wait_idle(grace).await {
            tracing::warn!(?grace, "runs still in progress after the grace period were stopped; they run again at the next start");
        }
    }

    /// Collects finished tasks.
    async fn reap(&self) {
        let mut tasks = self.tasks.lock().await;
        while tasks.try_join_next().is_some() {}
    }

    /// Waits until no run is in progress, up to `grace`; true when idle. Aborts what is left.
    pub async fn wait_idle(&self, grace: Duration) -> bool {
        let mut tasks = self.tasks.lock().await;
        let idle =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} })
                .await
                .is_ok();
        if !idle {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
            // The dropped runs' run-later rows go back to pending at once, for the next start
            // (or another host) rather than when their claims run out.
            let dropped: Vec<_> = self
                .dispatched
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .drain()
                .collect();
            for (id, at) in dropped {
                if let Err(e) = self.later.release(&id, at) {
                    tracing::error!(error = %format!("{e:#}"), id, "giving back a run-later claim");
                }
            }
        }
        idle
    }
}

/// How often a run-later's claim is renewed while its run goes.
const RENEW_EVERY: Duration = Duration::from_secs(60);

/// Runs `run`, renewing the claim on run-later `id` every [`RENEW_EVERY`] until it ends.
async fn renewing<T>(later: &StoreSchedule, id: &str, run: impl Future<Output = T>) -> T {
    tokio::pin!(run);
    let mut every = tokio::time::interval(RENEW_EVERY);
    every.tick().await;
    loop {
        tokio::select! {
            out = &mut run => return out,
            _ = every.tick() => match later.renew(id, Utc::now() + CLAIM_LEASE) {
                Ok(true) => {}
                Ok(false) => tracing::warn!(id, "a run-later's claim was lost while it ran"),
                Err(e) => tracing::warn!(error = %format!("{e:#}"), id, "renewing a run-later claim failed"),
            },
        }
    }
}

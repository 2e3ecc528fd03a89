//! `ledgerlink:sync/schedule`: the guest asks for a job later (a retry after a 429, a deferred
//! backfill). Runs are recorded durably; the same (job, args, time) is recorded once, so a
//! retried guest call cannot schedule a job twice.
//!
//! Runs live in the store's `schedules` table (`ScheduleStore`): `sqlite.rs` for the embedded
//! file, `postgres.rs` for a database shared by many hosts. The scheduler *claims* due runs
//! ([`StoreSchedule::claim_due`]): a claimed row is `claimed`, its `run_at` the end of the claim,
//! so no other host (nor this one) takes it while the claim lasts; the scheduler renews the claim
//! while the run goes and completes the row after it. A host that dies mid-run leaves the claim
//! to run out, and the run is due again. On PostgreSQL the claim locks the due rows with
//! `FOR UPDATE SKIP LOCKED` in the transaction that marks them, so two hosts never take the same
//! row.

mod postgres;
mod sqlite;

use crate::db::{Backend, Database};
use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use wasmtime::component::{HasData, Linker};

#[allow(missing_docs)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package ledgerlink:host-schedule;
            world schedule {
                import ledgerlink:sync/schedule@0.1.0;
            }
        ",
        imports: { default: trappable },
    });
}

/// The generated `ledgerlink:sync/schedule` interface; the runtime's world bindings reuse it
/// (`with`).
pub use self::generated::ledgerlink::sync::schedule as bindings;

/// A pending run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledRun {
    /// Its id.
    pub id: String,
    /// The tenant it runs for.
    pub tenant: String,
    /// The job name.
    pub job: String,
    /// JSON arguments.
    pub args: String,
    /// When it is due.
    pub run_at: DateTime<Utc>,
}

/// Where scheduled runs are kept.
pub trait ScheduleBackend: Send + Sync {
    /// Records a run; returns its id (the same id for the same tenant, job, args and time).
    fn schedule(&self, tenant: &str, job: &str, args: &str, at: DateTime<Utc>) -> Result<String>;
    /// Cancels a pending run of `tenant`; false when there was none.
    fn cancel(&self, tenant: &str, id: &str) -> Result<bool>;
    /// Pending runs due at `now`, oldest first.
    fn due(&self, now: DateTime<Utc>) -> Result<Vec<ScheduledRun>>;
    /// Marks a run as done.
    fn complete(&self, id: &str) -> Result<()>;
    /// How many runs of `tenant` are pending.
    fn pending(&self, tenant: &str) -> Result<u64>;
}

/// The most runs a tenant may have pending: a guest that schedules in a loop fills a limit,
/// not the disk.
pub const MAX_PENDING_RUNS: u64 = 1000;
/// The largest `args` of a run, in bytes (a rerun's `{"only": [...]}` may name thousands of
/// records).
pub const MAX_ARGS_BYTES: usize = 1024 * 1024;
/// How far ahead a run may be scheduled.
pub const MAX_DAYS_AHEAD: i64 = 366;

/// Why a guest's run-later request is refused, if it is: a job name that cannot be one, args
/// that are too large or not JSON, a time too far ahead, too many runs pending.
pub fn refusal(
    name: &str,
    args: &str,
    at: DateTime<Utc>,
    pending: u64,
    now: DateTime<Utc>,
) -> Option<String> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Some(format!(
            "{name:?} is not a job name (lowercase letters, digits and '-', at most 64)"
        ));
    }
    if args.len() > MAX_ARGS_BYTES {
        return Some(format!(
            "`args` of job {name} is {} bytes; at most {MAX_ARGS_BYTES}",
            args.len()
        ));
    }
    if serde_json::from_str::<serde_json::Value>(args).is_err() {
        return Some(format!("`args` of job {name:?} must be JSON"));
    }
    if at > now + chrono::Duration::days(MAX_DAYS_AHEAD) {
        return Some(format!(
            "job {name} at {at} is more than {MAX_DAYS_AHEAD} days ahead"
        ));
    }
    if pending >= MAX_PENDING_RUNS {
        return Some(format!(
            "{pending} runs are already pending; at most {MAX_PENDING_RUNS}"
        ));
    }
    None
}

/// The id of a run: a hash of what identifies it.
pub fn run_id(tenant: &str, job: &str, args: &str, at: &DateTime<Utc>) -> String {
    let digest = Sha256::digest(format!("{tenant}\n{job}\n{args}\n{}", at.to_rfc3339()).as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// How long a claim on a run lasts unless renewed.
pub const CLAIM_LEASE: chrono::Duration = chrono::Duration::minutes(5);

/// A row of `schedules` as stored: `(id, tenant, job, args, run_at)`, `run_at` in RFC 3339.
pub(crate) type Row = (String, String, String, String, String);

/// Where scheduled runs are kept: one implementation per backend. Times are RFC 3339 text
/// (`DateTime::to_rfc3339`), compared as text. A row is `pending`, `claimed` (its `run_at` the
/// end of the claim), `done` or `cancelled`.
pub(crate) trait ScheduleStore: Send + Sync {
    /// Inserts a pending run unless row `id` exists.
    fn schedule(&self, run: Row, created: String) -> Result<()>;
    /// Cancels pending run `id` of `tenant`; false when there was none.
    fn cancel(&self, tenant: &str, id: &str) -> Result<bool>;
    /// Pending runs with `run_at <= now`, oldest first.
    fn due(&self, now: String) -> Result<Vec<Row>>;
    /// Marks run `id` done.
    fn complete(&self, id: &str) -> Result<()>;
    /// Runs of `tenant` pending or claimed.
    fn pending(&self, tenant: &str) -> Result<u64>;
    /// Claims, in one transaction, the runs of `tenants` that are pending or whose claim ran out
    /// with `run_at <= now`, oldest first: each becomes `claimed` until `until`. Returns them as
    /// they were.
    fn claim(&self, now: String, until: String, tenants: Vec<String>) -> Result<Vec<Row>>;
    /// Moves the end of the claim on run `id` to `until`; false when it is not claimed.
    fn renew(&self, id: &str, until: String) -> Result<bool>;
    /// Gives claimed run `id` back, pending at `run_at`; false when it is not claimed.
    fn release(&self, id: &str, run_at: String) -> Result<bool>;
}

fn scheduled_run((id, tenant, job, args, at): Row) -> Result<ScheduledRun> {
    let run_at = DateTime::parse_from_rfc3339(&at)
        .with_context(|| format!("run-later {id} has no valid time ({at:?})"))?
        .with_timezone(&Utc);
    Ok(ScheduledRun {
        id,
        tenant,
        job,
        args,
        run_at,
    })
}

/// Scheduled runs in the host's store. Cloning shares the store.
#[derive(Clone)]
pub struct StoreSchedule {
    store: Arc<dyn ScheduleStore>,
}

impl StoreSchedule {
    /// A schedule over `db` (its schema comes from the store's migrations).
    pub fn new(db: Database) -> Self {
        let store: Arc<dyn ScheduleStore> = match db.backend() {
            Backend::Sqlite(db) => Arc::new(sqlite::SqliteSchedule::new(db.clone())),
            Backend::Postgres(db) => Arc::new(postgres::PostgresSchedule::new(db.clone())),
        };
        Self { store }
    }

    /// Claims the runs of `tenants` due at `now` for `lease` (see the module docs); each comes
    /// with the time it was due. Complete, [`renew`](Self::renew) or
    /// [`release`](Self::release) each.
    pub fn claim_due(
        &self,
        now: DateTime<Utc>,
        tenants: &[String],
        lease: chrono::Duration,
    ) -> Result<Vec<ScheduledRun>> {
        self.store
            .claim(
                now.to_rfc3339(),
                (now + lease).to_rfc3339(),
                tenants.to_vec(),
            )?
            .into_iter()
            .map(scheduled_run)
            .collect()
    }

    /// Extends the claim on run `id` to `until`; false when it is no longer claimed.
    pub fn renew(&self, id: &str, until: DateTime<Utc>) -> Result<bool> {
        self.store.renew(id, until.to_rfc3339())
    }

    /// Gives claimed run `id` back, pending and due at `run_at` (when it was due); false when
    /// it was not claimed.
    pub fn release(&self, id: &str, run_at: DateTime<Utc>) -> Result<bool> {
        self.store.release(id, run_at.to_rfc3339())
    }
}

impl ScheduleBackend for StoreSchedule {
    fn schedule(&self, tenant: &str, job: &str, args: &str, at: DateTime<Utc>) -> Result<String> {
        let id = run_id(tenant, job, args, &at);
        self.store.schedule(
            (
                id.clone(),
                tenant.to_string(),
                job.to_string(),
                args.to_string(),
                at.to_rfc3339(),
            ),
            Utc::now().to_rfc3339(),
        )?;
        Ok(id)
    }

    fn cancel(&self, tenant: &str, id: &str) -> Result<bool> {
        self.store.cancel(tenant, id)
    }

    fn due(&self, now: DateTime<Utc>) -> Result<Vec<ScheduledRun>> {
        self.store
            .due(now.to_rfc3339())?
            .into_iter()
            .map(scheduled_run)
            .collect()
    }

    fn complete(&self, id: &str) -> Result<()> {
        self.store.complete(id)
    }

    fn pending(&self, tenant: &str) -> Result<u64> {
        self.store.pending(tenant)
    }
}

/// What a guest call sees of the schedule: the tenant's backend, under the tenant's id.
pub struct ScheduleView<'a> {
    backend: &'a dyn ScheduleBackend,
    tenant: &'a str,
    jobs: Option<&'a [String]>,
}

impl<'a> ScheduleView<'a> {
    /// A view of `backend` for `tenant`.
    pub fn new(backend: &'a dyn ScheduleBackend, tenant: &'a str) -> Self {
        Self {
            backend,
            tenant,
            jobs: None,
        }
    }

    /// Takes only the jobs `describe` lists (when the host knows them).
    pub fn with_jobs(mut self, jobs: Option<&'a [String]>) -> Self {
        self.jobs = jobs;
        self
    }
}

impl bindings::Host for ScheduleView<'_> {
    fn run_later(
        &mut self,
        name: String,
        args: String,
        at: String,
    ) -> wasmtime::Result<Result<String, String>> {
        let when = match DateTime::parse_from_rfc3339(&at) {
            Ok(when) => when.with_timezone(&Utc),
            Err(e) => {
                return Ok(Err(format!(
                    "`at` {at:?} is not an RFC 3339 timestamp: {e}"
                )))
            }
        };
        let pending = self.backend.pending(self.tenant).map_err(|e| e.to_string());
        let pending = match pending {
            Ok(n) => n,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(why) = refusal(&name, &args, when, pending, Utc::now()) {
            return Ok(Err(why));
        }
        if self.jobs.is_some_and(|jobs| !jobs.contains(&name)) {
            return Ok(Err(format!(
                "job {name:?} is not one the component describes"
            )));
        }
        Ok(self
            .backend
            .schedule(self.tenant, &name, &args, when)
            .map_err(|e| e.to_string()))
    }

    fn cancel(&mut self, id: String) -> wasmtime::Result<bool> {
        Ok(self.backend.cancel(self.tenant, &id).unwrap_or(false))
    }
}

/// Adds `ledgerlink:sync/schedule` to `linker`; `get` gives the calling store's view.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> ScheduleView<'_>,
) -> wasmtime::Result<()> {
    bindings::add_to_linker::<T, HasSchedule>(linker, get)
}

struct HasSchedule;

impl HasData for HasSchedule {
    type Data<'a> = ScheduleView<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::each_backend;
    use chrono::Duration;
    use std::collections::HashSet;

    #[test]
    fn run_later_requests_are_bounded() {
        let now = Utc::now();
        assert_eq!(refusal("sync-invoices", "{}", now, 0, now), None);
        for (name, args, at, pending, says) in [
            ("", "{}", now, 0, "not a job name"),
            ("../etc", "{}", now, 0, "not a job name"),
            ("poll", "not json", now, 0, "must be JSON"),
            ("poll", &"x".repeat(MAX_ARGS_BYTES + 1), now, 0, "bytes"),
            (
                "poll",
                "{}",
                now + chrono::Duration::days(400),
                0,
                "days ahead",
            ),
            ("poll", "{}", now, MAX_PENDING_RUNS, "already pending"),
        ] {
            let why = refusal(name, args, at, pending, now).unwrap();
            assert!(why.contains(says), "{name}: {why}");
        }
        each_backend("schedule_bounded", |db| {
            let sched = StoreSchedule::new(db);
            sched.schedule("acme", "poll", "{}", now).unwrap();
            sched.schedule("acme", "poll", "{\"a\":1}", now).unwrap();
            sched.schedule("zeta", "poll", "{}", now).unwrap();
            assert_eq!(sched.pending("acme").unwrap(), 2);
        });
    }

    #[test]
    fn the_same_run_is_recorded_once_and_due_when_its_time_comes() {
        each_backend("schedule_once", |db| {
            let sched = StoreSchedule::new(db);
            let at = Utc::now();
            let a = sched.schedule("acme", "retry", "{}", at).unwrap();
            let b = sched.schedule("acme", "retry", "{}", at).unwrap();
            assert_eq!(a, b);
            assert_eq!(sched.due(at).unwrap().len(), 1);
            assert!(sched
                .due(at - chrono::Duration::seconds(1))
                .unwrap()
                .is_empty());
            sched.complete(&a).unwrap();
            assert!(sched.due(at).unwrap().is_empty());
        });
    }

    #[test]
    fn a_tenant_cannot_cancel_another_tenants_run() {
        each_backend("schedule_cancel", |db| {
            let sched = StoreSchedule::new(db);
            let id = sched.schedule("acme", "retry", "{}", Utc::now()).unwrap();
            assert!(!sched.cancel("globex", &id).unwrap());
            assert!(sched.cancel("acme", &id).unwrap());
        });
    }

    #[test]
    fn a_claimed_run_is_not_due_again_until_its_claim_runs_out_or_is_given_back() {
        each_backend("schedule_claim", |db| {
            let sched = StoreSchedule::new(db);
            let tenants = ["acme".to_string()];
            let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
                .unwrap()
                .with_timezone(&Utc);
            let a = sched.schedule("acme", "poll", "{}", t0).unwrap();
            let later = sched
                .schedule("acme", "poll", "{}", t0 + Duration::hours(1))
                .unwrap();
            let other = sched.schedule("globex", "poll", "{}", t0).unwrap();
            let lease = Duration::minutes(5);

            let claimed = sched.claim_due(t0, &tenants, lease).unwrap();
            assert_eq!(claimed.len(), 1, "only the due run of a tenant asked for");
            assert_eq!(
                (claimed[0].id.as_str(), claimed[0].run_at),
                (a.as_str(), t0)
            );
            assert!(sched.claim_due(t0, &tenants, lease).unwrap().is_empty());
            assert!(sched.due(t0).unwrap().iter().all(|r| r.id != a), "claimed");
            assert_eq!(
                sched.pending("acme").unwrap(),
                2,
                "a claimed run still counts"
            );
            assert!(
                !sched.cancel("acme", &a).unwrap(),
                "a claimed run is under way"
            );

            // Renewed, the claim outlasts the first lease; run out, the run is due again.
            assert!(sched.renew(&a, t0 + Duration::minutes(8)).unwrap());
            assert!(sched
                .claim_due(t0 + Duration::minutes(6), &tenants, lease)
                .unwrap()
                .is_empty());
            let again = sched
                .claim_due(t0 + Duration::minutes(9), &tenants, lease)
                .unwrap();
            assert_eq!(again.len(), 1);
            assert_eq!(again[0].id, a);

            // Given back, it is pending at its own time.
            assert!(sched.release(&a, t0).unwrap());
            assert!(!sched.release(&a, t0).unwrap(), "not claimed any more");
            assert_eq!(sched.due(t0).unwrap().len(), 2, "acme's and globex's");
            let claimed = sched
                .claim_due(t0 + Duration::hours(2), &tenants, lease)
                .unwrap();
            assert_eq!(
                claimed.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
                [a.as_str(), later.as_str()]
            );
            sched.complete(&a).unwrap();
            assert!(!sched.renew(&a, t0 + Duration::hours(3)).unwrap(), "done");
            assert_eq!(sched.pending("acme").unwrap(), 1);
            assert_eq!(sched.due(t0).unwrap()[0].id, other);
        });
    }

    /// Two hosts on one PostgreSQL database (two threads each) claim due runs while more are
    /// scheduled: no run is claimed twice, and together they claim every run once.
    #[test]
    fn hosts_claiming_together_never_get_the_same_run() {
        let url = crate::db::throwaway::Cluster::shared().fresh_database("schedule_race");
        let hosts: Vec<StoreSchedule> = (0..2)
            .map(|_| StoreSchedule::new(Database::connect(&url, None).unwrap()))
            .collect();
        let tenants = vec!["acme".to_string(), "globex".to_string()];
        let t0 = Utc::now();
        let runs = 300;
        // Half scheduled before the race, half during it.
        let mut scheduled = HashSet::new();
        for i in 0..runs / 2 {
            let tenant = &tenants[i % 2];
            scheduled.insert(
                hosts[0]
                    .schedule(tenant, "poll", &format!("{{\"n\":{i}}}"), t0)
                    .unwrap(),
            );
        }
        let writing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let barrier = Arc::new(std::sync::Barrier::new(5));
        let claimers: Vec<_> = (0..4)
            .map(|i| {
                let host = hosts[i % 2].clone();
                let (tenants, writing, barrier) =
                    (tenants.clone(), writing.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let mut got = Vec::new();
                    loop {
                        let still_writing = writing.load(std::sync::atomic::Ordering::SeqCst);
                        let claimed = host.claim_due(t0, &tenants, Duration::hours(1)).unwrap();
                        if claimed.is_empty() && !still_writing {
                            return got;
                        }
                        got.extend(claimed.into_iter().map(|r| r.id));
                    }
                })
            })
            .collect();
        barrier.wait();
        for i in runs / 2..runs {
            let tenant = &tenants[i % 2];
            scheduled.insert(
                hosts[1]
                    .schedule(tenant, "poll", &format!("{{\"n\":{i}}}"), t0)
                    .unwrap(),
            );
        }
        writing.store(false, std::sync::atomic::Ordering::SeqCst);
        let claimed: Vec<String> = claimers
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        let unique: HashSet<String> = claimed.iter().cloned().collect();
        assert_eq!(unique.len(), claimed.len(), "a run was claimed twice");
        assert_eq!(unique, scheduled, "every due run claimed once");
    }
}

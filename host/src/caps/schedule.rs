//! `ledgerlink:sync/schedule`: the guest asks for a job later (a retry after a 429, a deferred
//! backfill). Runs are recorded durably; the same (job, args, time) is recorded once, so a
//! retried guest call cannot schedule a job twice.

use crate::db::Database;
use anyhow::Result;
use chrono::{DateTime, Utc};
use rusqlite::params;
use sha2::{Digest, Sha256};
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

/// Scheduled runs in the host's SQLite store.
#[derive(Clone)]
pub struct SqliteSchedule {
    db: Database,
}

impl SqliteSchedule {
    /// A schedule over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl ScheduleBackend for SqliteSchedule {
    fn schedule(&self, tenant: &str, job: &str, args: &str, at: DateTime<Utc>) -> Result<String> {
        let id = run_id(tenant, job, args, &at);
        self.db.lock().execute(
            "INSERT OR IGNORE INTO schedules (id, tenant, job, args, run_at, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![id, tenant, job, args, at.to_rfc3339(), Utc::now().to_rfc3339()],
        )?;
        Ok(id)
    }

    fn cancel(&self, tenant: &str, id: &str) -> Result<bool> {
        let changed = self.db.lock().execute(
            "UPDATE schedules SET state = 'cancelled' WHERE id = ?1 AND tenant = ?2 AND state = 'pending'",
            params![id, tenant],
        )?;
        Ok(changed > 0)
    }

    fn due(&self, now: DateTime<Utc>) -> Result<Vec<ScheduledRun>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT id, tenant, job, args, run_at FROM schedules WHERE state = 'pending' AND run_at <= ?1 ORDER BY run_at, id",
        )?;
        let rows = stmt.query_map(params![now.to_rfc3339()], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get::<_, String>(4)?,
            ))
        })?;
        let mut runs = Vec::new();
        for row in rows {
            let (id, tenant, job, args, at) = row?;
            let run_at = DateTime::parse_from_rfc3339(&at)?.with_timezone(&Utc);
            runs.push(ScheduledRun {
                id,
                tenant,
                job,
                args,
                run_at,
            });
        }
        Ok(runs)
    }

    fn complete(&self, id: &str) -> Result<()> {
        self.db.lock().execute(
            "UPDATE schedules SET state = 'done' WHERE id = ?1",
            params![id],
        )?;
        Ok(())
    }

    fn pending(&self, tenant: &str) -> Result<u64> {
        Ok(self.db.lock().query_row(
            "SELECT COUNT(*) FROM schedules WHERE tenant = ?1 AND state = 'pending'",
            params![tenant],
            |r| r.get(0),
        )?)
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
        let sched = SqliteSchedule::new(Database::in_memory().unwrap());
        sched.schedule("acme", "poll", "{}", now).unwrap();
        sched.schedule("acme", "poll", "{\"a\":1}", now).unwrap();
        sched.schedule("zeta", "poll", "{}", now).unwrap();
        assert_eq!(sched.pending("acme").unwrap(), 2);
    }

    #[test]
    fn the_same_run_is_recorded_once_and_due_when_its_time_comes() {
        let sched = SqliteSchedule::new(Database::in_memory().unwrap());
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
    }

    #[test]
    fn a_tenant_cannot_cancel_another_tenants_run() {
        let sched = SqliteSchedule::new(Database::in_memory().unwrap());
        let id = sched.schedule("acme", "retry", "{}", Utc::now()).unwrap();
        assert!(!sched.cancel("globex", &id).unwrap());
        assert!(sched.cancel("acme", &id).unwrap());
    }
}

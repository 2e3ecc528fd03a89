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
}

/// What a guest call sees of the schedule: the tenant's backend, under the tenant's id.
pub struct ScheduleView<'a> {
    backend: &'a dyn ScheduleBackend,
    tenant: &'a str,
}

impl<'a> ScheduleView<'a> {
    /// A view of `backend` for `tenant`.
    pub fn new(backend: &'a dyn ScheduleBackend, tenant: &'a str) -> Self {
        Self { backend, tenant }
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
        if serde_json::from_str::<serde_json::Value>(&args).is_err() {
            return Ok(Err(format!("`args` of job {name:?} must be JSON")));
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

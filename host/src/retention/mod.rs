//! Retention: what the host keeps about finished work is deleted after `[store]
//! retention-days` (30 by default; 0 keeps everything): handled or failed webhook bodies,
//! finished job runs, auth events, resolved or dismissed errors, cleared alerts, done or
//! cancelled run-later rows. Nothing pending, running or open is ever deleted. The daemon
//! purges at start and every six hours (on a shared PostgreSQL store every host does; a purge
//! deletes the same rows whoever runs it, so two at once only find less to delete).
//!
//! | file | holds |
//! |---|---|
//! | `mod.rs` | the rules and the cutoff, `RetentionStore` |
//! | `sqlite.rs` | the deletes in the embedded SQLite file |
//! | `postgres.rs` | the deletes in a PostgreSQL database |

use crate::db::{Backend, Database};
use anyhow::Result;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use std::sync::Arc;

mod postgres;
mod sqlite;

/// Which rows of a table a purge deletes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rule {
    /// The table.
    pub table: &'static str,
    /// The condition that a row is finished (SQL both backends read alike).
    pub finished: &'static str,
    /// Its time column (RFC 3339 text).
    pub time: &'static str,
}

/// What each purge deletes.
const RULES: [Rule; 6] = [
    Rule {
        table: "webhook_inbox",
        finished: "state IN ('done', 'failed')",
        time: "received",
    },
    Rule {
        table: "job_runs",
        finished: "status <> 'running'",
        time: "started",
    },
    Rule {
        table: "auth_events",
        finished: "1 = 1",
        time: "at",
    },
    Rule {
        table: "errors",
        finished: "state IN ('resolved', 'dismissed')",
        time: "last_seen",
    },
    Rule {
        table: "alerts",
        finished: "cleared IS NOT NULL",
        time: "cleared",
    },
    Rule {
        table: "schedules",
        finished: "state IN ('done', 'cancelled')",
        time: "run_at",
    },
];

/// The deletes of one backend.
pub(crate) trait RetentionStore: Send + Sync {
    /// Deletes the rows of `rule.table` that are finished and whose time is before `cutoff`
    /// (compared as text); returns how many went.
    fn delete_finished(&self, rule: Rule, cutoff: &str) -> Result<usize>;
}

fn store(db: &Database) -> Arc<dyn RetentionStore> {
    match db.backend() {
        Backend::Sqlite(db) => Arc::new(sqlite::SqliteRetention::new(db.clone())),
        Backend::Postgres(db) => Arc::new(postgres::PostgresRetention::new(db.clone())),
    }
}

/// Deletes finished rows older than `days` (none when `days` is 0); returns `(table, rows)`
/// for the tables that had some.
pub fn purge(db: &Database, days: u32, now: DateTime<Utc>) -> Result<Vec<(&'static str, usize)>> {
    if days == 0 {
        return Ok(Vec::new());
    }
    let cutoff = now - Duration::days(i64::from(days));
    // Both stored forms of a time (`…Z` and `…+00:00`) order with this one at the second.
    let cutoff = cutoff.to_rfc3339_opts(SecondsFormat::Secs, true);
    let store = store(db);
    let mut purged = Vec::new();
    for rule in RULES {
        let deleted = store.delete_finished(rule, &cutoff)?;
        if deleted > 0 {
            purged.push((rule.table, deleted));
        }
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{Alerts, Kind};
    use crate::db::testing::each_backend;
    use crate::scheduler::JobRuns;
    use crate::webhooks::Inbox;

    // JobRuns is written against SQLite until its own PostgreSQL implementation lands; the
    // rules for every table are held on both backends by the test after this one.
    #[test]
    fn finished_rows_past_retention_go_and_nothing_open_does() {
        let db = Database::in_memory().unwrap();
        let runs = JobRuns::new(db.clone()).unwrap();
        let old = Utc::now() - Duration::days(40);
        let finished = runs.start("acme", "poll", "{}", "cron", old).unwrap();
        runs.finish(finished, "ok", "poll: done", old).unwrap();
        runs.start("acme", "backfill", "{}", "cron", old).unwrap();
        let recent = runs
            .start("acme", "poll", "{}", "cron", Utc::now())
            .unwrap();
        runs.finish(recent, "ok", "poll: done", Utc::now()).unwrap();

        assert!(
            purge(&db, 0, Utc::now()).unwrap().is_empty(),
            "0 keeps everything"
        );
        assert_eq!(purge(&db, 30, Utc::now()).unwrap(), vec![("job_runs", 1)]);
        let left: Vec<String> = runs
            .history("acme", "poll", 10)
            .unwrap()
            .into_iter()
            .chain(runs.history("acme", "backfill", 10).unwrap())
            .map(|r| r.status)
            .collect();
        assert_eq!(
            left,
            ["ok", "running"],
            "the recent run and the running one stay"
        );
    }

    /// Rows other parts of the host write, in SQL both backends read alike: per table one
    /// finished row and one not, both dated `2024-01-01`, and one finished row of today.
    const ROWS: &str = "
        INSERT INTO job_runs (tenant, job, args, trigger, started, finished, status)
            VALUES ('acme', 'poll', '{}', 'cron', '2024-01-01T00:00:00+00:00', '2024-01-01T00:01:00+00:00', 'ok'),
                   ('acme', 'poll', '{}', 'cron', '2024-01-01T00:00:00+00:00', NULL, 'running'),
                   ('acme', 'poll', '{}', 'cron', '2024-03-01T00:00:00.000Z', '2024-03-01T00:01:00Z', 'ok');
        INSERT INTO auth_events (tenant, connection, kind, detail, at)
            VALUES ('acme', 'qbo', 'refreshed', '', '2024-01-01T00:00:00Z'),
                   ('acme', 'qbo', 'refreshed', '', '2024-03-01T00:00:00Z');
        INSERT INTO errors (tenant, job, entity, record_id, detail, retryable, attempts, first_seen, last_seen, state)
            VALUES ('acme', 'poll', 'Invoice', '1', 'x', 1, 1, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 'resolved'),
                   ('acme', 'poll', 'Invoice', '2', 'x', 1, 1, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 'open'),
                   ('acme', 'poll', 'Invoice', '3', 'x', 1, 1, '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 'dismissed'),
                   ('acme', 'poll', 'Invoice', '4', 'x', 1, 1, '2024-03-01T00:00:00Z', '2024-03-01T00:00:00Z', 'resolved');
        INSERT INTO schedules (id, tenant, job, args, run_at, state, created)
            VALUES ('a', 'acme', 'poll', '{}', '2024-01-01T00:00:00Z', 'done', '2024-01-01T00:00:00Z'),
                   ('b', 'acme', 'poll', '{}', '2024-01-01T00:00:00Z', 'cancelled', '2024-01-01T00:00:00Z'),
                   ('c', 'acme', 'poll', '{}', '2024-01-01T00:00:00Z', 'pending', '2024-01-01T00:00:00Z');
    ";

    fn exec(db: &Database, sql: &'static str) {
        match db.backend() {
            Backend::Sqlite(db) => db.lock().execute_batch(sql).unwrap(),
            Backend::Postgres(db) => db
                .run(move |c| Box::pin(async move { Ok(c.batch_execute(sql).await?) }))
                .unwrap(),
        }
    }

    fn count(db: &Database, table: &'static str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        match db.backend() {
            Backend::Sqlite(db) => db.lock().query_row(&sql, [], |r| r.get(0)).unwrap(),
            Backend::Postgres(db) => db
                .run(move |c| Box::pin(async move { Ok(c.query_one(&sql, &[]).await?.get(0)) }))
                .unwrap(),
        }
    }

    #[test]
    fn every_rule_deletes_finished_rows_past_retention_on_both_backends() {
        each_backend("retention_rules", |db| {
            exec(&db, ROWS);
            // The inbox and the alerts date their rows now: they are purged from 40 days on.
            let inbox = Inbox::new(db.clone()).unwrap();
            let done = inbox.persist("acme", "quickbooks", "r", b"a").unwrap().id;
            let failed = inbox.persist("acme", "quickbooks", "r", b"b").unwrap().id;
            inbox.persist("acme", "quickbooks", "r", b"c").unwrap();
            inbox.mark_done(done).unwrap();
            inbox.mark_failed(failed, "no").unwrap();
            let alerts = Alerts::new(db.clone(), Default::default()).unwrap();
            alerts.raise("acme", "a", Kind::JobFailed, "a").unwrap();
            alerts.raise("acme", "b", Kind::JobFailed, "b").unwrap();
            alerts.clear("acme", "a").unwrap();

            let feb = "2024-02-10T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
            assert!(purge(&db, 0, feb).unwrap().is_empty(), "0 keeps everything");
            assert_eq!(
                purge(&db, 30, feb).unwrap(),
                vec![
                    ("job_runs", 1),
                    ("auth_events", 1),
                    ("errors", 2),
                    ("schedules", 2)
                ]
            );
            let later = Utc::now() + Duration::days(40);
            assert_eq!(
                purge(&db, 30, later).unwrap(),
                vec![
                    ("webhook_inbox", 2),
                    ("job_runs", 1),
                    ("auth_events", 1),
                    ("errors", 1),
                    ("alerts", 1)
                ]
            );
            let left: Vec<i64> = [
                "webhook_inbox",
                "job_runs",
                "auth_events",
                "errors",
                "alerts",
                "schedules",
            ]
            .into_iter()
            .map(|t| count(&db, t))
            .collect();
            assert_eq!(
                left,
                [1, 1, 0, 1, 1, 1],
                "what is pending, running or open stays"
            );
            assert_eq!(inbox.depth_of("acme").unwrap(), 1);
            assert_eq!(alerts.open("acme").unwrap().len(), 1);
        });
    }
}

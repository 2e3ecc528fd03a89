//! Retention: what the host keeps about finished work is deleted after `[store]
//! retention-days` (30 by default; 0 keeps everything): handled or failed webhook bodies,
//! finished job runs, auth events, resolved or dismissed errors, cleared alerts, done or
//! cancelled run-later rows. Nothing pending, running or open is ever deleted. The daemon
//! purges at start and every six hours.

use crate::db::Database;
use anyhow::Result;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rusqlite::params;

/// What each purge deletes: table, the condition that a row is finished, its time column.
const RULES: [(&str, &str, &str); 6] = [
    ("webhook_inbox", "state IN ('done', 'failed')", "received"),
    ("job_runs", "status <> 'running'", "started"),
    ("auth_events", "1 = 1", "at"),
    ("errors", "state IN ('resolved', 'dismissed')", "last_seen"),
    ("alerts", "cleared IS NOT NULL", "cleared"),
    ("schedules", "state IN ('done', 'cancelled')", "run_at"),
];

/// Deletes finished rows older than `days` (none when `days` is 0); returns `(table, rows)`
/// for the tables that had some.
pub fn purge(db: &Database, days: u32, now: DateTime<Utc>) -> Result<Vec<(&'static str, usize)>> {
    if days == 0 {
        return Ok(Vec::new());
    }
    let cutoff = now - Duration::days(i64::from(days));
    // Both stored forms of a time (`…Z` and `…+00:00`) order with this one at the second.
    let cutoff = cutoff.to_rfc3339_opts(SecondsFormat::Secs, true);
    let conn = db.lock();
    let mut purged = Vec::new();
    for (table, finished, time) in RULES {
        if !Database::has_table(&conn, table)? {
            continue;
        }
        let deleted = conn.execute(
            &format!("DELETE FROM {table} WHERE {finished} AND {time} < ?1"),
            params![cutoff],
        )?;
        if deleted > 0 {
            purged.push((table, deleted));
        }
    }
    Ok(purged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scheduler::JobRuns;

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
}

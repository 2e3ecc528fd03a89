//! The scheduler with a real guest (`host/test-guest`): cron slots (missed ones run once),
//! one run per tenant and job, run-later and `throttled(T)` rescheduling, and the error ledger's
//! retries with `{"only": [...]}`.

use chrono::{Duration, Utc};
use ledgerlink::caps::schedule::{ScheduleBackend, StoreSchedule};
use ledgerlink::caps::storage::sqlite::SqliteBackend;
use ledgerlink::caps::storage::KeyValueBackend;
use ledgerlink::db::Database;
use ledgerlink::metrics::Metrics;
use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink::scheduler::{RunResult, Runner, Scheduler};
use ledgerlink::tenant::TenantCaps;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

fn guest() -> Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::from_file(Path::new(ledgerlink::TEST_GUEST_PATH), Limits::default())
            .expect("load the test guest")
    })
    .clone()
}

struct Harness {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Harness {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledgerlink.db");
        Self { _dir: dir, path }
    }

    /// A runner over a fresh connection to the store (as a restarted process opens it).
    fn runner(&self) -> (Database, Arc<Runner>) {
        let db = Database::open(&self.path).unwrap();
        let caps = TenantCaps {
            id: "acme".into(),
            settings: Arc::default(),
            connections: Arc::default(),
            storage: Arc::new(SqliteBackend::new(db.clone())),
            schedule: Arc::new(StoreSchedule::new(db.clone())),
        };
        let tenants = BTreeMap::from([("acme".to_string(), caps)]);
        let runner = Runner::new(guest(), tenants, &db, Metrics::new()).unwrap();
        (db, Arc::new(runner))
    }

    async fn scheduler(&self, overrides: &[(&str, &str)]) -> (Database, Scheduler) {
        let (db, runner) = self.runner();
        let overrides = BTreeMap::from([(
            "acme".to_string(),
            overrides
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )]);
        let scheduler = Scheduler::new(runner, &db, &overrides).await.unwrap();
        (db, scheduler)
    }
}

fn ticks(db: &Database) -> u64 {
    SqliteBackend::new(db.clone())
        .get("acme", "test", "ticks")
        .unwrap()
        .map(|v| String::from_utf8(v).unwrap().parse().unwrap())
        .unwrap_or(0)
}

const IDLE: std::time::Duration = std::time::Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slots_missed_while_down_run_once_at_start_not_once_per_slot() {
    let h = Harness::new();
    let t0 = Utc::now();
    {
        // `tick` recurs every second by the component's describe.
        let (db, s) = h.scheduler(&[]).await;
        assert_eq!(s.cron_jobs().len(), 1);
        assert_eq!(s.cron_jobs()[0].job, "tick");
        s.start(t0).await.unwrap();
        assert!(
            s.tick(t0).await.unwrap().started.is_empty(),
            "a first start does not catch up"
        );
        let r = s.tick(t0 + Duration::seconds(3)).await.unwrap();
        assert_eq!(r.started.len(), 1, "{r:?}");
        assert!(s.wait_idle(IDLE).await);
        assert_eq!(ticks(&db), 1);
    }
    // The host was down for ten minutes: 600 slots were missed; one run makes up for them.
    let (db, s) = h.scheduler(&[]).await;
    let later = t0 + Duration::minutes(10);
    s.start(later).await.unwrap();
    let r = s.tick(later).await.unwrap();
    assert_eq!(
        r.started,
        vec![("acme".into(), "tick".into(), "cron".into())]
    );
    assert!(s.tick(later).await.unwrap().started.is_empty());
    assert!(s.wait_idle(IDLE).await);
    assert_eq!(ticks(&db), 2);
    let runs = s.runner().runs().history("acme", "tick", 10).unwrap();
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter().all(|r| r.status == "ok" && r.trigger == "cron"),
        "{runs:?}"
    );
    // Config can turn the job off.
    let (_db, off) = h.scheduler(&[("tick", "off")]).await;
    assert!(off.cron_jobs().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_trigger_while_the_job_runs_is_skipped() {
    let h = Harness::new();
    let (db, s) = h.scheduler(&[]).await;
    let runner = s.runner().clone();
    // A slow manual run of `tick` (the guest sleeps 1.5 s) ...
    let slow = {
        let runner = runner.clone();
        tokio::spawn(async move {
            runner
                .run("acme", "tick", r#"{"sleep-ms": 1500}"#, "manual")
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // ... so a second manual trigger and the cron slot are skipped.
    assert_eq!(
        runner.run("acme", "tick", "{}", "manual").await.unwrap(),
        RunResult::Skipped
    );
    let now = Utc::now();
    s.start(now).await.unwrap();
    let r = s.tick(now + Duration::seconds(2)).await.unwrap();
    assert_eq!(r.skipped, vec![("acme".to_string(), "tick".to_string())]);
    assert!(r.started.is_empty());
    assert!(
        matches!(slow.await.unwrap(), RunResult::Finished { ref status, .. } if status == "ok")
    );
    assert_eq!(ticks(&db), 1, "only the first trigger ran");
    // Once it finished, the job runs again.
    let r = s.tick(now + Duration::seconds(4)).await.unwrap();
    assert_eq!(r.started.len(), 1);
    assert!(s.wait_idle(IDLE).await);
    assert_eq!(ticks(&db), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_never_run_for_one_tenant_at_once() {
    // Two runners over their own connections to one store, as two processes (a daemon and a
    // `ledgerlink job`, or two daemons) would be: the second waits for the tenant's lease
    // instead of running beside the first.
    let h = Harness::new();
    let (db, first) = h.runner();
    let (_db2, second) = h.runner();
    let slow = {
        let first = first.clone();
        tokio::spawn(async move {
            first
                .run("acme", "tick", r#"{"sleep-ms": 1500}"#, "manual")
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let waited = std::time::Instant::now();
    let quick = second.run("acme", "tick", "{}", "manual").await.unwrap();
    assert!(matches!(quick, RunResult::Finished { ref status, .. } if status == "ok"));
    assert!(
        waited.elapsed() >= std::time::Duration::from_millis(900),
        "the second run waited for the first ({:?})",
        waited.elapsed()
    );
    assert!(
        matches!(slow.await.unwrap(), RunResult::Finished { ref status, .. } if status == "ok")
    );
    let mut runs = first.runs().history("acme", "tick", 10).unwrap();
    runs.sort_by(|a, b| a.started.cmp(&b.started));
    assert_eq!(runs.len(), 2);
    assert!(
        runs[1].started >= *runs[0].finished.as_ref().unwrap(),
        "the runs overlapped: {runs:?}"
    );
    assert_eq!(ticks(&db), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_later_schedules_and_throttled_jobs_run_when_due() {
    let h = Harness::new();
    let (db, s) = h.scheduler(&[("tick", "off")]).await;
    let later = StoreSchedule::new(db.clone());
    let t0 = Utc::now();
    s.start(t0).await.unwrap();
    later
        .schedule("acme", "tick", "{}", t0 + Duration::seconds(30))
        .unwrap();
    assert!(s
        .tick(t0 + Duration::seconds(10))
        .await
        .unwrap()
        .started
        .is_empty());
    let r = s.tick(t0 + Duration::seconds(31)).await.unwrap();
    assert_eq!(
        r.started,
        vec![("acme".into(), "tick".into(), "run-later".into())]
    );
    assert!(s.wait_idle(IDLE).await);
    assert_eq!(ticks(&db), 1);
    assert!(
        later.due(t0 + Duration::seconds(31)).unwrap().is_empty(),
        "completed"
    );

    // A job answering throttled(T) is scheduled again at T with the same arguments.
    let at = (t0 + Duration::minutes(5)).to_rfc3339();
    let args = json!({"at": at}).to_string();
    let result = s
        .runner()
        .run("acme", "throttle", &args, "manual")
        .await
        .unwrap();
    assert!(
        matches!(result, RunResult::Finished { ref status, .. } if status == "throttled"),
        "{result:?}"
    );
    assert!(later.due(t0 + Duration::minutes(4)).unwrap().is_empty());
    let due = later.due(t0 + Duration::minutes(5)).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].job.as_str(), due[0].args.as_str()),
        ("throttle", args.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_records_are_retried_with_only_until_they_succeed_and_permanent_ones_never() {
    let h = Harness::new();
    let (db, s) = h.scheduler(&[("tick", "off")]).await;
    let kv = SqliteBackend::new(db.clone());
    kv.set("acme", "flaky", "006A", b"retryable").unwrap();
    kv.set("acme", "flaky", "006B", b"permanent").unwrap();
    kv.set("acme", "flaky", "006C", b"ok").unwrap();
    let runner = s.runner().clone();
    runner.run("acme", "flaky", "{}", "manual").await.unwrap();
    let ledger = runner.ledger();
    let open = ledger.list(Some("acme"), Some("open")).unwrap();
    assert_eq!(open.len(), 2, "{open:?}");
    let a = open.iter().find(|e| e.record_id == "006A").unwrap();
    let b = open.iter().find(|e| e.record_id == "006B").unwrap();
    assert_eq!(
        (a.code.as_deref(), a.retryable, a.attempts),
        (Some("http-503"), true, 1)
    );
    assert_eq!(
        (b.code.as_deref(), b.retryable, b.next_retry.as_deref()),
        (Some("mapping"), false, None)
    );

    let now = Utc::now();
    s.start(now).await.unwrap();
    assert!(
        s.tick(now).await.unwrap().started.is_empty(),
        "not before the backoff"
    );
    // Still failing at the first retry: attempts 2, retried later again.
    let r = s.tick(now + Duration::minutes(2)).await.unwrap();
    assert_eq!(
        r.started,
        vec![("acme".into(), "flaky".into(), "retry".into())]
    );
    assert!(s.wait_idle(IDLE).await);
    let last = runner.runs().history("acme", "flaky", 1).unwrap().remove(0);
    assert_eq!(last.args, r#"{"only":["Opportunity:006A"]}"#);
    assert_eq!(ledger.get(a.id).unwrap().unwrap().attempts, 2);
    // The cause is fixed; the next retry resolves it.
    kv.set("acme", "flaky", "006A", b"ok").unwrap();
    let r = s.tick(now + Duration::minutes(10)).await.unwrap();
    assert_eq!(r.started.len(), 1);
    assert!(s.wait_idle(IDLE).await);
    assert_eq!(ledger.get(a.id).unwrap().unwrap().state, "resolved");
    assert_eq!(ledger.get(b.id).unwrap().unwrap().state, "open");
    let attempts =
        |id: &str| String::from_utf8(kv.get("acme", "flaky-runs", id).unwrap().unwrap()).unwrap();
    assert_eq!(attempts("006A"), "3");
    assert_eq!(
        attempts("006B"),
        "1",
        "a permanent failure is never re-run automatically"
    );
    assert_eq!(attempts("006C"), "1");
    assert!(s
        .tick(now + Duration::hours(7))
        .await
        .unwrap()
        .started
        .is_empty());
}

/// Runs the scheduler loop until `stop` fires; the run-later `tick` sleeps `sleep_ms`.
async fn shutdown_during_a_run(h: &Harness, sleep_ms: u64, grace_ms: u64) -> Database {
    let (db, s) = h.scheduler(&[("tick", "off")]).await;
    let s = Arc::new(s);
    let runs = s.runner().runs().clone();
    let before = runs.history("acme", "tick", 100).unwrap().len();
    StoreSchedule::new(db.clone())
        .schedule(
            "acme",
            "tick",
            &json!({"sleep-ms": sleep_ms}).to_string(),
            Utc::now(),
        )
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let s = s.clone();
        tokio::spawn(async move {
            s.run(
                std::time::Duration::from_millis(50),
                std::time::Duration::from_millis(grace_ms),
                async {
                    let _ = stopped.await;
                },
            )
            .await
        })
    };
    // Wait until the run is in progress, then ask for shutdown.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while runs.history("acme", "tick", 100).unwrap().len() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the run-later did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.send(()).unwrap();
    task.await.unwrap();
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_a_run_finish_within_the_grace_and_keeps_an_unfinished_one_for_the_next_start(
) {
    let h = Harness::new();
    // Within the grace: the run finishes and the schedule is done.
    let db = shutdown_during_a_run(&h, 500, 10_000).await;
    assert_eq!(ticks(&db), 1);
    let (_, runner) = h.runner();
    assert_eq!(
        runner.runs().history("acme", "tick", 1).unwrap()[0].status,
        "ok"
    );
    assert!(StoreSchedule::new(db.clone())
        .due(Utc::now())
        .unwrap()
        .is_empty());

    // Past the grace: the run is dropped; its schedule stays pending and its row is marked
    // interrupted at the next start, which runs it again.
    let db = shutdown_during_a_run(&h, 5_000, 100).await;
    assert_eq!(ticks(&db), 1, "the second run did not finish");
    let pending = StoreSchedule::new(db.clone()).due(Utc::now()).unwrap();
    assert_eq!(pending.len(), 1);
    let (_db, s) = h.scheduler(&[("tick", "off")]).await;
    s.start(Utc::now()).await.unwrap();
    let last = s
        .runner()
        .runs()
        .history("acme", "tick", 1)
        .unwrap()
        .remove(0);
    assert_eq!(last.status, "interrupted");
    let r = s.tick(Utc::now()).await.unwrap();
    assert_eq!(
        r.started,
        vec![("acme".into(), "tick".into(), "run-later".into())]
    );
    assert!(s.wait_idle(IDLE).await);
    assert_eq!(ticks(&db), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_failed_in_a_webhook_is_retried_through_the_job_the_component_names() {
    let h = Harness::new();
    let (db, s) = h.scheduler(&[("tick", "off")]).await;
    let runner = s.runner().clone();
    // The component reports record 006W of job `flaky` as failed while handling a webhook.
    let err = runner
        .run_webhook("acme", "test", r#"{"failed": "006W"}"#)
        .await;
    assert!(err.is_ok(), "{err:?}");
    let open = runner.ledger().list(Some("acme"), Some("open")).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(
        (open[0].job.as_str(), open[0].record_id.as_str()),
        ("flaky", "006W")
    );
    SqliteBackend::new(db.clone())
        .set("acme", "flaky", "006W", b"ok")
        .unwrap();
    let now = Utc::now();
    s.start(now).await.unwrap();
    let r = s.tick(now + Duration::minutes(2)).await.unwrap();
    assert_eq!(
        r.started,
        vec![("acme".into(), "flaky".into(), "retry".into())]
    );
    assert!(s.wait_idle(IDLE).await);
    assert_eq!(
        runner.ledger().get(open[0].id).unwrap().unwrap().state,
        "resolved"
    );
    // The webhook run itself is in job_runs.
    let hook = runner.runs().history("acme", "webhook:test", 1).unwrap();
    assert_eq!(hook[0].status, "ok");
    // A throttled webhook is postponed until the time the component names, not failed.
    let at = (Utc::now() + Duration::minutes(3)).to_rfc3339();
    let err = runner
        .run_webhook("acme", "test", &json!({ "throttle": at }).to_string())
        .await
        .unwrap_err();
    let postpone = err
        .downcast_ref::<ledgerlink::scheduler::Postpone>()
        .expect("a postponement");
    assert_eq!(postpone.until.to_rfc3339(), at);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_run_that_completes_resolves_an_earlier_run_that_stopped_early() {
    let h = Harness::new();
    let (db, runner) = h.runner();
    let kv = SqliteBackend::new(db.clone());
    let open = || {
        runner
            .ledger()
            .list(Some("acme"), Some("open"))
            .unwrap()
            .into_iter()
            .map(|e| e.record_id)
            .collect::<Vec<_>>()
    };
    // A run that stopped early (the component reports `(run)` failed).
    kv.set("acme", "flaky", "(run)", b"retryable").unwrap();
    runner.run("acme", "flaky", "{}", "cron").await.unwrap();
    assert_eq!(open(), ["(run)"]);
    kv.delete("acme", "flaky", "(run)").unwrap();
    kv.set("acme", "flaky", "006X", b"ok").unwrap();
    // A retry of some records is not the whole run: the failure stays.
    runner
        .run("acme", "flaky", r#"{"only": ["006X"]}"#, "retry")
        .await
        .unwrap();
    assert_eq!(open(), ["(run)"]);
    // The next whole run completes: the earlier stop is over.
    runner.run("acme", "flaky", "{}", "cron").await.unwrap();
    assert!(open().is_empty(), "{:?}", open());
}

//! The sandbox and the capabilities, exercised by a real guest (`host/test-guest`): a spinning
//! guest and a runaway allocation are stopped while the host keeps serving, egress is limited to
//! the tenant's connections with the host's credentials, and tenants cannot see each other's state.

use ledgerlink::caps::http::{Connection, StaticToken};
use ledgerlink::caps::schedule::StoreSchedule;
use ledgerlink::caps::storage::sqlite::SqliteBackend;
use ledgerlink::db::Database;
use ledgerlink::runtime::exports::ledgerlink::sync::flows::{FlowError, RunReport};
use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink::tenant::TenantCaps;
use ledgerlink_emulators::qbo::{QboConfig, QboEmulator};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn guest(limits: Limits) -> Runtime {
    Runtime::from_file(Path::new(ledgerlink::TEST_GUEST_PATH), limits).expect("load the test guest")
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn tenant(
    id: &str,
    db: &Database,
    settings: &[(&str, &str)],
    connections: BTreeMap<String, Connection>,
) -> TenantCaps {
    TenantCaps {
        id: id.into(),
        settings: Arc::new(
            settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        connections: Arc::new(connections),
        storage: Arc::new(SqliteBackend::new(db.clone())),
        schedule: Arc::new(StoreSchedule::new(db.clone())),
    }
}

/// Runs a job; the outer error is a trap or a limit, the inner one the guest's own answer.
async fn run_job(
    rt: &Runtime,
    tenant: &TenantCaps,
    name: &str,
    args: Value,
) -> anyhow::Result<Result<RunReport, FlowError>> {
    rt.with_timeout(name, async {
        let (mut store, plugin) = rt.instantiate(tenant).await?;
        Ok(plugin
            .ledgerlink_sync_flows()
            .call_run_job(&mut store, name, &args.to_string())
            .await?)
    })
    .await
}

fn detail(report: Result<RunReport, FlowError>) -> String {
    report
        .unwrap_or_else(|e| panic!("job failed: {e:?}"))
        .records[0]
        .detail
        .clone()
}

#[test]
fn an_infinite_loop_is_stopped_by_the_epoch_deadline_and_the_host_keeps_serving() {
    let rt = guest(Limits {
        cpu_deadline: Duration::from_millis(300),
        ..Limits::default()
    });
    let db = Database::in_memory().unwrap();
    let acme = tenant("acme", &db, &[], BTreeMap::new());
    block_on(async {
        let started = Instant::now();
        let err = run_job(&rt, &acme, "spin", json!({})).await.unwrap_err();
        let elapsed = started.elapsed();
        assert!(format!("{err:?}").contains("interrupt"), "{err:?}");
        assert!(
            elapsed < Duration::from_secs(10),
            "stopped after {elapsed:?}"
        );
        let ok = run_job(
            &rt,
            &acme,
            "kv-set",
            json!({"bucket": "b", "key": "k", "value": "v"}),
        )
        .await
        .unwrap();
        assert_eq!(detail(ok), "ok");
    });
}

#[test]
fn a_runaway_allocation_is_stopped_by_the_memory_limit() {
    let rt = guest(Limits {
        memory_bytes: 32 << 20,
        ..Limits::default()
    });
    let db = Database::in_memory().unwrap();
    let acme = tenant("acme", &db, &[], BTreeMap::new());
    block_on(async {
        let err = run_job(&rt, &acme, "allocate", json!({}))
            .await
            .unwrap_err();
        let text = format!("{err:?}");
        assert!(
            text.contains("memory") || text.contains("unreachable"),
            "{text}"
        );
        let ok = run_job(&rt, &acme, "config", json!({"key": "absent"}))
            .await
            .unwrap();
        assert_eq!(detail(ok), "<none>");
    });
}

#[test]
fn egress_to_a_host_that_is_not_a_connection_is_refused() {
    let rt = guest(Limits::default());
    let db = Database::in_memory().unwrap();
    let acme = tenant("acme", &db, &[], BTreeMap::new());
    block_on(async {
        let (mut store, plugin) = rt.instantiate(&acme).await.unwrap();
        let args = json!({"url": "http://example.com/steal", "method": "GET"}).to_string();
        let out = plugin
            .ledgerlink_sync_flows()
            .call_run_job(&mut store, "fetch", &args)
            .await
            .unwrap();
        match out {
            Err(FlowError::Failed(reason)) => {
                assert!(reason.contains("HttpRequestDenied"), "{reason}")
            }
            other => panic!("egress was not refused: {other:?}"),
        }
        let log = store.data().egress_log();
        assert_eq!(log.len(), 1);
        assert!(
            log[0].refused && log[0].connection == "example.com",
            "{log:?}"
        );
    });
}

#[test]
fn a_connection_is_rewritten_to_its_base_url_with_the_hosts_credential() {
    let (emu, server) = QboEmulator::start(QboConfig::default(), 0).unwrap();
    let realm = emu.config().realms[0].clone();
    let token = emu.issue_tokens(&realm).access_token;
    let base = url::Url::parse(&server.url()).unwrap();
    let mut connections = BTreeMap::new();
    connections.insert(
        "quickbooks".to_string(),
        Connection::new(base, Some(Arc::new(StaticToken(token)))),
    );
    let db = Database::in_memory().unwrap();
    let acme = tenant("acme", &db, &[], connections);
    let rt = guest(Limits::default());
    block_on(async {
        // The guest's own Authorization and Cookie are dropped; the host's token goes in instead.
        let args = json!({
            "url": format!("http://quickbooks/v3/company/{realm}/companyinfo/{realm}?minorversion=75"),
            "headers": {"authorization": "Bearer guest-made-this-up", "cookie": "session=stolen"},
        });
        let out = detail(run_job(&rt, &acme, "fetch", args).await.unwrap());
        assert!(out.starts_with("200 "), "{out}");
        assert!(out.contains("CompanyInfo"), "{out}");
    });
    let hits = emu
        .log()
        .count(|r| r.path.ends_with(&format!("/companyinfo/{realm}")) && r.status == 200);
    assert_eq!(hits, 1);
}

#[test]
fn two_tenants_cannot_see_each_others_keys_or_settings() {
    let db = Database::in_memory().unwrap();
    let acme = tenant("acme", &db, &[("realm-id", "111")], BTreeMap::new());
    let globex = tenant("globex", &db, &[("realm-id", "222")], BTreeMap::new());
    let rt = guest(Limits::default());
    block_on(async {
        let set = json!({"bucket": "links", "key": "opp:006A", "value": "invoice:42"});
        detail(run_job(&rt, &acme, "kv-set", set).await.unwrap());
        let get = json!({"bucket": "links", "key": "opp:006A"});
        assert_eq!(
            detail(run_job(&rt, &acme, "kv-get", get.clone()).await.unwrap()),
            "invoice:42"
        );
        assert_eq!(
            detail(run_job(&rt, &globex, "kv-get", get).await.unwrap()),
            "<none>"
        );
        assert_eq!(
            detail(
                run_job(&rt, &acme, "config", json!({"key": "realm-id"}))
                    .await
                    .unwrap()
            ),
            "111"
        );
        assert_eq!(
            detail(
                run_job(&rt, &globex, "config", json!({"key": "realm-id"}))
                    .await
                    .unwrap()
            ),
            "222"
        );
    });
}

#[test]
fn a_scheduled_run_is_recorded_once_and_bad_times_are_refused() {
    let db = Database::in_memory().unwrap();
    let acme = tenant("acme", &db, &[], BTreeMap::new());
    let rt = guest(Limits::default());
    block_on(async {
        let args = json!({"job": "retry", "args": "{\"opportunity\":\"006A\"}", "at": "2026-11-22T10:00:00Z"});
        let first = detail(run_job(&rt, &acme, "schedule", args.clone()).await.unwrap());
        let second = detail(run_job(&rt, &acme, "schedule", args).await.unwrap());
        assert_eq!(first, second);
        let bad = run_job(
            &rt,
            &acme,
            "schedule",
            json!({"job": "retry", "args": "{}", "at": "tomorrow"}),
        )
        .await
        .unwrap();
        assert!(
            matches!(bad, Err(FlowError::Failed(ref r)) if r.contains("RFC 3339")),
            "{bad:?}"
        );
        // Once the host knows the component's jobs (the daemon asks `describe` at start),
        // run-later takes only those.
        ledgerlink::flow_calls::describe(&rt, &acme).await.unwrap();
        let unknown = run_job(
            &rt,
            &acme,
            "schedule",
            json!({"job": "retry", "args": "{}", "at": "2026-11-22T10:00:00Z"}),
        )
        .await
        .unwrap();
        assert!(
            matches!(unknown, Err(FlowError::Failed(ref r)) if r.contains("not one the component describes")),
            "{unknown:?}"
        );
        let described = run_job(
            &rt,
            &acme,
            "schedule",
            json!({"job": "tick", "args": "{}", "at": "2026-11-22T10:00:00Z"}),
        )
        .await
        .unwrap();
        assert!(described.is_ok(), "{described:?}");
    });
}

#[test]
fn a_call_waits_for_a_free_instance_while_the_pool_is_in_use() {
    let rt = guest(Limits {
        pool_instances: 2,
        ..Limits::default()
    });
    let db = Database::in_memory().unwrap();
    let acme = tenant("acme", &db, &[], BTreeMap::new());
    block_on(async {
        let first = rt.instantiate(&acme).await.unwrap();
        let second = rt.instantiate(&acme).await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(300), rt.instantiate(&acme)).await;
        assert!(
            third.is_err(),
            "a third call waits while both instances are in use (it neither fails nor runs)"
        );
        drop(first);
        let (mut store, plugin) =
            tokio::time::timeout(Duration::from_secs(10), rt.instantiate(&acme))
                .await
                .expect("an instance once one is free")
                .unwrap();
        let jobs = plugin
            .ledgerlink_sync_flows()
            .call_describe(&mut store)
            .await
            .unwrap();
        assert!(!jobs.is_empty());
        drop(second);
    });
}

//! Failures people see (issue 13, fix 8): a job that fails as a whole, a record whose retries
//! ran out, a connection that needs reconnecting and the Salesforce daily quota at its reserve
//! each post exactly one notification to the tenant's `notify` connection and show in
//! `ledgerlink status` until they clear.

use ledgerlink::alerts::Alerts;
use ledgerlink::auth::broker::BrokerHooks;
use ledgerlink::caps::http::Connection;
use ledgerlink::caps::pacing::{BudgetKind, Pacer, PacingConfig, SFORCE_LIMIT_INFO};
use ledgerlink::caps::schedule::StoreSchedule;
use ledgerlink::caps::storage::sqlite::SqliteBackend;
use ledgerlink::caps::storage::KeyValueBackend;
use ledgerlink::config::HostConfig;
use ledgerlink::db::Database;
use ledgerlink::emulated_company::NotifySink;
use ledgerlink::metrics::Metrics;
use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink::scheduler::ledger::MAX_ATTEMPTS;
use ledgerlink::scheduler::Runner;
use ledgerlink::tenant::TenantCaps;
use ledgerlink_emulators::RunningServer;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn wait_for_messages(sink: &NotifySink, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.messages().len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Anything more would come at once: give it a moment to show.
    tokio::time::sleep(Duration::from_millis(200)).await;
    sink.messages()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_a_person_must_see_is_notified_once_and_listed() {
    let sink = NotifySink::default();
    let server = RunningServer::start(sink.router(), 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("ledgerlink.toml");
    std::fs::write(
        &config_path,
        format!(
            "[[tenant]]\nid = \"acme\"\n[tenant.connections.notify]\nbase-url = \"{}/\"\n",
            server.url()
        ),
    )
    .unwrap();
    let config = HostConfig::load(&config_path).unwrap();
    let db = Database::open(&config.store.path).unwrap();
    let alerts = Alerts::new(
        db.clone(),
        BTreeMap::from([(
            "acme".to_string(),
            format!("{}/", server.url()).parse().unwrap(),
        )]),
    )
    .unwrap();
    // A Salesforce connection whose last answer said 14,500 of 15,000 calls are used.
    let pacer = Arc::new(Pacer::new(BudgetKind::Salesforce, PacingConfig::default()));
    let salesforce =
        Connection::new("http://127.0.0.1:9".parse().unwrap(), None).with_pacer(pacer.clone());
    let kv = SqliteBackend::new(db.clone());
    let caps = TenantCaps {
        id: "acme".into(),
        settings: Arc::default(),
        connections: Arc::new(BTreeMap::from([("salesforce".to_string(), salesforce)])),
        storage: Arc::new(kv.clone()),
        schedule: Arc::new(StoreSchedule::new(db.clone())),
    };
    let guest =
        Runtime::from_file(Path::new(ledgerlink::TEST_GUEST_PATH), Limits::default()).unwrap();
    let runner = Runner::new(
        guest,
        BTreeMap::from([("acme".to_string(), caps)]),
        &db,
        Metrics::new(),
    )
    .unwrap()
    .with_alerts(alerts.clone());

    // 1. A job that fails as a whole, three times: one notification.
    for _ in 0..3 {
        runner
            .run("acme", "tick", "not json", "manual")
            .await
            .unwrap();
    }
    let messages = wait_for_messages(&sink, 1).await;
    assert_eq!(messages.len(), 1, "{messages:#?}");
    assert!(
        messages[0].contains("Ledgerlink acme: tick: invalid arguments"),
        "{messages:#?}"
    );

    // 2. A record that keeps failing: one notification when its last automatic attempt fails,
    // none for the runs before or after.
    kv.set("acme", "flaky", "006R", b"retryable").unwrap();
    for _ in 0..(MAX_ATTEMPTS + 2) {
        runner.run("acme", "flaky", "{}", "manual").await.unwrap();
    }
    let messages = wait_for_messages(&sink, 2).await;
    assert_eq!(messages.len(), 2, "{messages:#?}");
    assert!(
        messages[1].contains(&format!(
            "Opportunity 006R failed {MAX_ATTEMPTS} times in flaky"
        )),
        "{messages:#?}"
    );

    // 3. A connection that needs reconnecting (the broker says so once per transition).
    alerts.needs_reconnect(
        "acme",
        "quickbooks",
        "invalid_grant: the refresh token was revoked",
    );
    alerts.needs_reconnect(
        "acme",
        "quickbooks",
        "invalid_grant: the refresh token was revoked",
    );

    // 4. The Salesforce quota at its reserve (1,000 by default): seen after the next run.
    let mut headers = http::HeaderMap::new();
    headers.insert(SFORCE_LIMIT_INFO, "api-usage=14500/15000".parse().unwrap());
    let _ = pacer.observe(&pacer.lane_of(""), http::StatusCode::OK, &headers);
    runner.run("acme", "tick", "{}", "manual").await.unwrap();
    runner.run("acme", "tick", "{}", "manual").await.unwrap();
    let messages = wait_for_messages(&sink, 4).await;
    assert_eq!(messages.len(), 4, "{messages:#?}");
    assert!(messages
        .iter()
        .any(|m| m.contains("quickbooks connection needs to be reconnected")));
    assert!(messages
        .iter()
        .any(|m| m.contains("Salesforce daily API use is at 14500 of 15000")));

    // `ledgerlink status` lists what is still open: the tick job ran ok since, so its alert is
    // gone; the record, the connection and the quota remain.
    let runtime =
        Runtime::from_file(Path::new(ledgerlink::TEST_GUEST_PATH), Limits::default()).unwrap();
    let statuses = ledgerlink::status::collect(&config, &db, &runtime)
        .await
        .unwrap();
    let kinds: Vec<&str> = statuses[0].alerts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["retries-exhausted", "needs-reconnect", "quota-reserve"],
        "{:#?}",
        statuses[0].alerts
    );
    assert!(statuses[0].alerts.iter().all(|a| a.notified));
    let text = ledgerlink::status::render_text(&statuses);
    assert!(text.contains("ALERT retries-exhausted"), "{text}");

    // The record fixed and retried: its alert clears.
    kv.set("acme", "flaky", "006R", b"ok").unwrap();
    runner.run("acme", "flaky", "{}", "manual").await.unwrap();
    let statuses = ledgerlink::status::collect(&config, &db, &runtime)
        .await
        .unwrap();
    let kinds: Vec<&str> = statuses[0].alerts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["needs-reconnect", "quota-reserve"]);
    assert_eq!(sink.messages().len(), 4, "nothing more was posted");
}

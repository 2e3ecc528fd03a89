//! Pacing and the 401 retry, through a real guest (`host/test-guest`) against the QBO
//! emulator: a 429 storm answers the guest at once with the typed 429 instead of holding it, the
//! budget keeps the request rate under QBO's limits, and a refused access token is renewed and
//! the request (with its body) sent once more.

use chrono::Duration as ChronoDuration;
use ledgerlink::auth::qbo::{QboEndpoints, QboOAuth};
use ledgerlink::auth::{Clock, Secret, StoredTokens, TokenBroker, Vault, VaultKey};
use ledgerlink::caps::http::{Connection, CredentialSource, StaticToken};
use ledgerlink::caps::pacing::{BudgetKind, Pacer, PacingConfig};
use ledgerlink::caps::schedule::StoreSchedule;
use ledgerlink::caps::storage::sqlite::SqliteBackend;
use ledgerlink::db::Database;
use ledgerlink::flow_calls;
use ledgerlink::metrics::{self, Metrics};
use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink::tenant::TenantCaps;
use ledgerlink_emulators::qbo::{QboConfig, QboEmulator};
use ledgerlink_emulators::{FaultKind, FaultRule, RunningServer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

fn guest() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::from_file(Path::new(ledgerlink::TEST_GUEST_PATH), Limits::default())
            .expect("load the test guest")
    })
}

fn tenant(connection: Connection) -> TenantCaps {
    let db = Database::in_memory().unwrap();
    TenantCaps {
        id: "acme".into(),
        settings: Arc::default(),
        connections: Arc::new(BTreeMap::from([("quickbooks".to_string(), connection)])),
        storage: Arc::new(SqliteBackend::new(db.clone())),
        schedule: Arc::new(StoreSchedule::new(db)),
    }
}

fn qbo() -> (QboEmulator, RunningServer, String) {
    let (emu, server) = QboEmulator::start(QboConfig::default(), 0).unwrap();
    let realm = emu.config().realms[0].clone();
    (emu, server, realm)
}

fn paced(
    server: &RunningServer,
    token: Arc<dyn CredentialSource>,
    pacing: PacingConfig,
    metrics: &Metrics,
) -> Connection {
    let pacer =
        Pacer::new(BudgetKind::Qbo, pacing).with_metrics(metrics.clone(), "acme", "quickbooks");
    Connection::new(url::Url::parse(&server.url()).unwrap(), Some(token))
        .with_pacer(Arc::new(pacer))
}

/// Runs `fetch-many` and returns what the guest saw for each request.
async fn fetch_many(caps: &TenantCaps, url: &str, count: u64) -> Vec<Value> {
    let report = flow_calls::run_job(
        guest(),
        caps,
        "fetch-many",
        &json!({"url": url, "count": count}).to_string(),
    )
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("fetch-many failed: {e:?}"));
    serde_json::from_str::<Value>(&report.records[0].detail)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn status(v: &Value) -> u64 {
    v["status"].as_u64().unwrap()
}

fn retry_in_secs(v: &Value) -> i64 {
    let at = v["retry-at"].as_str().expect("x-ledgerlink-retry-at");
    let at = chrono::DateTime::parse_from_rfc3339(at).expect("RFC 3339");
    assert!(at.to_rfc3339().ends_with("+00:00"), "UTC: {at}");
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_seconds()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_answers_the_guest_at_once_and_stops_calling_qbo() {
    let (emu, server, realm) = qbo();
    emu.faults().push(FaultRule {
        method: None,
        path_contains: Some("/companyinfo/".into()),
        fault: FaultKind::Status { status: 429 },
        probability: 1.0,
        times: None,
    });
    let token = emu.issue_tokens(&realm).access_token;
    let metrics = Metrics::new();
    let caps = tenant(paced(
        &server,
        Arc::new(StaticToken(token)),
        PacingConfig::default(),
        &metrics,
    ));
    let url = format!("http://quickbooks/v3/company/{realm}/companyinfo/{realm}");
    let started = Instant::now();
    let seen = fetch_many(&caps, &url, 6).await;
    let elapsed = started.elapsed();
    // The first 429 is QBO's, passed through with the retry time added (60 s, as documented).
    assert_eq!(status(&seen[0]), 429);
    assert!((55..=61).contains(&retry_in_secs(&seen[0])), "{seen:?}");
    // The rest are the host's own, at once, with Retry-After and the same horizon.
    for s in &seen[1..] {
        assert_eq!(status(s), 429, "{s}");
        assert!(s["ms"].as_u64().unwrap() < 200, "answered at once: {s}");
        let after: i64 = s["retry-after"].as_str().unwrap().parse().unwrap();
        assert!((55..=61).contains(&after), "{s}");
        assert!((55..=61).contains(&retry_in_secs(s)), "{s}");
    }
    assert!(
        elapsed < Duration::from_secs(5),
        "the guest was not held: {elapsed:?}"
    );
    let upstream = emu.log().count(|r| r.path.contains("/companyinfo/"));
    assert_eq!(upstream, 1, "only the first request reached QBO");
    assert!(metrics.counter_total(metrics::THROTTLES) >= 6);
    // Another tenant connection (another pacer) is not affected by this realm's penalty... but
    // QBO still is in its storm; clearing it, a fresh pacer goes through.
    emu.faults().clear();
    let token = emu.issue_tokens(&realm).access_token;
    let other = tenant(paced(
        &server,
        Arc::new(StaticToken(token)),
        PacingConfig::default(),
        &Metrics::new(),
    ));
    assert_eq!(status(&fetch_many(&other, &url, 1).await[0]), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_keeps_the_rate_under_qbos_limits() {
    let (emu, server, realm) = qbo();
    let token = emu.issue_tokens(&realm).access_token;
    let metrics = Metrics::new();
    // QBO allows 10 a second; 25 requests in a row must take more than two seconds and never
    // meet a 429. The minute budget (here 22) then refuses the rest at once.
    let pacing = PacingConfig {
        per_minute: 22,
        ..PacingConfig::default()
    };
    let caps = tenant(paced(
        &server,
        Arc::new(StaticToken(token)),
        pacing,
        &metrics,
    ));
    let url = format!("http://quickbooks/v3/company/{realm}/companyinfo/{realm}");
    let started = Instant::now();
    let seen = fetch_many(&caps, &url, 25).await;
    let elapsed = started.elapsed();
    let ok = seen.iter().filter(|s| status(s) == 200).count();
    assert_eq!(ok, 22, "{seen:?}");
    assert!(
        elapsed >= Duration::from_secs(2),
        "10 a second: {elapsed:?}"
    );
    for s in &seen[22..] {
        assert_eq!(status(s), 429);
        assert!(s["ms"].as_u64().unwrap() < 200, "{s}");
        assert!((50..=61).contains(&retry_in_secs(s)), "{s}");
    }
    assert_eq!(
        emu.log().count(|r| r.status == 429),
        0,
        "QBO never throttled us"
    );
    assert_eq!(emu.log().count(|r| r.path.contains("/companyinfo/")), 22);
    assert_eq!(
        metrics.counter(
            metrics::THROTTLES,
            &[
                ("tenant", "acme"),
                ("connection", "quickbooks"),
                ("reason", "budget")
            ]
        ),
        3
    );
}

fn broker_for(emu: &QboEmulator, server: &RunningServer, realm: &str) -> TokenBroker {
    let base = url::Url::parse(&server.url()).unwrap();
    let endpoints = QboEndpoints {
        authorization: base.join("/connect/oauth2").unwrap(),
        token: base.join("/oauth2/v1/tokens/bearer").unwrap(),
        revocation: None,
    };
    let config = emu.config();
    let oauth = QboOAuth::new(
        endpoints,
        config.client_id.clone(),
        Secret::new(config.client_secret.clone()),
        "http://127.0.0.1:1/cb",
    )
    .unwrap();
    let vault = Vault::open(Database::in_memory().unwrap(), &VaultKey::generate()).unwrap();
    let clock = emu.clock();
    let clock: Arc<dyn Clock> = Arc::new(move || clock.now());
    let broker = TokenBroker::qbo("acme", "quickbooks", oauth, vault)
        .clock(clock)
        .build()
        .unwrap();
    let pair = emu.issue_tokens(realm);
    let now = emu.clock().now();
    broker
        .install(StoredTokens {
            access_token: Secret::new(pair.access_token),
            issued_at: now,
            access_expires_at: Some(now + ChronoDuration::seconds(3600)),
            refresh_token: Some(Secret::new(pair.refresh_token)),
            refresh_expires_at: None,
            instance_url: None,
            realm: Some(realm.to_string()),
        })
        .unwrap();
    broker
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_renews_the_token_and_resends_the_request_with_its_body_once() {
    let (emu, server, realm) = qbo();
    let broker = broker_for(&emu, &server, &realm);
    let caps = tenant(paced(
        &server,
        Arc::new(broker.clone()),
        PacingConfig::default(),
        &Metrics::new(),
    ));
    // QBO refuses the (still unexpired) access token once, as after a revocation.
    emu.faults().push(FaultRule {
        method: Some("POST".into()),
        path_contains: Some("/query".into()),
        fault: FaultKind::ExpiredToken,
        probability: 1.0,
        times: Some(1),
    });
    let args = json!({
        "url": format!("http://quickbooks/v3/company/{realm}/query?minorversion=75"),
        "method": "POST",
        "headers": {"content-type": "application/text"},
        "body": "select * from Customer",
    });
    let report = flow_calls::run_job(guest(), &caps, "fetch", &args.to_string())
        .await
        .unwrap()
        .unwrap();
    let detail = &report.records[0].detail;
    assert!(detail.starts_with("200 "), "{detail}");
    assert!(
        detail.contains("QueryResponse"),
        "the body was sent again: {detail}"
    );
    let queries: Vec<u16> = emu
        .log()
        .entries()
        .into_iter()
        .filter(|r| r.path.contains("/query"))
        .map(|r| r.status)
        .collect();
    assert_eq!(queries, vec![401, 200]);
    assert_eq!(
        emu.log().count(|r| r.path.ends_with("/tokens/bearer")),
        1,
        "one refresh"
    );
    assert_eq!(broker.endpoint_calls(), 1);

    // A static token cannot be renewed: the 401 goes to the guest, sent once.
    emu.faults().push(FaultRule {
        method: None,
        path_contains: Some("/companyinfo/".into()),
        fault: FaultKind::ExpiredToken,
        probability: 1.0,
        times: Some(1),
    });
    let fixed = tenant(Connection::new(
        url::Url::parse(&server.url()).unwrap(),
        Some(Arc::new(StaticToken(emu.issue_tokens(&realm).access_token))),
    ));
    let args = json!({"url": format!("http://quickbooks/v3/company/{realm}/companyinfo/{realm}")});
    let report = flow_calls::run_job(guest(), &fixed, "fetch", &args.to_string())
        .await
        .unwrap()
        .unwrap();
    assert!(
        report.records[0].detail.starts_with("401 "),
        "{}",
        report.records[0].detail
    );
    assert_eq!(emu.log().count(|r| r.path.contains("/companyinfo/")), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn salesforce_calls_stop_at_the_daily_quota_reserve() {
    use ledgerlink_emulators::salesforce::{SalesforceConfig, SalesforceEmulator};
    let (emu, server) = SalesforceEmulator::start(
        SalesforceConfig {
            daily_api_limit: 10,
            ..SalesforceConfig::default()
        },
        0,
    )
    .unwrap();
    let pacing = PacingConfig {
        daily_reserve: 3,
        ..PacingConfig::default()
    };
    let metrics = Metrics::new();
    let pacer = Pacer::new(BudgetKind::Salesforce, pacing).with_metrics(
        metrics.clone(),
        "acme",
        "salesforce",
    );
    let connection = Connection::new(
        url::Url::parse(&server.url()).unwrap(),
        Some(Arc::new(StaticToken(emu.issue_token()))),
    )
    .with_pacer(Arc::new(pacer));
    let db = Database::in_memory().unwrap();
    let caps = TenantCaps {
        id: "acme".into(),
        settings: Arc::default(),
        connections: Arc::new(BTreeMap::from([("salesforce".to_string(), connection)])),
        storage: Arc::new(SqliteBackend::new(db.clone())),
        schedule: Arc::new(StoreSchedule::new(db)),
    };
    let seen = fetch_many(&caps, "http://salesforce/services/data/v61.0/sobjects", 10).await;
    let statuses: Vec<u64> = seen.iter().map(status).collect();
    // 7 of 10 used leaves the reserve of 3: nothing more is sent today.
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 200, 429, 429, 429],
        "{seen:?}"
    );
    for s in &seen[7..] {
        assert!(s["ms"].as_u64().unwrap() < 200, "{s}");
        assert!((250..=301).contains(&retry_in_secs(s)), "{s}");
    }
    assert_eq!(emu.log().count(|r| r.path.ends_with("/sobjects")), 7);
    assert_eq!(
        metrics.counter(
            metrics::THROTTLES,
            &[
                ("tenant", "acme"),
                ("connection", "salesforce"),
                ("reason", "daily_quota")
            ]
        ),
        4,
        "the answer that reached the reserve and the three refused calls"
    );
}

//! The QBO webhook receiver over real HTTP: signatures (the published vectors), limits,
//! de-duplication, routing per tenant, the durable inbox, the drain worker, metrics, and the
//! QBO emulator delivering to it in both payload formats.

use ledgerlink::db::Database;
use ledgerlink::metrics::{self, Metrics};
use ledgerlink::webhooks::payload::{self, Operation};
use ledgerlink::webhooks::signature::{self, sign};
use ledgerlink::webhooks::{
    self, drain_once, Inbox, InboxHandler, InboxItem, InboxState, ServerHandle, WebhookConfig,
    WebhookState, WebhookTenants,
};
use ledgerlink_emulators::qbo::{QboConfig, QboEmulator, WebhookFormat};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DOTNET_REALM: &str = "1269959970";
const DOTNET_TOKEN: &str = "00faeec4-08d0-4996-bb37-698ae19f0149";

fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/fixtures")
        .join(rel)
}

fn fixture(rel: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(rel)).expect("fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

fn legacy_body(realm: &str, entity: &str, id: &str) -> String {
    format!(
        r#"{{"eventNotifications":[{{"realmId":"{realm}","dataChangeEvent":{{"entities":[{{"name":"{entity}","id":"{id}","operation":"Update","lastUpdated":"2024-05-01T10:00:00.000Z"}}]}}}}]}}"#
    )
}

/// A receiver on 127.0.0.1:0 over a SQLite file in a temporary directory.
struct Receiver {
    _dir: tempfile::TempDir,
    state: WebhookState,
    server: ServerHandle,
    http: reqwest::Client,
}

impl Receiver {
    async fn start(tenants: WebhookTenants) -> Self {
        Self::start_with(tenants, WebhookConfig::default()).await
    }

    async fn start_with(tenants: WebhookTenants, config: WebhookConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledgerlink.db");
        let inbox = Inbox::new(Database::open(&path).unwrap()).unwrap();
        let state = WebhookState::new(inbox, tenants, Metrics::new(), config);
        let server = webhooks::serve("127.0.0.1:0".parse().unwrap(), state.clone())
            .await
            .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Self {
            _dir: dir,
            state,
            server,
            http,
        }
    }

    fn hook_url(&self) -> String {
        format!("{}/webhooks/quickbooks", self.server.url())
    }

    async fn post(&self, body: impl Into<Vec<u8>>, signature: Option<&str>) -> (u16, Value) {
        let mut req = self
            .http
            .post(self.hook_url())
            .header("content-type", "application/json")
            .body(body.into());
        if let Some(s) = signature {
            req = req.header("intuit-signature", s);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let resp = self
            .http
            .get(format!("{}{path}", self.server.url()))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    fn rows(&self) -> Vec<InboxItem> {
        self.state.inbox.list(None).unwrap()
    }
}

fn acme() -> WebhookTenants {
    WebhookTenants::new()
        .with(DOTNET_REALM, "acme", DOTNET_TOKEN)
        .with("2222", "globex", "globex-token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_published_vectors_verify_and_the_must_reject_case_is_refused() {
    for name in ["legacy_dotnet_sdk", "python_quickbooks_minimal"] {
        let vector = fixture(&format!("webhooks/{name}.vector.json"));
        let body = std::fs::read(fixture_path(&format!("webhooks/{name}.body.json"))).unwrap();
        let token = vector["verifier_token"].as_str().unwrap();
        let expected = vector["intuit_signature"].as_str().unwrap();
        assert_eq!(sign(token, &body), expected, "{name}");
        assert_eq!(signature::verify(token, &body, expected), Ok(()), "{name}");
        for case in vector["must_reject"].as_array().unwrap() {
            let bad = case["body"].as_str().unwrap().as_bytes();
            let sig = case["intuit_signature"].as_str().unwrap();
            assert!(
                signature::verify(token, bad, sig).is_err(),
                "{}",
                case["case"]
            );
        }
    }

    // Over HTTP: the .NET vector is a real legacy payload and is stored as sent.
    let rx = Receiver::start(acme().with("4444", "pyco", "verify_me")).await;
    let body = std::fs::read(fixture_path("webhooks/legacy_dotnet_sdk.body.json")).unwrap();
    let (status, answer) = rx
        .post(
            body.clone(),
            Some("6q+xGyMirJupwKTh2/WBl2NcdxzxqdIbk3sneKTxLWM="),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let rows = rx.rows();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (
            rows[0].tenant.as_str(),
            rows[0].realm.as_str(),
            rows[0].source.as_str()
        ),
        ("acme", DOTNET_REALM, "quickbooks")
    );
    assert_eq!(rows[0].body, body, "stored byte for byte");

    // The python vector verifies (so the answer is 400, not 401) but is not a QBO payload.
    let (status, answer) = rx
        .post(
            r#"{"stuff":"5"}"#,
            Some("nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA="),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("eventNotifications"));
    // The must_reject case: the empty body with that signature.
    let (status, _) = rx
        .post("", Some("nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA="))
        .await;
    assert_eq!(status, 401);
    assert_eq!(rx.rows().len(), 1, "nothing else stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_missing_and_other_tenant_signatures_are_401_and_store_nothing() {
    let rx = Receiver::start(acme()).await;
    let body = legacy_body(DOTNET_REALM, "Invoice", "7");
    let forged = sign("guessed-token", body.as_bytes());
    let globex = sign("globex-token", body.as_bytes());
    let mut tampered = sign(DOTNET_TOKEN, body.as_bytes()).into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (case, signature) in [
        ("forged", Some(forged.as_str())),
        ("missing", None),
        ("another tenant's token", Some(globex.as_str())),
        ("one character changed", Some(tampered.as_str())),
        ("not base64", Some("%%%")),
        ("empty", Some("")),
    ] {
        let (status, answer) = rx.post(body.clone(), signature).await;
        assert_eq!(status, 401, "{case}: {answer}");
    }
    // A realm no tenant serves cannot be verified.
    let stranger = legacy_body("9999", "Invoice", "7");
    let (status, _) = rx
        .post(
            stranger.clone(),
            Some(&sign(DOTNET_TOKEN, stranger.as_bytes())),
        )
        .await;
    assert_eq!(status, 401);
    assert!(rx.rows().is_empty());
    assert_eq!(
        rx.state.metrics.counter_total(metrics::WEBHOOKS_REJECTED),
        7
    );
    assert_eq!(
        rx.state.metrics.counter(
            metrics::WEBHOOKS_REJECTED,
            &[
                ("tenant", "acme"),
                ("source", "quickbooks"),
                ("reason", "bad_signature")
            ]
        ),
        4
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_body_is_stored_once_and_answered_200_both_times() {
    let rx = Receiver::start(acme()).await;
    let body = legacy_body(DOTNET_REALM, "Invoice", "7");
    let sig = sign(DOTNET_TOKEN, body.as_bytes());
    let (first, a) = rx.post(body.clone(), Some(&sig)).await;
    let (second, b) = rx.post(body.clone(), Some(&sig)).await;
    assert_eq!((first, second), (200, 200));
    assert_eq!(a["stored"][0]["duplicate"], false);
    assert_eq!(b["stored"][0]["duplicate"], true);
    assert_eq!(a["stored"][0]["id"], b["stored"][0]["id"]);
    assert_eq!(rx.rows().len(), 1);
    let m = &rx.state.metrics;
    let labels = [("tenant", "acme"), ("source", "quickbooks")];
    assert_eq!(m.counter(metrics::WEBHOOKS_STORED, &labels), 1);
    assert_eq!(m.counter(metrics::WEBHOOKS_DUPLICATES, &labels), 1);
    assert_eq!(m.counter(metrics::WEBHOOKS_RECEIVED, &labels), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_413_and_not_stored() {
    // The default limit (1 MiB), with Content-Length.
    let rx = Receiver::start(acme()).await;
    let padding = "x".repeat(1024 * 1024);
    let big = format!(
        r#"{{"eventNotifications":[{{"realmId":"{DOTNET_REALM}","pad":"{padding}","dataChangeEvent":{{"entities":[]}}}}]}}"#
    );
    let (status, answer) = rx
        .post(big.clone(), Some(&sign(DOTNET_TOKEN, big.as_bytes())))
        .await;
    assert_eq!(status, 413, "{answer}");
    assert!(rx.rows().is_empty());

    // A configured limit, and a chunked body that declares no length.
    let small = Receiver::start_with(
        acme(),
        WebhookConfig {
            max_body_bytes: 256,
            ..WebhookConfig::default()
        },
    )
    .await;
    let body = legacy_body(DOTNET_REALM, "Invoice", &"9".repeat(300));
    let sig = sign(DOTNET_TOKEN, body.as_bytes());
    assert_eq!(small.post(body.clone(), Some(&sig)).await.0, 413);
    let status = chunked_post(small.server.addr(), &body, &sig).await;
    assert_eq!(status, 413);
    assert!(small.rows().is_empty());
    assert_eq!(
        small.state.metrics.counter(
            metrics::WEBHOOKS_REJECTED,
            &[
                ("tenant", "unknown"),
                ("source", "quickbooks"),
                ("reason", "too_large")
            ]
        ),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_over_the_in_flight_cap_are_503_before_their_body_is_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rx = Receiver::start_with(
        acme(),
        WebhookConfig {
            max_in_flight: 1,
            ..WebhookConfig::default()
        },
    )
    .await;
    let body = legacy_body(DOTNET_REALM, "Invoice", "130");
    let sig = sign(DOTNET_TOKEN, body.as_bytes());
    // A slow sender: headers and half the body, then nothing for now.
    let addr = rx.server.addr();
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (first, rest) = body.split_at(body.len() / 2);
    slow.write_all(
        format!(
            "POST /webhooks/quickbooks HTTP/1.1\r\nHost: {addr}\r\nintuit-signature: {sig}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{first}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The slot is taken: the next delivery is turned away with a time to come back.
    let (status, answer) = rx.post(body.clone(), Some(&sig)).await;
    assert_eq!(status, 503, "{answer}");
    assert!(rx.rows().is_empty());
    // The slow one finishes and is stored; then the slot is free again.
    slow.write_all(rest.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = slow.read_to_end(&mut response).await;
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 200"));
    assert_eq!(rx.rows().len(), 1);
    let other = legacy_body(DOTNET_REALM, "Invoice", "131");
    let sig = sign(DOTNET_TOKEN, other.as_bytes());
    assert_eq!(rx.post(other, Some(&sig)).await.0, 200);
    assert_eq!(
        rx.state.metrics.counter(
            metrics::WEBHOOKS_REJECTED,
            &[
                ("tenant", "unknown"),
                ("source", "quickbooks"),
                ("reason", "busy")
            ]
        ),
        1
    );
}

/// POSTs `body` with `Transfer-Encoding: chunked` over a raw socket; returns the status.
async fn chunked_post(addr: std::net::SocketAddr, body: &str, signature: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!(
        "POST /webhooks/quickbooks HTTP/1.1\r\nHost: {addr}\r\nintuit-signature: {signature}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
    );
    for chunk in body.as_bytes().chunks(64) {
        request.push_str(&format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            String::from_utf8_lossy(chunk)
        ));
    }
    request.push_str("0\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_with_a_valid_signature_is_400_and_not_stored() {
    let rx = Receiver::start(acme()).await;
    for body in [
        r#"{"eventNotifications":[{"realmId":"1269959970","#.to_string(),
        "not json at all".to_string(),
        // Valid JSON, readable realm, but an entity without its id: the error names the field.
        format!(
            r#"{{"eventNotifications":[{{"realmId":"{DOTNET_REALM}","dataChangeEvent":{{"entities":[{{"name":"Invoice","operation":"Update"}}]}}}}]}}"#
        ),
    ] {
        let (status, answer) = rx
            .post(body.clone(), Some(&sign(DOTNET_TOKEN, body.as_bytes())))
            .await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    let body = format!(
        r#"{{"eventNotifications":[{{"realmId":"{DOTNET_REALM}","dataChangeEvent":{{"entities":[{{"name":"Invoice","operation":"Update"}}]}}}}]}}"#
    );
    let (_, answer) = rx
        .post(body.clone(), Some(&sign(DOTNET_TOKEN, body.as_bytes())))
        .await;
    assert_eq!(
        answer["error"],
        "eventNotifications[0].dataChangeEvent.entities[0].id: expected a non-empty string id"
    );
    // The same malformed body unsigned is 401, not 400: nothing is read before verification.
    assert_eq!(
        rx.post("not json at all", Some(&sign("x", b"not json at all")))
            .await
            .0,
        401
    );
    assert!(rx.rows().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_and_cloud_events_payloads_become_events() {
    let legacy = std::fs::read(fixture_path("webhooks/legacy_dotnet_sdk.body.json")).unwrap();
    let parsed = payload::parse(&legacy).unwrap();
    assert_eq!(parsed.format, payload::Format::Legacy);
    let got: Vec<_> = parsed
        .events
        .iter()
        .map(|e| {
            (
                e.realm.as_str(),
                e.entity.as_str(),
                e.id.as_str(),
                e.operation,
                e.last_updated.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (
                DOTNET_REALM,
                "Vendor",
                "40",
                Operation::Update,
                Some("2016-10-05T03:09:04.000Z")
            ),
            (
                DOTNET_REALM,
                "Customer",
                "43",
                Operation::Create,
                Some("2016-10-05T03:07:04.000Z")
            ),
        ]
    );

    // A CloudEvents delivery naming two realms of two tenants of the same app: each tenant gets a
    // row with only its own events.
    let cloud = json!([
        {"specversion":"1.0","id":"a","source":"intuit.x","type":"qbo.invoice.updated.v1","datacontenttype":"application/json",
         "time":"2025-09-10T21:31:25.179851517Z","intuitentityid":"1234","intuitaccountid":"310687","data":{}},
        {"specversion":"1.0","id":"b","source":"intuit.x","type":"qbo.customer.merged.v1",
         "time":"2025-09-10T21:31:26Z","intuitentityid":"5","intuitaccountid":"777","data":{"deletedid":"27"}}
    ])
    .to_string();
    let parsed = payload::parse(cloud.as_bytes()).unwrap();
    assert_eq!(parsed.format, payload::Format::CloudEvents);
    assert_eq!(parsed.realms(), vec!["310687", "777"]);
    assert_eq!(
        (
            parsed.events[0].entity.as_str(),
            parsed.events[0].id.as_str(),
            parsed.events[0].operation
        ),
        ("Invoice", "1234", Operation::Update)
    );
    assert_eq!(parsed.events[1].deleted_id.as_deref(), Some("27"));

    let tenants = WebhookTenants::new()
        .with("310687", "north", "app-token")
        .with("777", "south", "app-token");
    let rx = Receiver::start(tenants).await;
    let (status, answer) = rx
        .post(cloud.clone(), Some(&sign("app-token", cloud.as_bytes())))
        .await;
    assert_eq!(status, 200, "{answer}");
    let rows = rx.rows();
    assert_eq!(rows.len(), 2);
    for (row, (tenant, realm, entity)) in rows
        .iter()
        .zip([("north", "310687", "Invoice"), ("south", "777", "Customer")])
    {
        assert_eq!((row.tenant.as_str(), row.realm.as_str()), (tenant, realm));
        let events = payload::parse(&row.body).unwrap().events;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].entity, entity);
    }

    // Realms of two tenants with different tokens: refused whichever token signed it.
    let tenants = WebhookTenants::new()
        .with("310687", "north", "north-token")
        .with("777", "south", "south-token");
    let rx = Receiver::start(tenants).await;
    for token in ["north-token", "south-token"] {
        assert_eq!(
            rx.post(cloud.clone(), Some(&sign(token, cloud.as_bytes())))
                .await
                .0,
            401
        );
    }
    assert!(rx.rows().is_empty());
}

/// Records what the worker hands over.
type Seen = Arc<Mutex<Vec<(String, String, String, Operation)>>>;

fn recording_handler(seen: Seen) -> Arc<dyn InboxHandler> {
    Arc::new(move |item: InboxItem| {
        let seen = seen.clone();
        async move {
            let parsed = payload::parse(&item.body)?;
            for e in parsed.events {
                seen.lock()
                    .unwrap()
                    .push((item.tenant.clone(), e.entity, e.id, e.operation));
            }
            Ok(())
        }
    })
}

async fn end_to_end(format: WebhookFormat) {
    let realm = "9130355377151526";
    let token = "e2e-verifier-token";
    let rx = Receiver::start(WebhookTenants::new().with(realm, "acme", token)).await;
    let (emu, api) = QboEmulator::start(
        QboConfig {
            realms: vec![realm.into()],
            verifier_token: token.into(),
            webhook_url: Some(rx.hook_url()),
            webhook_format: format,
            ..QboConfig::default()
        },
        0,
    )
    .unwrap();
    let bearer = emu.issue_tokens(realm).access_token;
    let base = format!("{}/v3/company/{realm}", api.url());
    let create = |entity: &'static str, body: Value| {
        let http = rx.http.clone();
        let url = format!("{base}/{entity}");
        let bearer = bearer.clone();
        async move {
            let resp = http
                .post(url)
                .bearer_auth(bearer)
                .header("Accept", "application/json")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status().as_u16(), 200);
            resp.json::<Value>().await.unwrap()
        }
    };
    let customer = create("customer", json!({"DisplayName": "Acme"})).await;
    let customer_id = customer["Customer"]["Id"].as_str().unwrap().to_string();
    let invoice = create(
        "invoice",
        json!({"CustomerRef": {"value": customer_id}, "Line": [{"Amount": 100.0, "DetailType": "SalesItemLineDetail",
               "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]}),
    )
    .await;
    let invoice_id = invoice["Invoice"]["Id"].as_str().unwrap().to_string();

    // Wait (bounded) until the inbox holds both events.
    let deadline = Instant::now() + Duration::from_secs(10);
    let event_count = |rows: &[InboxItem]| {
        rows.iter()
            .map(|r| payload::parse(&r.body).map(|p| p.events.len()).unwrap_or(0))
            .sum::<usize>()
    };
    while event_count(&rx.rows()) < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rows = rx.rows();
    assert!(event_count(&rows) >= 2, "{format:?}: inbox {rows:?}");
    assert!(emu
        .webhook_deliveries()
        .iter()
        .all(|d| d.status == Some(200)));

    let seen: Seen = Arc::default();
    let report = drain_once(&rx.state.inbox, recording_handler(seen.clone()))
        .await
        .unwrap();
    assert_eq!(report.claimed, rows.len());
    assert_eq!(report.done.len(), rows.len());
    assert!(report.failed.is_empty());
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.contains(&(
            "acme".into(),
            "Customer".into(),
            customer_id.clone(),
            Operation::Create
        )),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(
            "acme".into(),
            "Invoice".into(),
            invoice_id.clone(),
            Operation::Create
        )),
        "{seen:?}"
    );
    assert_eq!(rx.state.inbox.depth_of("acme").unwrap(), 0);
    assert!(rx.rows().iter().all(|r| r.state == InboxState::Done));

    let (status, text) = rx.get("/metrics").await;
    assert_eq!(status, 200);
    let stored = format!(
        "ledgerlink_webhooks_stored_total{{source=\"quickbooks\",tenant=\"acme\"}} {}\n",
        rows.len()
    );
    assert!(text.contains(&stored), "{text}");
    assert!(
        text.contains("ledgerlink_inbox_depth{tenant=\"acme\"} 0\n"),
        "{text}"
    );
    assert!(
        text.contains(
            "ledgerlink_webhook_request_seconds_count{source=\"quickbooks\",tenant=\"acme\"}"
        ),
        "{text}"
    );
    let (status, health) = rx.get("/healthz").await;
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["inbox_pending"], 0);
    eprintln!(
        "{format:?}: {} deliveries, {} inbox rows, events seen {seen:?}",
        emu.webhook_deliveries().len(),
        rows.len()
    );
    drop(api);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_with_the_qbo_emulator_in_the_legacy_format() {
    end_to_end(WebhookFormat::Legacy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_with_the_qbo_emulator_in_the_cloud_events_format() {
    end_to_end(WebhookFormat::CloudEvents).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledgerlink.db");
    let bodies: Vec<String> = (0..3)
        .map(|i| legacy_body(DOTNET_REALM, "Invoice", &i.to_string()))
        .collect();
    {
        let inbox = Inbox::new(Database::open(&path).unwrap()).unwrap();
        let state = WebhookState::new(inbox, acme(), Metrics::new(), WebhookConfig::default());
        let server = webhooks::serve("127.0.0.1:0".parse().unwrap(), state.clone())
            .await
            .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        for body in &bodies {
            let status = http
                .post(format!("{}/webhooks/quickbooks", server.url()))
                .header("intuit-signature", sign(DOTNET_TOKEN, body.as_bytes()))
                .body(body.clone())
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 200);
        }
        // A worker claimed one and died before marking it.
        assert_eq!(state.inbox.claim_pending(1).unwrap().len(), 1);
        server.shutdown().await.unwrap();
        // Everything (server, state, connection) is dropped here.
    }
    let reopened = Inbox::new(Database::open(&path).unwrap()).unwrap();
    let rows = reopened.list(None).unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.state == InboxState::Pending));
    assert_eq!(
        rows.iter().map(|r| r.body.clone()).collect::<Vec<_>>(),
        bodies
            .iter()
            .map(|b| b.clone().into_bytes())
            .collect::<Vec<_>>()
    );
    assert_eq!(reopened.depth_of("acme").unwrap(), 3);
    // The two unclaimed rows drain at once; the claimed one waits for its lease.
    let seen: Seen = Arc::default();
    let report = drain_once(&reopened, recording_handler(seen.clone()))
        .await
        .unwrap();
    assert_eq!(report.done.len(), 2);
    // The claimed row is held by the dead worker's lease (5 min by default), then comes back.
    assert!(reopened.claim_pending(10).unwrap().is_empty());
    assert_eq!(reopened.depth_of("acme").unwrap(), 1);
    let held = &reopened.list(None).unwrap()[0];
    assert_eq!((held.state, held.attempts), (InboxState::Pending, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_answer() {
    let rx = Receiver::start(acme()).await;
    let (status, body) = rx.get("/healthz").await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "ok");
    assert_eq!(v["realms"], 2);
    let body = legacy_body(DOTNET_REALM, "Invoice", "1");
    rx.post(body.clone(), Some(&sign(DOTNET_TOKEN, body.as_bytes())))
        .await;
    rx.post(body.clone(), None).await;
    let (status, text) = rx.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.contains("# TYPE ledgerlink_webhooks_received_total counter"),
        "{text}"
    );
    assert!(
        text.contains(
            "ledgerlink_webhooks_stored_total{source=\"quickbooks\",tenant=\"acme\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("ledgerlink_inbox_depth{tenant=\"acme\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("ledgerlink_webhooks_rejected_total{reason=\"missing_signature\",source=\"quickbooks\",tenant=\"unknown\"} 1\n"), "{text}");
    assert_eq!(rx.get("/nope").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_of_200_answers_is_printed() {
    let rx = Receiver::start(acme()).await;
    let n = 200;
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let body = legacy_body(DOTNET_REALM, "Invoice", &i.to_string());
        let sig = sign(DOTNET_TOKEN, body.as_bytes());
        let started = Instant::now();
        let (status, _) = rx.post(body, Some(&sig)).await;
        samples.push(started.elapsed());
        assert_eq!(status, 200);
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 * p).ceil() as usize).saturating_sub(1)];
    let (sum, count) = rx
        .state
        .metrics
        .summary(
            metrics::WEBHOOK_REQUEST_SECONDS,
            &[("tenant", "acme"), ("source", "quickbooks")],
        )
        .unwrap();
    eprintln!(
        "webhook 200 latency over {n} signed POSTs (client side, file-backed SQLite, debug build): p50 {:?}, p99 {:?}, max {:?}; server-side mean {:.3} ms",
        pct(0.50),
        pct(0.99),
        samples[n - 1],
        sum / count as f64 * 1000.0
    );
    assert_eq!(rx.rows().len(), n);
}

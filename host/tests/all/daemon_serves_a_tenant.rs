//! Issue 4, done when: `ledgerlink run --config FILE` serves a configured tenant with the real
//! embedded component (no `--plugin`) against the emulators. The scheduler runs the configured
//! cron job until every Closed Won opportunity has exactly one invoice, written back; a signed QBO
//! webhook for a partial payment reaches the opportunity through the inbox and `on-webhook`; a
//! forged one is refused and changes nothing; the tenant's Pub/Sub subscription hands a
//! Salesforce change event to `on-webhook`; SIGTERM stops the daemon with no run left running.

use ledgerlink::emulated_company::LocalCompany;
use ledgerlink_emulators::seed::SeedSpec;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{last_run, listening, money, number, unthrottled, BIN};
const TENANT: &str = "demo";
/// The environment variables the config names (secrets never go in the file).
const QBO_TOKEN_ENV: &str = "LL_DAEMON_TENANT_QBO_TOKEN";
const SF_TOKEN_ENV: &str = "LL_DAEMON_TENANT_SF_TOKEN";
const VERIFIER_ENV: &str = "LL_DAEMON_TENANT_QBO_VERIFIER";

fn company() -> LocalCompany {
    crate::support::company(unthrottled(SeedSpec {
        accounts: 6,
        products: 5,
        opportunities: 12,
        closed_won_fraction: 0.5,
        lines_per_opportunity: 2,
        orders: 0,
        seed: 7,
    }))
}

/// The tenant's config: both connections at the emulators, the QBO webhook verifier, a fast
/// scheduler, `sync-invoices` every second and the default schedules that could fire during
/// the test (poll every 5 minutes, daily aging, monthly reconcile) off.
fn write_config(dir: &Path, c: &LocalCompany, pubsub: &str) -> PathBuf {
    let path = dir.join("ledgerlink.toml");
    std::fs::write(
        &path,
        format!(
            r#"[store]
path = "ledgerlink.db"

[server]
listen = "127.0.0.1:0"
scheduler-tick-ms = 100
shutdown-grace-secs = 20

[[tenant]]
id = "{TENANT}"

[tenant.settings]
realm-id = "{realm}"

[tenant.schedules]
sync-invoices = "* * * * * *"
poll = "off"
aging = "off"
reconcile = "off"

[tenant.webhooks]
verifier-token-env = "{VERIFIER_ENV}"

[tenant.salesforce-events]
url = "{pubsub}"
topics = ["/data/OpportunityChangeEvent"]
{connections}"#,
            realm = c.realm,
            connections = c.connections_toml(QBO_TOKEN_ENV, SF_TOKEN_ENV),
        ),
    )
    .unwrap();
    path
}

/// `ledgerlink run` as a child process; killed on drop if a failed assertion left it running.
struct Daemon {
    child: Child,
    url: String,
    log: PathBuf,
    /// Kept open so that the daemon's stdout never becomes a broken pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Daemon {
    fn start(config: &Path, c: &LocalCompany) -> Self {
        let log = config.with_file_name("daemon.log");
        let mut child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(config)
            .env(QBO_TOKEN_ENV, c.qbo.issue_tokens(&c.realm).access_token)
            .env(SF_TOKEN_ENV, c.sf.issue_token())
            .env(VERIFIER_ENV, &c.qbo.config().verifier_token)
            .env("LEDGERLINK_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let (url, stdout) = listening(&mut child, Some(&log));
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self {
            url,
            child,
            log,
            _stdout: stdout,
        }
    }

    /// The end of the daemon's log, for failure messages.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The tenant's status (`ledgerlink status --json`).
fn status_json(config: &Path) -> Value {
    let all = crate::support::status_json(config);
    assert_eq!(all[0]["tenant"], TENANT, "{all}");
    all[0].clone()
}

/// Polls `check` every 200 ms until it gives a value; panics with `what`, the last status and
/// the daemon's log at the deadline.
fn wait_for<T>(
    daemon: &Daemon,
    config: &Path,
    what: &str,
    within: Duration,
    mut check: impl FnMut(&Value) -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        let status = status_json(config);
        if let Some(v) = check(&status) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}\nstatus: {status:#}\nlog:\n{}",
            daemon.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn closed_won(c: &LocalCompany) -> Vec<Value> {
    c.sf.records("Opportunity")
        .into_iter()
        .filter(|o| o["IsWon"] == json!(true))
        .collect()
}

/// True when every Closed Won opportunity is written back and has exactly one QBO invoice
/// (DocNumber `SF-<Opportunity Id>`), and no other invoice exists.
fn every_won_opportunity_invoiced_once(c: &LocalCompany) -> bool {
    let invoices = c.qbo.entities(&c.realm, "Invoice");
    let mut per_doc: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in &invoices {
        per_doc
            .entry(i["DocNumber"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(i["Id"].as_str().unwrap_or_default().to_string());
    }
    let won = closed_won(c);
    !won.is_empty()
        && invoices.len() == won.len()
        && won.iter().all(|o| {
            let id = o["Id"].as_str().unwrap();
            match per_doc.get(&format!("SF-{id}")).map(Vec::as_slice) {
                Some([invoice]) => o["QBO_Invoice_Id__c"] == json!(invoice),
                _ => false,
            }
        })
}

/// A legacy QBO webhook body naming one entity.
fn webhook_body(realm: &str, entity: &str, id: &str, operation: &str) -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    json!({"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [
        {"name": entity, "id": id, "operation": operation, "lastUpdated": now}]}}]})
    .to_string()
}

fn post_webhook(
    http: &reqwest::blocking::Client,
    url: &str,
    body: &str,
    signature: &str,
) -> reqwest::StatusCode {
    http.post(format!("{url}/webhooks/quickbooks"))
        .header("intuit-signature", signature)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .unwrap()
        .status()
}

fn webhook_run_id(status: &Value) -> Option<i64> {
    last_run(status, "webhook:quickbooks").map(|r| r["id"].as_i64().unwrap())
}

#[test]
fn ledgerlink_run_serves_a_configured_tenant_with_the_real_component() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let c = company();
    let pubsub = c.sf.start_pubsub(Default::default(), 0).unwrap();
    let config = write_config(dir.path(), &c, &pubsub.url());
    let daemon = Daemon::start(&config, &c);
    let http = reqwest::blocking::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let health = http.get(format!("{}/healthz", daemon.url)).send().unwrap();
    assert_eq!(health.status(), 200);

    // 1. The scheduler runs sync-invoices from the config's cron until every Closed Won
    // opportunity has exactly one invoice, written back.
    wait_for(
        &daemon,
        &config,
        "a scheduled sync-invoices run invoicing every Closed Won opportunity",
        Duration::from_secs(40),
        |status| {
            let run = last_run(status, "sync-invoices")?;
            (run["status"] == "ok" && every_won_opportunity_invoiced_once(&c)).then(|| {
                assert_eq!(run["trigger"], "cron", "{run}");
            })
        },
    );
    let status = status_json(&config);
    assert_eq!(status["open_errors"], 0, "{status:#}");
    for job in ["poll", "aging", "reconcile", "backfill"] {
        assert!(
            last_run(&status, job).is_none(),
            "{job} never ran (off or unscheduled): {status:#}"
        );
    }
    let won = closed_won(&c);

    // 2. A partial QBO payment, announced by a correctly signed webhook, reaches the
    // opportunity through the inbox and the component's on-webhook.
    let opp = &won[0];
    let opp_id = opp["Id"].as_str().unwrap().to_string();
    let invoice_id = opp["QBO_Invoice_Id__c"].as_str().unwrap().to_string();
    assert_ne!(opp["Payment_Status__c"], "Partially Paid", "{opp}");
    let invoice = c
        .qbo
        .entities(&c.realm, "Invoice")
        .into_iter()
        .find(|i| i["Id"] == json!(invoice_id))
        .unwrap();
    let total = money(&invoice["TotalAmt"]);
    let first = Decimal::new(1000, 2);
    let second = Decimal::new(500, 2);
    assert!(total > first + second, "invoice total {total}");
    let pay = |amount: Decimal| -> String {
        let payment = c
            .qbo
            .insert(
                &c.realm,
                "Payment",
                json!({"CustomerRef": invoice["CustomerRef"], "TotalAmt": number(amount),
                       "Line": [{"Amount": number(amount),
                                 "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]}),
            )
            .unwrap();
        payment["Id"].as_str().unwrap().to_string()
    };
    let verifier = c.qbo.config().verifier_token.clone();
    let before = webhook_run_id(&status_json(&config));

    let first_id = pay(first);
    let body = webhook_body(&c.realm, "Payment", &first_id, "Create");
    let signature = ledgerlink::webhooks::signature::sign(&verifier, body.as_bytes());
    assert_eq!(post_webhook(&http, &daemon.url, &body, &signature), 200);
    let opportunity = |c: &LocalCompany| c.sf.get("Opportunity", &opp_id).unwrap();
    wait_for(
        &daemon,
        &config,
        "the webhook marking the opportunity Partially Paid",
        Duration::from_secs(20),
        |_| (opportunity(&c)["Payment_Status__c"] == "Partially Paid").then_some(()),
    );
    let o = opportunity(&c);
    assert_eq!(money(&o["Amount_Paid__c"]), first, "{o}");
    assert_eq!(money(&o["Open_Balance__c"]), total - first, "{o}");
    let status = wait_for(
        &daemon,
        &config,
        "the webhook run recorded as finished",
        Duration::from_secs(10),
        |status| {
            let run = last_run(status, "webhook:quickbooks")?;
            (run["status"] != "running" && status["inbox_pending"] == 0).then(|| status.clone())
        },
    );
    let hook = last_run(&status, "webhook:quickbooks").unwrap();
    assert_eq!(hook["status"], "ok", "{status:#}");
    assert_eq!(hook["trigger"], "webhook", "{status:#}");
    assert!(webhook_run_id(&status) > before, "{status:#}");
    let after_first = webhook_run_id(&status);

    // 3. A second payment exists in QBO, but a delivery with a forged signature is refused,
    // nothing is stored and nothing runs: the opportunity keeps the first payment only.
    let second_id = pay(second);
    let body = webhook_body(&c.realm, "Payment", &second_id, "Create");
    let forged = ledgerlink::webhooks::signature::sign("not-the-verifier-token", body.as_bytes());
    assert_eq!(post_webhook(&http, &daemon.url, &body, &forged), 401);
    // The inbox worker wakes on every stored row: had the body been stored, a run would start
    // within moments. Watch for two seconds.
    let quiet_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < quiet_until {
        let status = status_json(&config);
        assert_eq!(status["inbox_pending"], 0, "{status:#}");
        assert_eq!(webhook_run_id(&status), after_first, "{status:#}");
        let o = opportunity(&c);
        assert_eq!(money(&o["Amount_Paid__c"]), first, "{o}");
        assert_eq!(o["Payment_Status__c"], "Partially Paid", "{o}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let metrics = http
        .get(format!("{}/metrics", daemon.url))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("ledgerlink_webhooks_rejected_total")
                && l.contains("bad_signature")),
        "{metrics}"
    );
    // The same body correctly signed is taken: the forged delivery alone changed nothing.
    let signature = ledgerlink::webhooks::signature::sign(&verifier, body.as_bytes());
    assert_eq!(post_webhook(&http, &daemon.url, &body, &signature), 200);
    wait_for(
        &daemon,
        &config,
        "the second payment reaching the opportunity",
        Duration::from_secs(20),
        |_| (money(&opportunity(&c)["Amount_Paid__c"]) == first + second).then_some(()),
    );
    let o = opportunity(&c);
    assert_eq!(o["Payment_Status__c"], "Partially Paid", "{o}");
    assert_eq!(money(&o["Open_Balance__c"]), total - first - second, "{o}");

    // 4. The tenant's Pub/Sub subscription (from LATEST once open) hands the change event of an
    // opportunity won in Salesforce to the component, recorded as a `webhook:salesforce` run.
    let subscribed = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&daemon.log)
        .unwrap_or_default()
        .contains("subscribed to the Pub/Sub API")
    {
        assert!(
            Instant::now() < subscribed,
            "no subscription; log:\n{}",
            daemon.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let open =
        c.sf.records("Opportunity")
            .into_iter()
            .find(|o| o["IsClosed"] == json!(false))
            .unwrap();
    let open_id = open["Id"].as_str().unwrap().to_string();
    c.sf.update("Opportunity", &open_id, json!({"StageName": "Closed Won"}))
        .unwrap();
    wait_for(
        &daemon,
        &config,
        "the change event handled and the win invoiced",
        Duration::from_secs(30),
        |status| {
            let run = last_run(status, "webhook:salesforce")?;
            (run["status"] == "ok"
                && c.sf.get("Opportunity", &open_id).unwrap()["QBO_Invoice_Id__c"].is_string())
            .then_some(())
        },
    );

    // 5. SIGTERM: the daemon lets runs in progress finish and exits 0, leaving nothing running.
    let mut daemon = daemon;
    let killed = Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(25);
    let exit = loop {
        if let Some(exit) = daemon.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop on SIGTERM; log:\n{}",
            daemon.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}; log:\n{}", daemon.log_tail());
    assert!(
        http.get(format!("{}/healthz", daemon.url)).send().is_err(),
        "no longer serving"
    );
    let status = status_json(&config);
    let runs = status["last_runs"].as_array().unwrap();
    assert!(runs.iter().all(|r| r["status"] != "running"), "{status:#}");
    assert!(
        runs.iter().any(|r| r["job"] == "sync-invoices"),
        "{status:#}"
    );
    assert_eq!(status["inbox_pending"], 0, "{status:#}");
    assert!(every_won_opportunity_invoiced_once(&c));
    eprintln!("served the tenant end to end in {:?}", started.elapsed());
}

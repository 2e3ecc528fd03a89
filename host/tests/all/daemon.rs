//! `ledgerlink run` as a process, with the test guest as the component: the scheduler runs the
//! described cron job, the inbox worker hands a signed webhook to `on-webhook`, `status` reports
//! both, and SIGTERM stops it cleanly.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{last_run, listening, status_json, BIN};
const REALM: &str = "9130355377151526";
const VERIFIER: &str = "daemon-test-verifier";

fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("ledgerlink.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[store]
path = "ledgerlink.db"

[server]
listen = "127.0.0.1:0"
scheduler-tick-ms = 100
shutdown-grace-secs = 10

[[tenant]]
id = "acme"

[tenant.settings]
realm-id = "{REALM}"

[tenant.webhooks]
verifier-token-env = "LEDGERLINK_DAEMON_TEST_VERIFIER"

[tenant.schedules]
flaky = "off"
"#
        ),
    )
    .unwrap();
    path
}

fn start(config: &Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "--plugin",
            ledgerlink::TEST_GUEST_PATH,
            "--log-json",
            "run",
            "--config",
        ])
        .arg(config)
        .env("LEDGERLINK_DAEMON_TEST_VERIFIER", VERIFIER)
        .env("LEDGERLINK_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (url, _stdout) = listening(&mut child, None);
    (child, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_runs_cron_jobs_and_webhooks_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let (mut child, url) = start(&config);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    assert_eq!(
        http.get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let body = format!(
        r#"{{"eventNotifications":[{{"realmId":"{REALM}","dataChangeEvent":{{"entities":[{{"name":"Invoice","id":"130","operation":"Update","lastUpdated":"2024-05-01T10:00:00.000Z"}}]}}}}]}}"#
    );
    let signature = ledgerlink::webhooks::signature::sign(VERIFIER, body.as_bytes());
    let answer = http
        .post(format!("{url}/webhooks/quickbooks"))
        .header("intuit-signature", signature)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);

    // The scheduler runs `tick` every second; the worker hands the body to the component
    // (the test guest answers not-available for webhooks).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = status_json(&config);
        let tick_ok = last_run(&status[0], "tick").is_some_and(|r| r["status"] == "ok");
        let hook = last_run(&status[0], "webhook:quickbooks");
        if let (true, Some(hook), true) = (tick_ok, hook, status[0]["inbox_pending"] == 0) {
            assert_eq!(hook["status"], "not-available", "{status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "daemon did not run both: {status}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("ledgerlink_calls_total"), "{metrics}");

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(
        http.get(format!("{url}/healthz")).send().await.is_err(),
        "no longer serving"
    );
    // Nothing was left running.
    let status = status_json(&config);
    assert!(
        status[0]["last_runs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] != "running"),
        "{status}"
    );
    let text = Command::new(BIN)
        .args(["status", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("tenant acme") && text.contains("tick"),
        "{text}"
    );
}

#[test]
fn a_bad_config_is_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[[tenant]]\nid = \"acme\"\n[tenant.schedules]\npoll = \"every five minutes\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("schedule of job poll") && !err.contains("panicked"),
        "{err}"
    );
}

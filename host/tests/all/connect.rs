//! `ledgerlink connect quickbooks` end to end against the QBO emulator (whose authorize page
//! approves at once), then the broker built from the config serving a guest call.

use ledgerlink::config::HostConfig;
use ledgerlink::db::Database;
use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink_emulators::qbo::{QboConfig, QboEmulator};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::BIN;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn write_config(dir: &Path, emulator: &str, realm: &str, port: u16) -> PathBuf {
    let path = dir.join("ledgerlink.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[store]
path = "ledgerlink.db"
key-file = "vault.key"

[[tenant]]
id = "acme"

[tenant.settings]
realm-id = "{realm}"

[tenant.connections.quickbooks]
base-url = "{emulator}"
auth = "quickbooks-oauth"
client-id-env = "LEDGERLINK_CONNECT_TEST_ID"
client-secret-env = "LEDGERLINK_CONNECT_TEST_SECRET"
token-url = "{emulator}/oauth2/v1/tokens/bearer"
authorize-url = "{emulator}/connect/oauth2"
redirect-uri = "http://127.0.0.1:{port}/callback"
"#
        ),
    )
    .unwrap();
    path
}

/// Runs `connect`, follows the printed URL like a browser (optionally tampering with the
/// redirect), and returns the exit success and the output.
async fn connect(config: &Path, emu: &QboEmulator, tamper: bool) -> (bool, String) {
    let mut child = Command::new(BIN)
        .args([
            "connect",
            "quickbooks",
            "--tenant",
            "acme",
            "--timeout-secs",
            "30",
            "--config",
        ])
        .arg(config)
        .env("LEDGERLINK_CONNECT_TEST_ID", &emu.config().client_id)
        .env(
            "LEDGERLINK_CONNECT_TEST_SECRET",
            &emu.config().client_secret,
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = String::new();
    let url = loop {
        let line = lines
            .next()
            .expect("the command printed the authorize URL")
            .unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if line.starts_with("http") {
            break line;
        }
    };
    let browser = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let approved = browser.get(&url).send().await.unwrap();
    assert_eq!(approved.status(), 302);
    let mut location = url::Url::parse(approved.headers()["location"].to_str().unwrap()).unwrap();
    if tamper {
        let pairs: Vec<(String, String)> = location
            .query_pairs()
            .map(|(k, v)| {
                let v = if k == "state" {
                    "forged".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        location.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let landed = browser.get(location).send().await.unwrap();
    assert_eq!(landed.status(), 200);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    for line in lines {
        printed.push_str(&line.unwrap());
        printed.push('\n');
    }
    printed.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), printed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_stores_the_tokens_and_the_configured_broker_serves_the_guest() {
    let (emu, server) = QboEmulator::start(QboConfig::default(), 0).unwrap();
    let realm = emu.config().realms[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(dir.path(), &server.url(), &realm, free_port());

    // A forged state is refused and stores nothing.
    let (ok, out) = connect(&config_path, &emu, true).await;
    assert!(!ok, "{out}");
    assert!(out.contains("state does not match"), "{out}");
    std::env::set_var("LEDGERLINK_CONNECT_TEST_ID", &emu.config().client_id);
    std::env::set_var(
        "LEDGERLINK_CONNECT_TEST_SECRET",
        &emu.config().client_secret,
    );
    let config = HostConfig::load(&config_path).unwrap();
    let db = Database::open(&config.store.path).unwrap();
    let vault = config.open_vault(&db).unwrap();
    assert!(vault.load("acme", "quickbooks").unwrap().is_none());

    let (ok, out) = connect(&config_path, &emu, false).await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!(
            "Connected tenant acme to QuickBooks realm {realm}"
        )),
        "{out}"
    );
    let tokens = vault.load("acme", "quickbooks").unwrap().expect("stored");
    assert_eq!(tokens.realm.as_deref(), Some(realm.as_str()));
    assert!(tokens.refresh_token.is_some());

    // The config builds the broker as the connection's credential: a guest call goes through.
    let caps = config.tenant_caps("acme", &db).unwrap();
    let rt = Runtime::from_file(Path::new(ledgerlink::TEST_GUEST_PATH), Limits::default()).unwrap();
    let args = json!({"url": format!("http://quickbooks/v3/company/{realm}/companyinfo/{realm}")});
    let report = ledgerlink::flow_calls::run_job(&rt, &caps, "fetch", &args.to_string())
        .await
        .unwrap()
        .unwrap();
    assert!(
        report.records[0].detail.starts_with("200 "),
        "{}",
        report.records[0].detail
    );

    // status shows the connection and its expiry.
    let out = Command::new(BIN)
        .args(["status", "--json", "--config"])
        .arg(&config_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let qbo = &status[0]["connections"][0];
    assert_eq!(qbo["name"], "quickbooks");
    assert_eq!(qbo["state"], "connected");
    assert_eq!(qbo["needs_reconnect"], false);
    assert_eq!(qbo["realm"], realm.as_str());
    assert!(qbo["access_expires_at"].is_string());
    // No secret in the output.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(tokens.access_token.expose()));
    assert!(!text.contains(&emu.config().client_secret));
}

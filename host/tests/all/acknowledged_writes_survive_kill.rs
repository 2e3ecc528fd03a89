//! kill -9: a child process (this test binary re-run as a writer) acknowledges key-value and
//! inbox writes on stdout and is killed mid-stream; every acknowledged write must be in the store
//! afterwards and SQLite's integrity check must pass. Then the same for a token refresh: a child
//! killed right after the rotated refresh token was stored recovers without reconnecting.

use ledgerlink::auth::qbo::{QboEndpoints, QboOAuth};
use ledgerlink::auth::{BrokerHooks, Secret, StoredTokens, TokenBroker, Vault, VaultKey};
use ledgerlink::caps::storage::sqlite::SqliteBackend;
use ledgerlink::caps::storage::KeyValueBackend;
use ledgerlink::db::Database;
use ledgerlink::webhooks::Inbox;
use ledgerlink_emulators::qbo::{QboConfig, QboEmulator};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

const CHILD_ENV: &str = "LEDGERLINK_CRASH_CHILD";

/// Re-runs this test binary with only `test` (of this module) selected, as a child told what to
/// do by env vars.
fn child(test: &str, envs: &[(&str, String)]) -> std::process::Child {
    // The test's path inside the binary (`<this module>::<test>`), whatever the module is named.
    let module = module_path!().split_once("::").map_or("", |(_, m)| m);
    let name = format!("{module}::{test}");
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        name.as_str(),
        "--exact",
        "--nocapture",
        "--test-threads",
        "1",
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

/// A child's acknowledgement without libtest's `test name ... ` prefix on the first line.
fn ack(line: &str) -> &str {
    line.rsplit(" ... ").next().unwrap_or(line)
}

/// The writer: alternates a kv set and an inbox write, printing an acknowledgement after each
/// returns, forever (until killed).
#[test]
fn writer_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return; // Only does something as the child of the test below.
    };
    let db = Database::open(Path::new(&path)).unwrap();
    let kv = SqliteBackend::new(db.clone());
    let inbox = Inbox::new(db).unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let value = format!("value-{i}-{}", "x".repeat((i % 50) as usize * 100));
        kv.set("acme", "cursors", &format!("k{i}"), value.as_bytes())
            .unwrap();
        writeln!(out, "kv {i}").unwrap();
        let body = format!(r#"{{"n":{i}}}"#);
        let stored = inbox
            .persist("acme", "quickbooks", "r1", body.as_bytes())
            .unwrap();
        writeln!(out, "inbox {i} {}", stored.id).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn acknowledged_writes_survive_kill_9_and_the_store_is_intact() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledgerlink.db");
    let mut writer = child("writer_child", &[(CHILD_ENV, path.display().to_string())]);
    let mut lines = BufReader::new(writer.stdout.take().unwrap()).lines();
    let (mut kv_acked, mut inbox_acked) = (Vec::new(), Vec::new());
    while kv_acked.len() < 400 {
        let line = lines.next().expect("the writer is writing").unwrap();
        let parts: Vec<&str> = ack(&line).split_whitespace().collect();
        match parts.as_slice() {
            ["kv", i] => kv_acked.push(i.parse::<u64>().unwrap()),
            ["inbox", i, id] => {
                inbox_acked.push((i.parse::<u64>().unwrap(), id.parse::<i64>().unwrap()))
            }
            _ => {}
        }
    }
    // SIGKILL while it keeps writing.
    writer.kill().unwrap();
    writer.wait().unwrap();
    // Acknowledgements printed before the kill but not read yet count too.
    for line in lines.map_while(Result::ok) {
        let parts: Vec<&str> = ack(&line).split_whitespace().collect();
        match parts.as_slice() {
            ["kv", i] => kv_acked.push(i.parse().unwrap()),
            ["inbox", i, id] => inbox_acked.push((i.parse().unwrap(), id.parse().unwrap())),
            _ => {}
        }
    }

    let db = Database::open(&path).unwrap();
    let check: String = db
        .sqlite()
        .expect("a SQLite store")
        .lock()
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    let kv = SqliteBackend::new(db.clone());
    for i in &kv_acked {
        let value = kv.get("acme", "cursors", &format!("k{i}")).unwrap();
        let value = value.unwrap_or_else(|| panic!("acknowledged kv write {i} was lost"));
        assert!(String::from_utf8(value)
            .unwrap()
            .starts_with(&format!("value-{i}-")));
    }
    let inbox = Inbox::new(db).unwrap();
    for (i, id) in &inbox_acked {
        let item = inbox
            .get(*id)
            .unwrap()
            .unwrap_or_else(|| panic!("acknowledged inbox row {id} was lost"));
        assert_eq!(item.body, format!(r#"{{"n":{i}}}"#).into_bytes());
    }
    assert!(inbox.depth_of("acme").unwrap() >= inbox_acked.len() as u64);
}

const EMU_ENV: &str = "LEDGERLINK_CRASH_EMULATOR";
const KEY_ENV: &str = "LEDGERLINK_CRASH_KEY";

/// Stops the refresh right after the rotated tokens were stored: says so and waits to be killed.
struct HangAfterPersist;
impl BrokerHooks for HangAfterPersist {
    fn tokens_persisted(&self, _tenant: &str, _connection: &str) -> anyhow::Result<()> {
        println!("persisted");
        std::io::stdout().flush().ok();
        std::thread::sleep(std::time::Duration::from_secs(120));
        Ok(())
    }
}

fn broker(emulator: &str, path: &Path, key: &VaultKey) -> ledgerlink::auth::broker::BrokerBuilder {
    let base = url::Url::parse(emulator).unwrap();
    let defaults = QboConfig::default();
    let endpoints = QboEndpoints {
        authorization: base.join("/connect/oauth2").unwrap(),
        token: base.join("/oauth2/v1/tokens/bearer").unwrap(),
        revocation: None,
    };
    let oauth = QboOAuth::new(
        endpoints,
        defaults.client_id,
        Secret::new(defaults.client_secret),
        "http://127.0.0.1:1/cb",
    )
    .unwrap();
    let vault = Vault::open(Database::open(path).unwrap(), key).unwrap();
    TokenBroker::qbo("acme", "quickbooks", oauth, vault)
}

/// The refresher: invalidates its access token and refreshes, hanging after the store.
#[test]
fn refresher_child() {
    let (Ok(path), Ok(emulator), Ok(key)) = (
        std::env::var(CHILD_ENV),
        std::env::var(EMU_ENV),
        std::env::var(KEY_ENV),
    ) else {
        return;
    };
    let key = VaultKey::from_base64(&key).unwrap();
    let broker = broker(&emulator, Path::new(&path), &key)
        .hooks(Arc::new(HangAfterPersist))
        .build()
        .unwrap();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let current = broker.access_token().await.unwrap();
            broker.invalidate(current.expose());
            let _ = broker.access_token().await;
        });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_during_a_token_refresh_recovers_without_reconnecting() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let (emu, server) = QboEmulator::start(QboConfig::default(), 0).unwrap();
    let realm = emu.config().realms[0].clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledgerlink.db");
    let key = VaultKey::generate();
    let first = broker(&server.url(), &path, &key).build().unwrap();
    let pair = emu.issue_tokens(&realm);
    let now = chrono::Utc::now();
    first
        .install(StoredTokens {
            access_token: Secret::new(pair.access_token),
            issued_at: now,
            access_expires_at: Some(now + chrono::Duration::seconds(3600)),
            refresh_token: Some(Secret::new(pair.refresh_token.clone())),
            refresh_expires_at: None,
            instance_url: None,
            realm: Some(realm.clone()),
        })
        .unwrap();
    drop(first);

    let mut refresher = child(
        "refresher_child",
        &[
            (CHILD_ENV, path.display().to_string()),
            (EMU_ENV, server.url()),
            (KEY_ENV, key.to_base64()),
        ],
    );
    let stdout = refresher.stdout.take().unwrap();
    let saw = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|l| ack(&l) == "persisted")
    });
    let saw = tokio::time::timeout(std::time::Duration::from_secs(60), saw)
        .await
        .expect("the child refreshed")
        .unwrap();
    assert!(saw);
    refresher.kill().unwrap();
    refresher.wait().unwrap();

    // The old refresh token is dead at Intuit; the rotated one was stored before the kill.
    let restarted = broker(&server.url(), &path, &key).build().unwrap();
    let token = restarted.access_token().await.expect("no reconnect needed");
    assert_eq!(
        restarted.state().0,
        ledgerlink::auth::ConnectionState::Connected
    );
    let stored = Vault::open(Database::open(&path).unwrap(), &key)
        .unwrap()
        .load("acme", "quickbooks")
        .unwrap()
        .unwrap();
    assert_ne!(stored.refresh_token.unwrap().expose(), pair.refresh_token);
    // And the stored refresh token works at Intuit.
    restarted.invalidate(token.expose());
    let token = restarted
        .access_token()
        .await
        .expect("refresh with the rotated token");
    assert_eq!(restarted.endpoint_calls(), 1);
    let status = reqwest::Client::new()
        .get(format!(
            "{}/v3/company/{realm}/companyinfo/{realm}",
            server.url()
        ))
        .bearer_auth(token.expose())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

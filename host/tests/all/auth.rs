//! The token broker against the in-process QBO and Salesforce emulators: rotation under
//! concurrency over a simulated day, a crash between storing and using a rotated token, a dead
//! grant, Salesforce session renewal, and encryption at rest.

use anyhow::{bail, Context, Result};
use chrono::Duration;
use ledgerlink::auth::qbo::{QboEndpoints, QboOAuth};
use ledgerlink::auth::salesforce::SalesforceOAuth;
use ledgerlink::auth::{
    AuthError, BrokerHooks, Clock, ConnectionState, Secret, StoredTokens, TokenBroker, Vault,
    VaultKey,
};
use ledgerlink::caps::http::CredentialSource;
use ledgerlink::db::Database;
use ledgerlink_emulators::qbo::{QboConfig, QboEmulator};
use ledgerlink_emulators::salesforce::{SalesforceConfig, SalesforceEmulator};
use ledgerlink_emulators::{FaultKind, FaultRule, RunningServer};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use url::Url;

const TENANT: &str = "acme";
const QBO: &str = "quickbooks";
const SF: &str = "salesforce";

struct QboHarness {
    emu: QboEmulator,
    server: RunningServer,
    _dir: tempfile::TempDir,
    db_path: PathBuf,
    key: VaultKey,
    http: reqwest::Client,
}

impl QboHarness {
    fn start() -> Self {
        let (emu, server) = QboEmulator::start(QboConfig::default(), 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("ledgerlink.db");
        Self {
            emu,
            server,
            _dir: dir,
            db_path,
            key: VaultKey::generate(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    fn realm(&self) -> String {
        self.emu.config().realms[0].clone()
    }

    fn clock(&self) -> Arc<dyn Clock> {
        let clock = self.emu.clock();
        Arc::new(move || clock.now())
    }

    fn endpoints(&self) -> QboEndpoints {
        let base = Url::parse(&self.server.url()).unwrap();
        QboEndpoints {
            authorization: base.join("/connect/oauth2").unwrap(),
            token: base.join("/oauth2/v1/tokens/bearer").unwrap(),
            revocation: Some(base.join("/v2/oauth2/tokens/revoke").unwrap()),
        }
    }

    fn oauth(&self, endpoints: QboEndpoints) -> QboOAuth {
        let config = self.emu.config();
        QboOAuth::new(
            endpoints,
            config.client_id.clone(),
            Secret::new(config.client_secret.clone()),
            "http://127.0.0.1:1/callback",
        )
        .unwrap()
    }

    /// A vault on a fresh connection to the database file (as a restarted process would open).
    fn vault(&self) -> Vault {
        Vault::open(Database::open(&self.db_path).unwrap(), &self.key).unwrap()
    }

    fn broker(&self, hooks: Option<Arc<dyn BrokerHooks>>) -> TokenBroker {
        let mut builder = TokenBroker::qbo(TENANT, QBO, self.oauth(self.endpoints()), self.vault())
            .clock(self.clock());
        if let Some(hooks) = hooks {
            builder = builder.hooks(hooks);
        }
        builder.build().unwrap()
    }

    /// Mints a pair at the emulator and installs it in `broker`; returns the refresh token.
    fn install_fresh_pair(&self, broker: &TokenBroker) -> String {
        let pair = self.emu.issue_tokens(&self.realm());
        let now = self.emu.clock().now();
        broker
            .install(StoredTokens {
                access_token: Secret::new(pair.access_token),
                issued_at: now,
                access_expires_at: Some(now + Duration::seconds(3600)),
                refresh_token: Some(Secret::new(pair.refresh_token.clone())),
                refresh_expires_at: None,
                instance_url: None,
                realm: Some(self.realm()),
            })
            .unwrap();
        pair.refresh_token
    }

    fn token_requests(&self) -> usize {
        self.emu.log().count(|r| r.path.ends_with("/tokens/bearer"))
    }

    /// GET companyinfo with `token`: the status.
    async fn company_info_status(&self, token: &str) -> u16 {
        let realm = self.realm();
        company_info_status(&self.http, &self.server.url(), &realm, token).await
    }

    /// Refreshes `refresh_token` directly at the emulator: the HTTP status and `error`.
    async fn direct_refresh(&self, refresh_token: &str) -> (u16, String) {
        let config = self.emu.config();
        let response = self
            .http
            .post(format!("{}/oauth2/v1/tokens/bearer", self.server.url()))
            .basic_auth(&config.client_id, Some(&config.client_secret))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        let error = body["error"].as_str().unwrap_or_default().to_string();
        (status, error)
    }
}

async fn company_info_status(http: &reqwest::Client, base: &str, realm: &str, token: &str) -> u16 {
    http.get(format!("{base}/v3/company/{realm}/companyinfo/{realm}"))
        .bearer_auth(token)
        .header("Accept", "application/json")
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn stored_refresh_token(vault: &Vault) -> String {
    vault
        .load(TENANT, QBO)
        .unwrap()
        .and_then(|t| t.refresh_token)
        .map(|t| t.expose().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn qbo_tokens_rotate_for_a_simulated_day_with_one_refresh_per_expiry() {
    let h = QboHarness::start();
    let broker = h.broker(None);
    let vault = h.vault();
    let first = h.install_fresh_pair(&broker);
    let realm = h.realm();

    // Steps of 10 to 20 minutes for 24 simulated hours; the broker renews 5 min before the
    // 3600 s expiry, so a refresh is due at the first step at least 55 min after the last one.
    let steps_min = [10i64, 15, 20, 12, 18, 17, 13];
    let (mut offset, mut last_refresh, mut expected) = (0i64, 0i64, 0usize);
    let mut refresh_tokens = vec![first];
    let mut step = 0;
    while offset < 24 * 3600 {
        let secs = steps_min[step % steps_min.len()] * 60;
        step += 1;
        offset += secs;
        h.emu.clock().advance(Duration::seconds(secs));
        if offset - last_refresh >= 3600 - 300 {
            expected += 1;
            last_refresh = offset;
        }
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let broker = broker.clone();
                let http = h.http.clone();
                let (base, realm) = (h.server.url(), realm.clone());
                tokio::spawn(async move {
                    let token = broker.bearer().await?.context("the broker gave no token")?;
                    let status = company_info_status(&http, &base, &realm, &token).await;
                    anyhow::Ok((token, status))
                })
            })
            .collect();
        let mut tokens = Vec::new();
        for call in calls {
            let (token, status) = call.await.unwrap().unwrap();
            assert_eq!(
                status, 200,
                "step {step}: a token the broker gave was refused"
            );
            tokens.push(token);
        }
        tokens.dedup();
        assert_eq!(tokens.len(), 1, "step {step}: callers got different tokens");
        assert_eq!(
            h.token_requests(),
            expected,
            "step {step} (+{offset} s): refresh requests"
        );
        let stored = stored_refresh_token(&vault);
        if refresh_tokens.last() != Some(&stored) {
            refresh_tokens.push(stored);
        }
        assert_eq!(
            refresh_tokens.len(),
            expected + 1,
            "step {step}: every rotated refresh token was stored"
        );
    }
    eprintln!(
        "simulated {} h in {step} steps, 8 callers each: {expected} refreshes",
        offset / 3600
    );
    assert!(
        (19..=26).contains(&expected),
        "{expected} refreshes in a day"
    );
    assert_eq!(broker.endpoint_calls() as usize, expected);

    // The stored refresh token is the emulator's latest: every earlier one is refused, the
    // stored one is accepted.
    let (latest, older) = refresh_tokens.split_last().unwrap();
    for old in older.iter().rev().take(3) {
        assert_eq!(h.direct_refresh(old).await, (400, "invalid_grant".into()));
    }
    assert_eq!(h.direct_refresh(latest).await.0, 200);
}

/// Aborts the first call that stored renewed tokens (a crash right after the write), and
/// records what the vault held at that moment.
struct CrashAfterPersist {
    vault: Vault,
    armed: AtomicBool,
    seen_in_vault: Mutex<Vec<String>>,
}

impl BrokerHooks for CrashAfterPersist {
    fn tokens_persisted(&self, _tenant: &str, _connection: &str) -> Result<()> {
        self.seen_in_vault
            .lock()
            .unwrap()
            .push(stored_refresh_token(&self.vault));
        if self.armed.swap(false, Ordering::SeqCst) {
            bail!("simulated crash after the rotated tokens were stored");
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_crash_after_storing_a_rotated_token_recovers_without_reconnecting() {
    let h = QboHarness::start();
    let hooks = Arc::new(CrashAfterPersist {
        vault: h.vault(),
        armed: AtomicBool::new(true),
        seen_in_vault: Mutex::default(),
    });
    let broker = h.broker(Some(hooks.clone()));
    let original = h.install_fresh_pair(&broker);

    h.emu.clock().advance(Duration::seconds(3601));
    let err = broker.access_token().await.unwrap_err();
    assert!(matches!(err, AuthError::Aborted { .. }), "{err}");
    assert_eq!(h.token_requests(), 1);
    // When the endpoint's answer was in, the vault already held the new refresh token.
    let seen = hooks.seen_in_vault.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_ne!(seen[0], original);
    // The old refresh token is dead at the emulator.
    assert_eq!(
        h.direct_refresh(&original).await,
        (400, "invalid_grant".into())
    );

    // "Restart": a new broker on a new connection to the same file, with the same key.
    drop(broker);
    let restarted = h.broker(None);
    let token = restarted.access_token().await.unwrap();
    assert_eq!(
        h.token_requests(),
        2,
        "the stored access token is used as is"
    );
    assert_eq!(h.company_info_status(token.expose()).await, 200);

    // And the next refresh runs on the rotated refresh token.
    h.emu.clock().advance(Duration::seconds(3601));
    let token = restarted.access_token().await.unwrap();
    assert_eq!(h.token_requests(), 3);
    assert_eq!(h.company_info_status(token.expose()).await, 200);
    assert_eq!(restarted.state().0, ConnectionState::Connected);
    assert!(h.vault().events(None).unwrap().is_empty());
}

/// Issue 17: two hosts on one PostgreSQL store, both holding an expired access token, renew at
/// once. One refresh grant reaches Intuit with the old refresh token; the other host waits for
/// the row lock and takes the rotated pair from the store instead of spending the dead token
/// (which Intuit would refuse, locking the tenant out).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hosts_on_one_postgres_store_spend_a_refresh_token_once() {
    let h = QboHarness::start();
    let url = ledgerlink::db::throwaway::Cluster::shared().fresh_database("auth_two_hosts");
    let host = || {
        let vault = Vault::open(Database::connect(&url, None).unwrap(), &h.key).unwrap();
        TokenBroker::qbo(TENANT, QBO, h.oauth(h.endpoints()), vault)
            .clock(h.clock())
            .build()
            .unwrap()
    };
    let first = host();
    let original = h.install_fresh_pair(&first);
    let second = host();
    let vault = Vault::open(Database::connect(&url, None).unwrap(), &h.key).unwrap();
    assert_eq!(stored_refresh_token(&vault), original);

    // Both access tokens expire; the token endpoint is slow, so the refreshes overlap.
    h.emu.clock().advance(Duration::seconds(3601));
    h.emu.faults().push(FaultRule {
        method: Some("POST".into()),
        path_contains: Some("/tokens/bearer".into()),
        fault: FaultKind::Latency { ms: 500 },
        probability: 1.0,
        times: Some(2),
    });
    let start = Arc::new(tokio::sync::Barrier::new(2));
    let calls: Vec<_> = [first.clone(), second.clone()]
        .into_iter()
        .map(|broker| {
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                broker.access_token().await
            })
        })
        .collect();
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.unwrap().unwrap());
    }

    assert_eq!(h.token_requests(), 1, "one refresh grant for two hosts");
    assert_eq!(
        h.emu
            .log()
            .count(|r| r.path.ends_with("/tokens/bearer") && r.status != 200),
        0,
        "no refresh was refused"
    );
    assert_eq!(first.endpoint_calls() + second.endpoint_calls(), 1);
    assert_eq!(tokens[0], tokens[1], "both hosts use the new access token");
    assert_eq!(h.company_info_status(tokens[0].expose()).await, 200);
    let rotated = stored_refresh_token(&vault);
    assert_ne!(
        rotated, original,
        "the store holds the rotated refresh token"
    );
    assert_eq!(
        h.direct_refresh(&original).await,
        (400, "invalid_grant".into())
    );
    assert_eq!(h.direct_refresh(&rotated).await.0, 200);
}

#[derive(Default)]
struct AlertCounter(AtomicUsize);

impl BrokerHooks for AlertCounter {
    fn needs_reconnect(&self, tenant: &str, connection: &str, reason: &str) {
        assert_eq!((tenant, connection), (TENANT, QBO));
        assert!(reason.contains("invalid_grant"), "{reason}");
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_grant_needs_reconnect_once_and_then_fails_fast() {
    let h = QboHarness::start();
    let alerts = Arc::new(AlertCounter::default());
    let broker = h.broker(Some(alerts.clone()));
    let refresh = h.install_fresh_pair(&broker);
    let config = h.emu.config();
    let revoked = h
        .http
        .post(format!("{}/v2/oauth2/tokens/revoke", h.server.url()))
        .basic_auth(&config.client_id, Some(&config.client_secret))
        .json(&serde_json::json!({ "token": refresh }))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status().as_u16(), 200);

    h.emu.clock().advance(Duration::seconds(3601));
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let broker = broker.clone();
            tokio::spawn(async move { broker.access_token().await })
        })
        .collect();
    for call in calls {
        let err = call.await.unwrap().unwrap_err();
        assert!(matches!(err, AuthError::NeedsReconnect { .. }), "{err}");
        assert!(err.to_string().contains("acme"), "{err}");
    }
    assert_eq!(h.token_requests(), 1, "one attempt for eight callers");
    for _ in 0..5 {
        let err = broker.access_token().await.unwrap_err();
        assert!(matches!(err, AuthError::NeedsReconnect { .. }), "{err}");
    }
    assert_eq!(h.token_requests(), 1, "later calls fail fast");
    assert_eq!(alerts.0.load(Ordering::SeqCst), 1);
    let events = h.vault().events(Some(TENANT)).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "needs_reconnect");

    // The state is durable: a restarted broker fails fast too, with no new alert.
    let restarted = h.broker(Some(alerts.clone()));
    assert_eq!(restarted.state().0, ConnectionState::NeedsReconnect);
    assert!(matches!(
        restarted.access_token().await,
        Err(AuthError::NeedsReconnect { .. })
    ));
    assert_eq!(h.token_requests(), 1);
    assert_eq!(h.vault().events(None).unwrap().len(), 1);

    // A person reconnects through the authorize redirect (endpoints found by discovery).
    let discovery = Url::parse(&format!(
        "{}/.well-known/openid_configuration",
        h.server.url()
    ))
    .unwrap();
    let oauth = h.oauth(QboEndpoints::discover(&discovery).await.unwrap());
    let redirect = h
        .http
        .get(oauth.authorize_url("csrf-42"))
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status().as_u16(), 302);
    let location = Url::parse(redirect.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "csrf-42");
    restarted
        .connect_with_code(&q["code"], &q["realmId"])
        .await
        .unwrap();
    assert_eq!(restarted.state().0, ConnectionState::Connected);
    assert_eq!(restarted.realm().as_deref(), Some(h.realm().as_str()));
    let token = restarted.access_token().await.unwrap();
    assert_eq!(h.company_info_status(token.expose()).await, 200);
}

struct SfHarness {
    emu: SalesforceEmulator,
    server: RunningServer,
    _dir: tempfile::TempDir,
    vault: Vault,
    http: reqwest::Client,
}

impl SfHarness {
    fn start(config: SalesforceConfig) -> Self {
        let (emu, server) = SalesforceEmulator::start(config, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::open(
            Database::open(&dir.path().join("ledgerlink.db")).unwrap(),
            &VaultKey::generate(),
        )
        .unwrap();
        Self {
            emu,
            server,
            _dir: dir,
            vault,
            http: reqwest::Client::new(),
        }
    }

    fn broker(&self, secret: &str) -> TokenBroker {
        let clock = self.emu.clock();
        let oauth = SalesforceOAuth::new(
            &Url::parse(&self.server.url()).unwrap(),
            self.emu.config().client_id.clone(),
            Secret::new(secret),
        )
        .unwrap();
        TokenBroker::salesforce(TENANT, SF, oauth, self.vault.clone())
            .clock(Arc::new(move || clock.now()))
            .build()
            .unwrap()
    }

    fn token_requests(&self) -> usize {
        self.emu.log().count(|r| r.path == "/services/oauth2/token")
    }

    /// GET the sObject list on the session's instance: the status.
    async fn sobjects_status(&self, broker: &TokenBroker, token: &Secret) -> u16 {
        let instance = broker.instance_url().unwrap();
        self.http
            .get(format!("{instance}/services/data/v61.0/sobjects"))
            .bearer_auth(token.expose())
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

#[tokio::test]
async fn salesforce_reauthenticates_after_an_expired_session_is_reported() {
    let h = SfHarness::start(SalesforceConfig {
        session_ttl_secs: 30 * 60,
        ..SalesforceConfig::default()
    });
    let secret = h.emu.config().client_secret.clone();
    let broker = h.broker(&secret);
    let first = broker.access_token().await.unwrap();
    assert_eq!(broker.instance_url().unwrap(), h.server.url());
    assert_eq!(h.sobjects_status(&broker, &first).await, 200);
    assert_eq!(h.token_requests(), 1);

    // The org ends idle sessions after 30 min here; the broker (90 min rule) does not know.
    h.emu.clock().advance(Duration::minutes(31));
    let same = broker.access_token().await.unwrap();
    assert_eq!(same, first);
    assert_eq!(h.sobjects_status(&broker, &same).await, 401);
    broker.invalidate(same.expose());
    broker.invalidate(same.expose());
    let second = broker.access_token().await.unwrap();
    assert_ne!(second, first);
    assert_eq!(h.token_requests(), 2);
    assert_eq!(h.sobjects_status(&broker, &second).await, 200);
}

#[tokio::test]
async fn salesforce_sessions_are_renewed_proactively_after_90_minutes() {
    let h = SfHarness::start(SalesforceConfig::default());
    let secret = h.emu.config().client_secret.clone();
    let broker = h.broker(&secret);
    let first = broker.access_token().await.unwrap();
    h.emu.clock().advance(Duration::minutes(60));
    assert_eq!(broker.access_token().await.unwrap(), first);
    assert_eq!(h.sobjects_status(&broker, &first).await, 200);
    h.emu.clock().advance(Duration::minutes(31));
    let second = broker.access_token().await.unwrap();
    assert_ne!(second, first);
    assert_eq!(h.token_requests(), 2);
    assert_eq!(h.sobjects_status(&broker, &second).await, 200);
    assert_eq!(
        h.emu.log().count(|r| r.status == 401),
        0,
        "renewed before any 401"
    );
}

#[tokio::test]
async fn salesforce_with_a_wrong_secret_needs_reconnect_once() {
    let h = SfHarness::start(SalesforceConfig::default());
    let broker = h.broker("not-the-secret");
    for _ in 0..3 {
        let err = broker.access_token().await.unwrap_err();
        assert!(matches!(err, AuthError::NeedsReconnect { .. }), "{err}");
    }
    assert_eq!(h.token_requests(), 1);
    assert_eq!(h.vault.events(None).unwrap().len(), 1);
    // Fixed secret: an operator reconnects.
    let secret = h.emu.config().client_secret.clone();
    let fixed = h.broker(&secret);
    assert_eq!(fixed.state().0, ConnectionState::NeedsReconnect);
    fixed.connect().await.unwrap();
    let token = fixed.access_token().await.unwrap();
    assert_eq!(h.sobjects_status(&fixed, &token).await, 200);
}

fn file_contains(path: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read(path)
        .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
        .unwrap_or(false)
}

#[tokio::test]
async fn tokens_are_encrypted_at_rest_and_a_wrong_key_is_refused() {
    let h = QboHarness::start();
    let broker = h.broker(None);
    let first_refresh = h.install_fresh_pair(&broker);
    h.emu.clock().advance(Duration::seconds(3601));
    let access = broker.access_token().await.unwrap();
    let refresh = stored_refresh_token(&h.vault());
    drop(broker);

    let wal = h.db_path.with_extension("db-wal");
    let files = [h.db_path.clone(), wal];
    let in_files = |needle: &[u8]| files.iter().any(|f| file_contains(f, needle));
    assert!(in_files(TENANT.as_bytes()), "the search sees the files");
    for secret in [access.expose(), refresh.as_str(), first_refresh.as_str()] {
        assert!(!in_files(secret.as_bytes()), "a token is stored in clear");
    }

    let wrong = Vault::open(Database::open(&h.db_path).unwrap(), &VaultKey::generate());
    let err = wrong.err().unwrap().to_string();
    assert!(err.contains("vault key does not match"), "{err}");
}

#[test]
fn the_key_file_is_created_with_mode_0600_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys").join("vault.key");
    let key = VaultKey::load_or_create(&path).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let again = VaultKey::load_or_create(&path).unwrap();
    assert_eq!(again.to_base64(), key.to_base64());
    std::fs::write(&path, "c2hvcnQ=\n").unwrap();
    let err = format!("{:#}", VaultKey::load_or_create(&path).unwrap_err());
    assert!(
        err.contains("32 bytes") && err.contains("vault.key"),
        "{err}"
    );
}

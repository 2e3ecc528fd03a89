//! The host's configuration file (TOML): where the store lives, the daemon's server, and per
//! tenant its settings (given to the guest through `wasi:config`), connections, schedules and
//! webhook verifier. Secrets are never written in the file: a connection names the environment
//! variables holding its token or OAuth client, and OAuth tokens live in the encrypted vault
//! beside the store.

use crate::auth::broker::BrokerHooks;
use crate::auth::qbo::{QboEndpoints, QboOAuth};
use crate::auth::salesforce::SalesforceOAuth;
use crate::auth::{Secret, TokenBroker, Vault, VaultKey};
use crate::caps::http::{Connection, CredentialSource, StaticToken};
use crate::caps::pacing::{BudgetKind, Pacer, PacingConfig};
use crate::caps::schedule::StoreSchedule;
use crate::caps::storage::backend_for;
use crate::db::Database;
use crate::metrics::Metrics;
use crate::tenant::TenantCaps;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The whole file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HostConfig {
    /// The durable store.
    #[serde(default)]
    pub store: StoreConfig,
    /// The daemon (`ledgerlink run`).
    #[serde(default)]
    pub server: ServerConfig,
    /// The tenants.
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<TenantConfig>,
}

/// The daemon's settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServerConfig {
    /// Where the webhook receiver, `/healthz`, `/metrics` and `/status` listen (loopback by
    /// default; put a TLS-terminating proxy in front for Intuit).
    #[serde(default = "default_listen")]
    pub listen: std::net::SocketAddr,
    /// How long in-flight runs may take to finish after SIGTERM or Ctrl-C, in seconds.
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    /// How often the scheduler looks for due work, in milliseconds.
    #[serde(default = "default_tick")]
    pub scheduler_tick_ms: u64,
    /// Where the reconciliation and aging reports are written after each run of their job
    /// (`<dir>/<tenant>/`, HTML, CSV and JSON); none: not written (`ledgerlink report` still
    /// writes them on demand). Relative to the config file's folder.
    #[serde(default)]
    pub reports_dir: Option<PathBuf>,
    /// How many tenants' webhook runs the inbox has in flight at once (a tenant's own runs stay
    /// in order).
    #[serde(default = "default_inbox_parallel")]
    pub inbox_tenants_in_parallel: usize,
    /// This host's id among the hosts sharing a store (default: the machine's name and the
    /// listen port; the same after a restart, so a restarted host takes its tenants back at
    /// once).
    #[serde(default)]
    pub host_id: Option<String>,
    /// How long this host's hold on a tenant lasts without renewal, in seconds: the longest a
    /// dead host's tenants wait before another host takes them over.
    #[serde(default = "default_lease_seconds")]
    pub lease_seconds: u64,
}

fn default_lease_seconds() -> u64 {
    crate::cluster::DEFAULT_LEASE.as_secs()
}

fn default_inbox_parallel() -> usize {
    crate::webhooks::worker::TENANTS_IN_PARALLEL
}

fn default_listen() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 8787))
}

fn default_grace() -> u64 {
    30
}

fn default_tick() -> u64 {
    1000
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            shutdown_grace_secs: default_grace(),
            scheduler_tick_ms: default_tick(),
            reports_dir: None,
            inbox_tenants_in_parallel: default_inbox_parallel(),
            host_id: None,
            lease_seconds: default_lease_seconds(),
        }
    }
}

/// Where the store lives: a SQLite file (one host), or a PostgreSQL database (many hosts).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StoreConfig {
    /// Path of the SQLite file, relative to the config file (unused with `url`).
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// A PostgreSQL URL (`postgres://user@host:5432/db`): the store shared by every host of a
    /// deployment. Its password comes from the environment ([`Self::password_env`]), never from
    /// this file.
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the PostgreSQL password.
    #[serde(default = "default_password_env")]
    pub password_env: String,
    /// PEM certificates of the CA that signed the PostgreSQL server's certificate, when it is
    /// not one the web trusts; relative to the config file. Ask for TLS with
    /// `?sslmode=require` in `url`.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The vault key file (created with mode 0600 when missing), relative to the config file.
    /// `LEDGERLINK_KEY` (base64) overrides it.
    #[serde(default = "default_key_file")]
    pub key_file: PathBuf,
    /// Days to keep finished work (handled webhooks, job runs, auth events, resolved errors,
    /// cleared alerts, done run-later rows); 0 keeps everything.
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
}

fn default_retention_days() -> u32 {
    30
}

impl StoreConfig {
    /// The store as configured: PostgreSQL when `url` is set (its password from
    /// `password-env`), else the SQLite file.
    pub fn open(&self) -> Result<Database> {
        match &self.url {
            Some(url) => {
                let password = std::env::var(&self.password_env).ok();
                Database::connect_with(url, password.as_deref(), self.ca_file.as_deref())
            }
            None => Database::open(&self.path),
        }
    }
}

fn default_password_env() -> String {
    "LEDGERLINK_STORE_PASSWORD".to_string()
}

fn default_store_path() -> PathBuf {
    PathBuf::from("ledgerlink.db")
}

fn default_key_file() -> PathBuf {
    PathBuf::from("ledgerlink.key")
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: default_store_path(),
            url: None,
            password_env: default_password_env(),
            ca_file: None,
            key_file: default_key_file(),
            retention_days: default_retention_days(),
        }
    }
}

/// One tenant.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TenantConfig {
    /// Tenant id: letters, digits, `-` and `_`.
    pub id: String,
    /// Settings the guest reads through `wasi:config` (realm id, stage names, GL accounts...).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Connections by name: `quickbooks`, `salesforce`, `notify`.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionConfig>,
    /// Job schedules overriding the component's defaults: `job = "sec min hour day month
    /// weekday"` or `job = "off"`.
    #[serde(default)]
    pub schedules: BTreeMap<String, String>,
    /// The QBO webhook verifier of this tenant's realm (`settings.realm-id`).
    #[serde(default)]
    pub webhooks: Option<WebhookTenantConfig>,
    /// Salesforce change events over the Pub/Sub API (none: polling alone).
    #[serde(default)]
    pub salesforce_events: Option<SalesforceEventsConfig>,
    /// Mirror the error ledger into Salesforce (`Ledgerlink_Sync_Error__c`), so that sales
    /// ops see sync errors where they work.
    #[serde(default)]
    pub mirror_errors: bool,
}

/// A tenant's Pub/Sub API subscription. It uses the tenant's `salesforce` connection (its
/// instance URL and credential).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SalesforceEventsConfig {
    /// The Pub/Sub API endpoint.
    #[serde(default = "default_pubsub_url")]
    pub url: url::Url,
    /// The channels to follow (one subscription each).
    #[serde(default = "default_topics")]
    pub topics: Vec<String>,
    /// Events asked for at a time (`num_requested`, 1 to 100).
    #[serde(default = "default_batch")]
    pub batch: i32,
}

fn default_pubsub_url() -> url::Url {
    url::Url::parse("https://api.pubsub.salesforce.com:7443").expect("a valid URL")
}

/// The change events of the objects the flows sync.
fn default_topics() -> Vec<String> {
    [
        "/data/AccountChangeEvent",
        "/data/Product2ChangeEvent",
        "/data/OpportunityChangeEvent",
        "/data/OrderChangeEvent",
    ]
    .map(String::from)
    .to_vec()
}

fn default_batch() -> i32 {
    100
}

impl SalesforceEventsConfig {
    fn validate(&self) -> Result<()> {
        refuse_plain_http_off_loopback("url", &self.url)?;
        if self.topics.is_empty() {
            bail!("topics is empty");
        }
        for topic in &self.topics {
            if !(topic.starts_with("/data/") || topic.starts_with("/event/")) || topic.len() < 7 {
                bail!("topic {topic:?} is not a channel (/data/<Object>ChangeEvent, /data/ChangeEvents, /event/<Name>__e)");
            }
        }
        if !(1..=100).contains(&self.batch) {
            bail!("batch {} is not between 1 and 100", self.batch);
        }
        Ok(())
    }
}

/// A tenant's webhook settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WebhookTenantConfig {
    /// Environment variable holding the Intuit app's verifier token.
    pub verifier_token_env: String,
}

/// One connection.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConnectionConfig {
    /// The real base URL (an emulator's URL in tests).
    pub base_url: url::Url,
    /// Environment variable holding a static bearer token (tests, simple setups).
    #[serde(default)]
    pub token_env: Option<String>,
    /// OAuth managed by the token broker instead of a static token.
    #[serde(default)]
    pub auth: Option<AuthKind>,
    /// Environment variable holding the OAuth client id.
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// Environment variable holding the OAuth client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// QBO token endpoint (default: Intuit production); an emulator's in tests.
    #[serde(default)]
    pub token_url: Option<url::Url>,
    /// QBO authorize endpoint (default: Intuit production).
    #[serde(default)]
    pub authorize_url: Option<url::Url>,
    /// QBO redirect URI registered for the app; `ledgerlink connect` listens on its
    /// 127.0.0.1 port.
    #[serde(default)]
    pub redirect_uri: Option<url::Url>,
    /// Salesforce My Domain for the token endpoint (default: `base-url`).
    #[serde(default)]
    pub login_url: Option<url::Url>,
    /// Rate budget (QBO) or daily-quota reserve (Salesforce); defaults to the documented limits.
    #[serde(default)]
    pub pacing: PacingConfig,
}

/// How a connection authenticates when the broker manages it.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum AuthKind {
    /// Intuit OAuth 2.0 authorization code (`ledgerlink connect quickbooks`), rotating refresh
    /// tokens.
    QuickbooksOauth,
    /// Salesforce OAuth 2.0 client credentials.
    SalesforceClientCredentials,
}

/// The default redirect URI of `ledgerlink connect quickbooks`.
pub const DEFAULT_REDIRECT_URI: &str = "http://127.0.0.1:8765/callback";

/// The connection names the guest may address.
pub const CONNECTION_NAMES: [&str; 3] = ["quickbooks", "salesforce", "notify"];

impl HostConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Self::parse(&text, path)
    }

    /// Parses and validates config `text` read from `path` (relative store paths are taken
    /// from its directory).
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut config: HostConfig = toml::from_str(text)
            .with_context(|| format!("{} is not a valid Ledgerlink config", path.display()))?;
        if let Some(dir) = path.parent() {
            if config.store.path.is_relative() {
                config.store.path = dir.join(&config.store.path);
            }
            if let Some(reports) = config.server.reports_dir.as_mut() {
                if reports.is_relative() {
                    *reports = dir.join(&*reports);
                }
            }
            if config.store.key_file.is_relative() {
                config.store.key_file = dir.join(&config.store.key_file);
            }
            if let Some(ca) = config.store.ca_file.as_mut().filter(|ca| ca.is_relative()) {
                *ca = dir.join(&*ca);
            }
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        if let Some(url) = &self.store.url {
            // Secrets never go in the file: the password comes from the environment.
            match url::Url::parse(url) {
                Ok(u) if !matches!(u.scheme(), "postgres" | "postgresql") => bail!(
                    "[store] url must be a postgres:// URL, not {}://",
                    u.scheme()
                ),
                Ok(u) if u.password().is_some() => bail!(
                    "[store] url holds a password; put it in the environment variable {} \
                     instead (secrets never go in the config file)",
                    self.store.password_env
                ),
                Ok(_) => {}
                Err(e) => bail!("[store] url is not a URL: {e}"),
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        // Webhooks are routed and QBO pacing is kept by realm: one company, one tenant.
        let mut realms: BTreeMap<&str, &str> = BTreeMap::new();
        for tenant in &self.tenants {
            if tenant.id.is_empty()
                || !tenant
                    .id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                bail!(
                    "tenant id {:?} must be letters, digits, '-' or '_'",
                    tenant.id
                );
            }
            if !seen.insert(&tenant.id) {
                bail!("tenant {:?} is configured twice", tenant.id);
            }
            for name in tenant.connections.keys() {
                if !CONNECTION_NAMES.contains(&name.as_str()) {
                    bail!(
                        "tenant {}: unknown connection {name:?} (known: {})",
                        tenant.id,
                        CONNECTION_NAMES.join(", ")
                    );
                }
            }
            for (name, conn) in &tenant.connections {
                conn.validate(name)
                    .with_context(|| format!("tenant {}: connection {name}", tenant.id))?;
            }
            if let Some(events) = &tenant.salesforce_events {
                if !tenant.connections.contains_key("salesforce") {
                    bail!(
                        "tenant {}: salesforce-events needs the salesforce connection",
                        tenant.id
                    );
                }
                events
                    .validate()
                    .with_context(|| format!("tenant {}: salesforce-events", tenant.id))?;
            }
            if tenant.mirror_errors && !tenant.connections.contains_key("salesforce") {
                bail!(
                    "tenant {}: mirror-errors needs the salesforce connection",
                    tenant.id
                );
            }
            for (job, expr) in &tenant.schedules {
                crate::scheduler::spec::parse(expr)
                    .with_context(|| format!("tenant {}: schedule of job {job}", tenant.id))?;
            }
            if let Some(realm) = tenant.settings.get("realm-id") {
                if let Some(other) = realms.insert(realm, &tenant.id) {
                    bail!(
                        "tenants {other} and {} both have realm-id {realm}: one QBO company is served by one tenant",
                        tenant.id
                    );
                }
            }
            if tenant.webhooks.is_some() && !tenant.settings.contains_key("realm-id") {
                bail!(
                    "tenant {}: [tenant.webhooks] needs the realm in settings.realm-id",
                    tenant.id
                );
            }
            for key in tenant.settings.keys() {
                let lower = key.to_ascii_lowercase();
                if ["secret", "password", "token"]
                    .iter()
                    .any(|s| lower.contains(s))
                {
                    bail!("tenant {}: setting {key:?} looks like a secret; secrets belong in the environment, not the config file", tenant.id);
                }
            }
        }
        Ok(())
    }

    /// The tenant `wanted` names, or the only one configured.
    pub fn tenant_id(&self, wanted: Option<&str>) -> Result<String> {
        match (wanted, self.tenants.as_slice()) {
            (Some(id), tenants) if tenants.iter().any(|t| t.id == id) => Ok(id.to_string()),
            (Some(id), _) => bail!("no tenant {id:?} in the config"),
            (None, [only]) => Ok(only.id.clone()),
            (None, []) => bail!("the config has no tenant"),
            (None, _) => bail!("the config has several tenants: pass --tenant"),
        }
    }

    /// Tenant `id`'s settings and state over `db`, without its connections: what reading the
    /// component's own state needs (a status, a stored report), with no token and no API call.
    pub fn offline_caps(&self, id: &str, db: &Database) -> Result<TenantCaps> {
        let tenant = self
            .tenants
            .iter()
            .find(|t| t.id == id)
            .with_context(|| format!("no tenant {id:?} in the config"))?;
        Ok(TenantCaps {
            id: tenant.id.clone(),
            settings: Arc::new(tenant.settings.clone()),
            connections: Arc::default(),
            storage: backend_for(db),
            schedule: Arc::new(StoreSchedule::new(db.clone())),
        })
    }

    /// The capabilities of tenant `id`, over the shared store `db`.
    pub fn tenant_caps(&self, id: &str, db: &Database) -> Result<TenantCaps> {
        self.tenant_caps_with(id, db, None, None, None)
    }

    /// [`HostConfig::tenant_caps`], counting throttles in `metrics`, with OAuth tokens in
    /// `vault` (opened from the key file when `None` and a connection needs it) and the token
    /// brokers telling `hooks` (the daemon's alerts) what a person must know. Build a tenant's
    /// caps once and reuse them: the pacing budgets and token caches live in them.
    pub fn tenant_caps_with(
        &self,
        id: &str,
        db: &Database,
        vault: Option<&Vault>,
        metrics: Option<&Metrics>,
        hooks: Option<Arc<dyn BrokerHooks>>,
    ) -> Result<TenantCaps> {
        let tenant = self.tenant(id)?;
        let mut opened = None;
        let mut connections = BTreeMap::new();
        for (name, conn) in &tenant.connections {
            let credential: Option<Arc<dyn CredentialSource>> = match (&conn.token_env, conn.auth) {
                (Some(var), _) => {
                    let token = std::env::var(var).with_context(|| {
                        format!(
                            "tenant {id}: connection {name} needs the environment variable {var}"
                        )
                    })?;
                    Some(Arc::new(StaticToken(token)))
                }
                (None, Some(_)) => {
                    let vault = match vault {
                        Some(v) => v.clone(),
                        None => match &opened {
                            Some(v) => Clone::clone(v),
                            None => {
                                let v = self.open_vault(db)?;
                                opened = Some(v.clone());
                                v
                            }
                        },
                    };
                    Some(Arc::new(self.broker_with(
                        id,
                        name,
                        vault,
                        hooks.clone(),
                    )?))
                }
                (None, None) => None,
            };
            let pacer = Pacer::new(BudgetKind::for_connection(name), conn.pacing.clone())
                .with_realm(tenant.settings.get("realm-id").map(String::as_str));
            let pacer = match metrics {
                Some(m) => pacer.with_metrics(m.clone(), id, name),
                None => pacer,
            };
            connections.insert(
                name.clone(),
                Connection::new(conn.base_url.clone(), credential).with_pacer(Arc::new(pacer)),
            );
        }
        Ok(TenantCaps {
            id: tenant.id.clone(),
            settings: Arc::new(tenant.settings.clone()),
            connections: Arc::new(connections),
            storage: backend_for(db),
            schedule: Arc::new(StoreSchedule::new(db.clone())),
        })
    }

    /// Tenant `id`.
    pub fn tenant(&self, id: &str) -> Result<&TenantConfig> {
        self.tenants
            .iter()
            .find(|t| t.id == id)
            .with_context(|| format!("no tenant {id:?} in the config"))
    }

    /// True when some connection keeps OAuth tokens in the vault.
    pub fn needs_vault(&self) -> bool {
        self.tenants
            .iter()
            .any(|t| t.connections.values().any(|c| c.auth.is_some()))
    }

    /// The token vault in `db`, keyed by `LEDGERLINK_KEY` or the key file.
    pub fn open_vault(&self, db: &Database) -> Result<Vault> {
        let key = VaultKey::from_env_or_file(&self.store.key_file)?;
        Vault::open(db.clone(), &key)
    }

    /// The Intuit OAuth client of tenant `id`'s `quickbooks` connection.
    pub fn qbo_oauth(&self, id: &str) -> Result<QboOAuth> {
        let tenant = self.tenant(id)?;
        let conn = tenant
            .connections
            .get("quickbooks")
            .with_context(|| format!("tenant {id} has no quickbooks connection"))?;
        if conn.auth != Some(AuthKind::QuickbooksOauth) {
            bail!("tenant {id}: the quickbooks connection does not use quickbooks-oauth");
        }
        let (client_id, client_secret) = self.client(id, "quickbooks", conn)?;
        let mut endpoints = QboEndpoints::production();
        if let Some(url) = &conn.token_url {
            endpoints.token = url.clone();
        }
        if let Some(url) = &conn.authorize_url {
            endpoints.authorization = url.clone();
        }
        let redirect = conn
            .redirect_uri
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_else(|| DEFAULT_REDIRECT_URI.to_string());
        QboOAuth::new(endpoints, client_id, client_secret, redirect)
    }

    fn client(&self, id: &str, name: &str, conn: &ConnectionConfig) -> Result<(String, Secret)> {
        let env = |what: &str, var: &Option<String>| -> Result<String> {
            let var = var
                .as_deref()
                .with_context(|| format!("tenant {id}: connection {name} needs {what}"))?;
            std::env::var(var).with_context(|| {
                format!("tenant {id}: connection {name} needs the environment variable {var}")
            })
        };
        Ok((
            env("client-id-env", &conn.client_id_env)?,
            Secret::new(env("client-secret-env", &conn.client_secret_env)?),
        ))
    }

    /// The token broker of connection `name` of tenant `id` (a connection with `auth`).
    pub fn broker(&self, id: &str, name: &str, vault: Vault) -> Result<TokenBroker> {
        self.broker_with(id, name, vault, None)
    }

    /// [`HostConfig::broker`] telling `hooks` what happens to its tokens.
    pub fn broker_with(
        &self,
        id: &str,
        name: &str,
        vault: Vault,
        hooks: Option<Arc<dyn BrokerHooks>>,
    ) -> Result<TokenBroker> {
        let tenant = self.tenant(id)?;
        let conn = tenant
            .connections
            .get(name)
            .with_context(|| format!("tenant {id} has no connection {name}"))?;
        let builder = match conn.auth {
            Some(AuthKind::QuickbooksOauth) => {
                TokenBroker::qbo(id, name, self.qbo_oauth(id)?, vault)
            }
            Some(AuthKind::SalesforceClientCredentials) => {
                let (client_id, client_secret) = self.client(id, name, conn)?;
                let login = conn.login_url.as_ref().unwrap_or(&conn.base_url);
                let oauth = SalesforceOAuth::new(login, client_id, client_secret)?;
                TokenBroker::salesforce(id, name, oauth, vault)
            }
            None => bail!("tenant {id}: connection {name} has no `auth`"),
        };
        let built = match hooks {
            Some(hooks) => builder.hooks(hooks).build(),
            None => builder.build(),
        };
        built.map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// Tokens travel with every call: plain HTTP is only for this machine (the emulators, a local
/// proxy); anything else must be HTTPS.
fn refuse_plain_http_off_loopback(field: &str, url: &url::Url) -> Result<()> {
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => bail!("{field} {url}: plain HTTP is allowed only to loopback (127.0.0.1, ::1, localhost); use https"),
        other => bail!("{field} {url}: scheme {other:?} is not http or https"),
    }
}

impl ConnectionConfig {
    fn validate(&self, name: &str) -> Result<()> {
        self.pacing.validate()?;
        for (field, url) in [
            ("base-url", Some(&self.base_url)),
            ("login-url", self.login_url.as_ref()),
        ] {
            if let Some(url) = url {
                refuse_plain_http_off_loopback(field, url)?;
            }
        }
        match (self.auth, &self.token_env) {
            (Some(_), Some(_)) => bail!("give either token-env or auth, not both"),
            (Some(kind), None) => {
                if self.client_id_env.is_none() || self.client_secret_env.is_none() {
                    bail!("auth needs client-id-env and client-secret-env");
                }
                let expected = match kind {
                    AuthKind::QuickbooksOauth => "quickbooks",
                    AuthKind::SalesforceClientCredentials => "salesforce",
                };
                if name != expected {
                    bail!("auth {kind:?} is for the {expected} connection");
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// A commented example, as `ledgerlink init` writes it.
pub const EXAMPLE: &str = r#"# Ledgerlink host configuration.
# Secrets never go in this file: a connection names the environment variables holding its token
# or OAuth client, and OAuth tokens are kept encrypted in the vault beside the store.

[store]
# SQLite file (WAL mode), relative to this file.
path = "ledgerlink.db"
# Or, for many `ledgerlink run` hosts sharing one store: a PostgreSQL database (its password in
# the environment variable LEDGERLINK_STORE_PASSWORD, never here).
# url = "postgres://ledgerlink@db.internal:5432/ledgerlink?sslmode=require"
# ca-file = "db-ca.pem"   (the CA of the server's certificate, if not a public one)
# Vault key (created with mode 0600 when missing); LEDGERLINK_KEY (base64) overrides it.
key-file = "ledgerlink.key"
# Days to keep finished work (handled webhooks, job runs, auth events, resolved errors);
# 0 keeps everything.
retention-days = 30

[server]
# `ledgerlink run`: webhook receiver, /status (HTML), /status.json, /healthz and /metrics.
# Loopback by default; put a TLS-terminating proxy in front for Intuit's webhooks. Set
# LEDGERLINK_STATUS_TOKEN to ask for `Authorization: Bearer <token>` on /status.
listen = "127.0.0.1:8787"
# On SIGTERM/Ctrl-C, runs in progress get this long to finish (the rest run again at start).
shutdown-grace-secs = 30
scheduler-tick-ms = 1000
# Tenants whose webhook runs are handled at once (a tenant's own runs stay in order).
inbox-tenants-in-parallel = 8
# Hosts sharing one store: this host's id (default: machine name and listen port) and how long
# a dead host's tenants wait before another host takes them over.
# host-id = "sync-1"
lease-seconds = 15
# After each run of `reconcile` or `aging`, its report as HTML, CSV and JSON in
# reports/<tenant>/ (relative to this file). `ledgerlink report` writes one on demand.
reports-dir = "reports"

[[tenant]]
id = "acme"
# Mirror the error ledger into Salesforce (custom object Ledgerlink_Sync_Error__c), so sales
# ops see what did not sync, and see it resolved, where they work.
mirror-errors = true

[tenant.settings]
# Read by the component through wasi:config.
realm-id = "9130355377151526"
closed-won-stage = "Closed Won"
income-account = "79"

[tenant.schedules]
# Override the component's default schedules: "sec min hour day month weekday", or "off".
# poll = "0 */5 * * * *"
# aging = "off"

[tenant.webhooks]
# Intuit's webhook verifier token for realm-id above.
verifier-token-env = "ACME_QBO_VERIFIER"

[tenant.connections.quickbooks]
# Production: https://quickbooks.api.intuit.com  Sandbox: https://sandbox-quickbooks.api.intuit.com
base-url = "https://sandbox-quickbooks.api.intuit.com"
# OAuth 2.0 with rotating refresh tokens; run `ledgerlink connect quickbooks --tenant acme` once.
auth = "quickbooks-oauth"
client-id-env = "ACME_QBO_CLIENT_ID"
client-secret-env = "ACME_QBO_CLIENT_SECRET"
# Registered with the Intuit app; `connect` listens on this 127.0.0.1 port for the redirect.
redirect-uri = "http://127.0.0.1:8765/callback"
# token-url / authorize-url default to Intuit production (override for the emulator).
# Instead of auth: token-env = "ACME_QBO_TOKEN" (a static bearer token).

[tenant.connections.quickbooks.pacing]
# QBO's documented per-realm limits; the host waits up to max-wait-ms for a permit
# (batch-max-wait-ms for a /batch request), else answers the component 429 with Retry-After
# and x-ledgerlink-retry-at.
per-minute = 500
per-second = 10
batch-per-minute = 40
max-wait-ms = 2000
batch-max-wait-ms = 20000

[tenant.connections.salesforce]
base-url = "https://acme.my.salesforce.com"
# Client credentials of the connected app (token endpoint: base-url or login-url).
auth = "salesforce-client-credentials"
client-id-env = "ACME_SF_CLIENT_ID"
client-secret-env = "ACME_SF_CLIENT_SECRET"

[tenant.connections.salesforce.pacing]
# Stop calling when fewer daily API calls than this remain (Sforce-Limit-Info).
daily-reserve = 1000

[tenant.connections.notify]
# A Slack-style incoming-webhook URL.
base-url = "https://hooks.slack.com/services/T000/B000/XXXX"

# Salesforce change events over the Pub/Sub API, for orgs with Change Data Capture on these
# objects (Setup > Change Data Capture): changes arrive in seconds instead of at the next poll,
# which keeps running underneath. Uses the salesforce connection's session.
# [tenant.salesforce-events]
# url = "https://api.pubsub.salesforce.com:7443"
# topics = ["/data/AccountChangeEvent", "/data/Product2ChangeEvent",
#           "/data/OpportunityChangeEvent", "/data/OrderChangeEvent"]
# batch = 100
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledgerlink.toml");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    #[test]
    fn the_example_config_parses_and_builds_a_tenant() {
        let (dir, path) = write(EXAMPLE);
        let config = HostConfig::load(&path).unwrap();
        assert_eq!(config.store.path, dir.path().join("ledgerlink.db"));
        for var in [
            "ACME_QBO_CLIENT_ID",
            "ACME_QBO_CLIENT_SECRET",
            "ACME_SF_CLIENT_ID",
            "ACME_SF_CLIENT_SECRET",
        ] {
            std::env::set_var(var, "x");
        }
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8787");
        assert!(config.needs_vault());
        let db = Database::in_memory().unwrap();
        let vault = Vault::open(db.clone(), &VaultKey::generate()).unwrap();
        let caps = config
            .tenant_caps_with("acme", &db, Some(&vault), None, None)
            .unwrap();
        assert!(caps.connections["quickbooks"].credential.is_some());
        assert!(caps.connections["quickbooks"].pacer.is_some());
        assert_eq!(
            caps.settings.get("realm-id").map(String::as_str),
            Some("9130355377151526")
        );
        assert_eq!(caps.connections.len(), 3);
        assert!(caps.connections["notify"].credential.is_none());
    }

    #[test]
    fn salesforce_events_are_checked() {
        let tenant = |events: &str| {
            let text = EXAMPLE.replace(
                "# [tenant.salesforce-events]",
                &format!("[tenant.salesforce-events]\n{events}"),
            );
            let (_dir, path) = write(&text);
            HostConfig::load(&path).map_err(|e| format!("{e:#}"))
        };
        let config = tenant("").unwrap();
        let events = config.tenants[0].salesforce_events.as_ref().unwrap();
        assert_eq!(
            events.url.as_str(),
            "https://api.pubsub.salesforce.com:7443/"
        );
        assert_eq!(events.topics.len(), 4);
        assert_eq!(events.batch, 100);
        for (bad, says) in [
            ("batch = 0", "between 1 and 100"),
            ("batch = 101", "between 1 and 100"),
            ("topics = []", "topics is empty"),
            ("topics = [\"Account\"]", "is not a channel"),
            ("url = \"http://pubsub.example.com:7443\"", "http"),
            ("replay = \"EARLIEST\"", "unknown field"),
        ] {
            let err = tenant(bad).unwrap_err();
            assert!(err.contains(says), "{bad}: {err}");
        }
        let loopback = tenant("url = \"http://127.0.0.1:7443\"").unwrap();
        assert_eq!(
            loopback.tenants[0]
                .salesforce_events
                .as_ref()
                .unwrap()
                .url
                .port(),
            Some(7443)
        );
    }

    #[test]
    fn a_secret_in_the_file_is_refused() {
        let (_dir, path) =
            write("[[tenant]]\nid = \"a\"\n[tenant.settings]\nclient-secret = \"x\"\n");
        let err = HostConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("looks like a secret"), "{err}");
        let (_dir, path) = write("[[tenant]]\nid = \"a\"\n[tenant.connections.quickbooks]\nbase-url = \"https://x\"\ntoken = \"abc\"\n");
        let err = format!("{:#}", HostConfig::load(&path).unwrap_err());
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn oauth_settings_are_checked() {
        let (_dir, path) = write("[[tenant]]\nid = \"a\"\n[tenant.connections.quickbooks]\nbase-url = \"https://x\"\nauth = \"quickbooks-oauth\"\n");
        let err = format!("{:#}", HostConfig::load(&path).unwrap_err());
        assert!(err.contains("client-id-env"), "{err}");
        let (_dir, path) = write("[[tenant]]\nid = \"a\"\n[tenant.connections.salesforce]\nbase-url = \"https://x\"\nauth = \"quickbooks-oauth\"\nclient-id-env = \"A\"\nclient-secret-env = \"B\"\n");
        let err = format!("{:#}", HostConfig::load(&path).unwrap_err());
        assert!(err.contains("is for the quickbooks connection"), "{err}");
        let (_dir, path) =
            write("[[tenant]]\nid = \"a\"\n[tenant.schedules]\npoll = \"*/5 * * * *\"\n");
        let err = format!("{:#}", HostConfig::load(&path).unwrap_err());
        assert!(err.contains("schedule of job poll"), "{err}");
    }

    #[test]
    fn a_store_url_with_a_password_or_another_scheme_is_refused_and_ca_file_is_relative() {
        let (_dir, path) =
            write("[store]\nurl = \"postgres://ll:s3cret@db.internal/ledgerlink\"\n");
        let err = format!("{:#}", HostConfig::load(&path).unwrap_err());
        assert!(err.contains("LEDGERLINK_STORE_PASSWORD"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        let (_dir, path) = write("[store]\nurl = \"mysql://db.internal/ledgerlink\"\n");
        let err = format!("{:#}", HostConfig::load(&path).unwrap_err());
        assert!(err.contains("postgres:// URL"), "{err}");
        let (dir, path) = write(
            "[store]\nurl = \"postgres://ll@db.internal/ledgerlink?sslmode=require\"\nca-file = \"ca.pem\"\n",
        );
        let config = HostConfig::load(&path).unwrap();
        assert_eq!(config.store.ca_file, Some(dir.path().join("ca.pem")));
    }

    #[test]
    fn two_tenants_on_one_realm_are_refused() {
        let (_dir, path) = write(
            "[[tenant]]\nid = \"a\"\n[tenant.settings]\nrealm-id = \"123\"\n\
             [[tenant]]\nid = \"b\"\n[tenant.settings]\nrealm-id = \"123\"\n",
        );
        let err = format!("{:#}", HostConfig::load(&path).unwrap_err());
        assert!(
            err.contains("tenants a and b both have realm-id 123"),
            "{err}"
        );
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let conn = |url: &str| {
            format!("[[tenant]]\nid = \"a\"\n[tenant.connections.quickbooks]\nbase-url = \"{url}\"\ntoken-env = \"X\"\n")
        };
        for url in ["http://quickbooks.api.intuit.com", "http://10.0.0.5:8080"] {
            let (_dir, path) = write(&conn(url));
            let err = format!("{:#}", HostConfig::load(&path).unwrap_err());
            assert!(
                err.contains("plain HTTP is allowed only to loopback"),
                "{err}"
            );
        }
        let (_dir, path) = write(&conn("ftp://127.0.0.1"));
        let err = format!("{:#}", HostConfig::load(&path).unwrap_err());
        assert!(err.contains("is not http or https"), "{err}");
        for url in [
            "http://127.0.0.1:9000",
            "http://localhost:9000",
            "http://[::1]:9000",
            "https://quickbooks.api.intuit.com",
        ] {
            let (_dir, path) = write(&conn(url));
            assert!(HostConfig::load(&path).is_ok(), "{url}");
        }
    }

    #[test]
    fn unknown_connections_and_missing_token_variables_are_named() {
        let (_dir, path) =
            write("[[tenant]]\nid = \"a\"\n[tenant.connections.ftp]\nbase-url = \"https://x\"\n");
        assert!(HostConfig::load(&path)
            .unwrap_err()
            .to_string()
            .contains("unknown connection \"ftp\""));
        let (_dir, path) = write("[[tenant]]\nid = \"a\"\n[tenant.connections.quickbooks]\nbase-url = \"https://x\"\ntoken-env = \"LEDGERLINK_TEST_UNSET_VAR\"\n");
        let config = HostConfig::load(&path).unwrap();
        let err = format!(
            "{:#}",
            config
                .tenant_caps("a", &Database::in_memory().unwrap())
                .err()
                .unwrap()
        );
        assert!(err.contains("LEDGERLINK_TEST_UNSET_VAR"), "{err}");
    }
}

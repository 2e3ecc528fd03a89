//! The host's configuration file (TOML): where the store lives and, per tenant, its settings
//! (given to the guest through `wasi:config`) and its connections. Secrets are never written in
//! the file: a connection names the environment variable that holds its credential.

use crate::caps::http::{Connection, StaticToken};
use crate::caps::schedule::SqliteSchedule;
use crate::caps::storage::sqlite::SqliteBackend;
use crate::db::Database;
use crate::tenant::TenantCaps;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct HostConfig {
    /// The durable store.
    #[serde(default)]
    pub store: StoreConfig,
    /// The tenants.
    #[serde(default, rename = "tenant")]
    pub tenants: Vec<TenantConfig>,
}

/// Where the SQLite store lives.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StoreConfig {
    /// Path of the SQLite file, relative to the config file.
    pub path: PathBuf,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("ledgerlink.db"),
        }
    }
}

/// One tenant.
#[derive(Debug, Deserialize)]
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
}

/// One connection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ConnectionConfig {
    /// The real base URL (an emulator's URL in tests).
    pub base_url: url::Url,
    /// Environment variable holding a bearer token (until the token broker manages it).
    #[serde(default)]
    pub token_env: Option<String>,
}

/// The connection names the guest may address.
pub const CONNECTION_NAMES: [&str; 3] = ["quickbooks", "salesforce", "notify"];

impl HostConfig {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut config: HostConfig = toml::from_str(&text)
            .with_context(|| format!("{} is not a valid Ledgerlink config", path.display()))?;
        if config.store.path.is_relative() {
            if let Some(dir) = path.parent() {
                config.store.path = dir.join(&config.store.path);
            }
        }
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let mut seen = std::collections::BTreeSet::new();
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

    /// The capabilities of tenant `id`, over the shared store `db`.
    pub fn tenant_caps(&self, id: &str, db: &Database) -> Result<TenantCaps> {
        let tenant = self
            .tenants
            .iter()
            .find(|t| t.id == id)
            .with_context(|| format!("no tenant {id:?} in the config"))?;
        let mut connections = BTreeMap::new();
        for (name, conn) in &tenant.connections {
            let credential = match &conn.token_env {
                Some(var) => {
                    let token = std::env::var(var).with_context(|| {
                        format!(
                            "tenant {id}: connection {name} needs the environment variable {var}"
                        )
                    })?;
                    Some(Arc::new(StaticToken(token))
                        as Arc<dyn crate::caps::http::CredentialSource>)
                }
                None => None,
            };
            connections.insert(
                name.clone(),
                Connection {
                    base_url: conn.base_url.clone(),
                    credential,
                },
            );
        }
        Ok(TenantCaps {
            id: tenant.id.clone(),
            settings: Arc::new(tenant.settings.clone()),
            connections: Arc::new(connections),
            storage: Arc::new(SqliteBackend::new(db.clone())),
            schedule: Arc::new(SqliteSchedule::new(db.clone())),
        })
    }
}

/// A commented example, as `ledgerlink init` writes it.
pub const EXAMPLE: &str = r#"# Ledgerlink host configuration.
# Secrets never go in this file: a connection names the environment variable holding its token.

[store]
# SQLite file (WAL mode), relative to this file.
path = "ledgerlink.db"

[[tenant]]
id = "acme"

[tenant.settings]
# Read by the component through wasi:config.
realm-id = "9130355377151526"
closed-won-stage = "Closed Won"
income-account = "79"

[tenant.connections.quickbooks]
# Production: https://quickbooks.api.intuit.com  Sandbox: https://sandbox-quickbooks.api.intuit.com
base-url = "https://sandbox-quickbooks.api.intuit.com"
token-env = "ACME_QBO_TOKEN"

[tenant.connections.salesforce]
base-url = "https://acme.my.salesforce.com"
token-env = "ACME_SF_TOKEN"

[tenant.connections.notify]
# A Slack-style incoming-webhook URL.
base-url = "https://hooks.slack.com/services/T000/B000/XXXX"
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
        std::env::set_var("ACME_QBO_TOKEN", "t1");
        std::env::set_var("ACME_SF_TOKEN", "t2");
        let db = Database::in_memory().unwrap();
        let caps = config.tenant_caps("acme", &db).unwrap();
        assert_eq!(
            caps.settings.get("realm-id").map(String::as_str),
            Some("9130355377151526")
        );
        assert_eq!(caps.connections.len(), 3);
        assert!(caps.connections["notify"].credential.is_none());
    }

    #[test]
    fn a_secret_in_the_file_is_refused() {
        let (_dir, path) =
            write("[[tenant]]\nid = \"a\"\n[tenant.settings]\nclient-secret = \"x\"\n");
        let err = HostConfig::load(&path).unwrap_err().to_string();
        assert!(err.contains("looks like a secret"), "{err}");
        let (_dir, path) = write("[[tenant]]\nid = \"a\"\n[tenant.connections.quickbooks]\nbase-url = \"http://x\"\ntoken = \"abc\"\n");
        let err = format!("{:#}", HostConfig::load(&path).unwrap_err());
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn unknown_connections_and_missing_token_variables_are_named() {
        let (_dir, path) =
            write("[[tenant]]\nid = \"a\"\n[tenant.connections.ftp]\nbase-url = \"http://x\"\n");
        assert!(HostConfig::load(&path)
            .unwrap_err()
            .to_string()
            .contains("unknown connection \"ftp\""));
        let (_dir, path) = write("[[tenant]]\nid = \"a\"\n[tenant.connections.quickbooks]\nbase-url = \"http://x\"\ntoken-env = \"LEDGERLINK_TEST_UNSET_VAR\"\n");
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

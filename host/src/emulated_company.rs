//! A tenant wired to in-process emulators on 127.0.0.1: a seeded Salesforce org, a QBO company,
//! a notification sink and the webhook receiver. It is what `ledgerlink demo`, the end-to-end
//! tests and the backfill benchmark run against.

use crate::caps::http::{Connection, CredentialSource, StaticToken};
use crate::caps::pacing::{BudgetKind, Pacer, PacingConfig};
use crate::caps::schedule::StoreSchedule;
use crate::caps::storage::backend_for;
use crate::db::Database;
use crate::tenant::TenantCaps;
use anyhow::{Context, Result};
use axum::routing::post;
use axum::Router;
use ledgerlink_emulators::common::server::RunningServer;
use ledgerlink_emulators::qbo::{QboConfig, QboEmulator};
use ledgerlink_emulators::salesforce::{SalesforceConfig, SalesforceEmulator};
use ledgerlink_emulators::seed::{self, SeedSpec};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use url::Url;

/// The tenant id the local company runs as.
pub const TENANT: &str = "demo";

/// Messages posted to the `notify` connection.
#[derive(Clone, Default)]
pub struct NotifySink {
    messages: Arc<Mutex<Vec<String>>>,
}

impl NotifySink {
    /// Every message so far.
    pub fn messages(&self) -> Vec<String> {
        self.messages.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The receiving end: `POST /` with a Slack-style `{"text": ...}`.
    pub fn router(&self) -> Router {
        let messages = self.messages.clone();
        Router::new().route(
            "/",
            post(move |body: axum::body::Bytes| {
                let messages = messages.clone();
                async move {
                    let text = serde_json::from_slice::<serde_json::Value>(&body)
                        .ok()
                        .and_then(|v| v.get("text").and_then(|t| t.as_str()).map(str::to_string))
                        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
                    if let Ok(mut m) = messages.lock() {
                        m.push(text);
                    }
                    "ok"
                }
            }),
        )
    }
}

/// Emulators, seed and tenant.
pub struct LocalCompany {
    /// The QBO emulator.
    pub qbo: QboEmulator,
    /// The Salesforce emulator.
    pub sf: SalesforceEmulator,
    /// The realm the tenant syncs.
    pub realm: String,
    /// Notifications received.
    pub notify: NotifySink,
    /// The tenant's capabilities.
    pub tenant: TenantCaps,
    /// Seeded Salesforce ids by seed reference.
    pub seeded: BTreeMap<String, String>,
    servers: Vec<RunningServer>,
}

/// How to set up the local company.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// Salesforce data to generate.
    pub seed: SeedSpec,
    /// QBO emulator settings (rate limits, webhook target).
    pub qbo: QboConfig,
    /// Salesforce emulator settings (daily API limit, page size).
    pub salesforce: SalesforceConfig,
    /// Extra tenant settings (over the defaults).
    pub settings: BTreeMap<String, String>,
    /// Pace requests under QBO's documented limits, as `ledgerlink run` does (off only to test
    /// the flows' own handling of throttles).
    pub pacing: bool,
}

impl Default for LocalOptions {
    fn default() -> Self {
        Self {
            seed: SeedSpec::default(),
            qbo: QboConfig::default(),
            salesforce: SalesforceConfig::default(),
            settings: BTreeMap::new(),
            pacing: true,
        }
    }
}

impl LocalCompany {
    /// Starts the emulators, seeds Salesforce and builds the tenant over `db`.
    pub fn start(options: LocalOptions, db: &Database) -> Result<Self> {
        let (qbo, qbo_server) = QboEmulator::start(options.qbo.clone(), 0)?;
        let (sf, sf_server) = SalesforceEmulator::start(options.salesforce.clone(), 0)?;
        let notify = NotifySink::default();
        let notify_server = RunningServer::start(notify.router(), 0)?;
        let realm = qbo
            .config()
            .realms
            .first()
            .cloned()
            .context("the QBO emulator has no realm")?;
        let seeded = seed::generate(&options.seed).load_into(&sf)?;
        let qbo_token: Arc<dyn CredentialSource> =
            Arc::new(StaticToken(qbo.issue_tokens(&realm).access_token));
        let sf_token: Arc<dyn CredentialSource> = Arc::new(StaticToken(sf.issue_token()));
        let mut connections = BTreeMap::new();
        let pace = |c: Connection, kind: BudgetKind| {
            if options.pacing {
                c.with_pacer(Arc::new(
                    Pacer::new(kind, PacingConfig::default()).with_realm(Some(&realm)),
                ))
            } else {
                c
            }
        };
        connections.insert(
            "quickbooks".to_string(),
            pace(
                Connection::new(Url::parse(&qbo_server.url())?, Some(qbo_token)),
                BudgetKind::Qbo,
            ),
        );
        connections.insert(
            "salesforce".to_string(),
            pace(
                Connection::new(Url::parse(&sf_server.url())?, Some(sf_token)),
                BudgetKind::Salesforce,
            ),
        );
        connections.insert(
            "notify".to_string(),
            pace(
                Connection::new(Url::parse(&notify_server.url())?, None),
                BudgetKind::PenaltyOnly,
            ),
        );
        let mut settings = BTreeMap::new();
        settings.insert("realm-id".to_string(), realm.clone());
        settings.extend(options.settings);
        let tenant = TenantCaps {
            id: TENANT.to_string(),
            settings: Arc::new(settings),
            connections: Arc::new(connections),
            storage: backend_for(db),
            schedule: Arc::new(StoreSchedule::new(db.clone())),
        };
        Ok(Self {
            qbo,
            sf,
            realm,
            notify,
            tenant,
            seeded,
            servers: vec![qbo_server, sf_server, notify_server],
        })
    }

    /// Issues fresh access tokens for both APIs (after the emulators' clocks were moved past
    /// their lifetimes), keeping everything else of the tenant.
    pub fn reissue_tokens(&mut self) {
        let mut connections = (*self.tenant.connections).clone();
        let fresh: [(&str, Arc<dyn CredentialSource>); 2] = [
            (
                "quickbooks",
                Arc::new(StaticToken(self.qbo.issue_tokens(&self.realm).access_token)),
            ),
            ("salesforce", Arc::new(StaticToken(self.sf.issue_token()))),
        ];
        for (name, credential) in fresh {
            if let Some(c) = connections.get_mut(name) {
                c.credential = Some(credential);
            }
        }
        self.tenant.connections = Arc::new(connections);
    }

    /// Base URL of the QBO emulator.
    pub fn qbo_url(&self) -> String {
        self.servers[0].url()
    }

    /// Base URL of the Salesforce emulator.
    pub fn sf_url(&self) -> String {
        self.servers[1].url()
    }

    /// The `[tenant.connections]` sections of a config pointing a tenant at these emulators,
    /// the tokens read from the environment variables `qbo_token_env` and `sf_token_env`
    /// (secrets never go in the file): for `ledgerlink run` or `job` as a process.
    pub fn connections_toml(&self, qbo_token_env: &str, sf_token_env: &str) -> String {
        connections_toml(&self.qbo_url(), qbo_token_env, &self.sf_url(), sf_token_env)
    }
}

/// The `[tenant.connections]` sections for QBO at `qbo_url` and Salesforce at `sf_url`, each
/// token read from the environment variable named beside it.
pub fn connections_toml(
    qbo_url: &str,
    qbo_token_env: &str,
    sf_url: &str,
    sf_token_env: &str,
) -> String {
    format!(
        r#"
[tenant.connections.quickbooks]
base-url = "{qbo_url}"
token-env = "{qbo_token_env}"

[tenant.connections.salesforce]
base-url = "{sf_url}"
token-env = "{sf_token_env}"
"#
    )
}

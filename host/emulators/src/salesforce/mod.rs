//! A local emulator of the Salesforce REST API, faithful to `shared/reference/api-facts.md`
//! PART B for what Ledgerlink uses: the same paths (any `vNN.N`), bodies, status codes, error
//! arrays, limits headers and replication windows, so that a client that works here works
//! against a real org.
//!
//! | area | file | resources |
//! |---|---|---|
//! | OAuth | `oauth.rs` | `POST /services/oauth2/token` (client credentials, JWT bearer), `GET /services/oauth2/userinfo` |
//! | routing | `http.rs` | `/services/data/` versions, `/services/data/vNN.N/` resources, session + limit checks |
//! | sObjects | `sobjects.rs`, `dml.rs`, `rules.rs` | `sobjects/`, describe, CRUD, upsert and read by external id |
//! | SOQL | `soql.rs`, `query.rs` | `query`, `queryAll`, `query/{locator}` paging |
//! | collections, composite | `composite.rs` | `composite/sobjects`, `composite`, `composite/batch` |
//! | replication | `replication.rs` | `sobjects/{Type}/updated`, `sobjects/{Type}/deleted` |
//! | limits | `limits.rs` | `limits`, `Sforce-Limit-Info`, 403 `REQUEST_LIMIT_EXCEEDED` |
//! | Change Data Capture | `change_events.rs` | the event log (72 h); no REST resource: real orgs deliver it only over the Pub/Sub API |
//! | Pub/Sub API | `pubsub/` | gRPC on its own port: `GetTopic`, `GetSchema`, `Subscribe` (Avro payloads, replay, flow control) |
//! | data model | `schema.rs`, `ids.rs`, `values.rs`, `store.rs` | objects, fields, 18-char ids, typed values |
//! | multicurrency (opt-in) | `currency.rs` | `CurrencyIsoCode`, `CurrencyType`, `DatedConversionRate` when [`SalesforceConfig::currencies`] is set |
//!
//! Plus the shared `/_emulator` control API (clock, faults, request log).
//!
//! **Users.** API sessions run as the integration user (the connected app's "Run As" user);
//! changes made through the in-process API (seed, tests) are a UI user's, so that change events
//! tell the integration's own writes (`commitUser`) from a person's.
//!
//! Choices where the public record is unclear ([U] in api-facts):
//! - upsert that updates answers 200 `{"created":false,...}` (API ≥ 46.0); set
//!   `upsert_update_status: 204` for the older behaviour;
//! - collection errors use `statusCode`; `allOrNone` failures report
//!   `ALL_OR_NONE_OPERATION_ROLLED_BACK` on the other records;
//! - `nextRecordsUrl` is absent when `done` is true;
//! - `Sforce-Limit-Info` carries `api-usage` only (no `api-bursts`);
//! - OpportunityLineItem: `UnitPrice` xor `TotalPrice`, `Name` = "<opportunity> <product>".
//!
//! ```no_run
//! use ledgerlink_emulators::salesforce::{SalesforceConfig, SalesforceEmulator};
//! let (sf, server) = SalesforceEmulator::start(SalesforceConfig::default(), 0).unwrap();
//! let token = sf.issue_token();
//! let id = sf.insert("Account", serde_json::json!({"Name": "Acme"})).unwrap();
//! println!("{} {token} {id}", server.url());
//! ```

mod change_events;
mod composite;
mod currency;
mod dml;
pub mod errors;
#[cfg(test)]
mod fidelity_tests;
mod http;
pub mod ids;
mod limits;
mod oauth;
mod org;
pub mod pubsub;
mod query;
mod replication;
mod rules;
pub mod schema;
mod sobjects;
mod soql;
mod store;
mod values;

use crate::common::control::{self, Control};
use crate::common::faults::{self, FaultLayerState};
use crate::{Clock, Faults, RequestLog, RunningServer};
use axum::routing::{get, post};
use axum::Router;
use dml::Origin;
use org::Org;
use schema::Schema;
use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

pub use change_events::RETENTION_HOURS as CHANGE_EVENT_RETENTION_HOURS;
pub use currency::{Currencies, CurrencySpec, DatedRate};

/// The API version used in URLs the emulator writes outside a request (`records()`, `get()`).
pub const DEFAULT_API_VERSION: &str = "61.0";

/// How the emulated org behaves.
#[derive(Clone, Debug, Deserialize)]
#[serde(default)]
pub struct SalesforceConfig {
    /// Connected app consumer key.
    pub client_id: String,
    /// Connected app consumer secret.
    pub client_secret: String,
    /// Sessions expire this long after their last use (default 7200 s).
    pub session_ttl_secs: i64,
    /// API requests allowed per UTC day of the emulator clock (default 15000).
    pub daily_api_limit: u64,
    /// Records per query page (default 2000).
    pub page_size: usize,
    /// JSON schema file adding custom fields and objects (see `schema.rs`).
    pub schema: Option<PathBuf>,
    /// Seed for ids, tokens and fault choices.
    pub seed: u64,
    /// Largest accepted request body in bytes (default 6 MiB); larger ones get 413.
    pub max_body_bytes: usize,
    /// Status of an upsert that updated a record: 200 (default, API ≥ 46.0) or 204.
    pub upsert_update_status: u16,
    /// A multicurrency org with these currencies (default `None`: a single-currency org, with
    /// no `CurrencyIsoCode` field and no `CurrencyType`). See [`Currencies`].
    pub currencies: Option<Currencies>,
}

impl Default for SalesforceConfig {
    fn default() -> Self {
        Self {
            client_id: "3MVG9ledgerlink.emulator.client".into(),
            client_secret: "ledgerlink-emulator-secret".into(),
            session_ttl_secs: 7200,
            daily_api_limit: 15000,
            page_size: 2000,
            schema: None,
            seed: 0,
            max_body_bytes: 6 * 1024 * 1024,
            upsert_update_status: 200,
            currencies: None,
        }
    }
}

struct Inner {
    config: SalesforceConfig,
    org: Mutex<Org>,
    clock: Clock,
    faults: Faults,
    log: RequestLog,
    notify: tokio::sync::Notify,
}

/// The Salesforce emulator. Cloning shares the org.
#[derive(Clone)]
pub struct SalesforceEmulator {
    inner: Arc<Inner>,
}

impl SalesforceEmulator {
    /// An emulator with `config`. A schema file that cannot be read is logged and ignored (use
    /// [`SalesforceEmulator::try_new`] to fail instead).
    pub fn new(config: SalesforceConfig) -> Self {
        match Self::try_new(config.clone()) {
            Ok(emu) => emu,
            Err(e) => {
                tracing::error!("salesforce emulator: {e:#}; using the standard schema");
                let currencies = config.currencies.clone().filter(|c| c.validate().is_ok());
                Self::build(
                    SalesforceConfig {
                        schema: None,
                        currencies,
                        ..config
                    },
                    Schema::standard(),
                )
            }
        }
    }

    /// An emulator with `config`, failing when its schema file is unreadable or invalid.
    pub fn try_new(config: SalesforceConfig) -> anyhow::Result<Self> {
        if let Some(c) = &config.currencies {
            c.validate()?;
        }
        let schema = match &config.schema {
            Some(path) => Schema::with_file(path)?,
            None => Schema::standard(),
        };
        Ok(Self::build(config, schema))
    }

    fn build(config: SalesforceConfig, schema: Schema) -> Self {
        let clock = Clock::new();
        let org = Org::new(config.clone(), schema, clock.now());
        Self {
            inner: Arc::new(Inner {
                faults: Faults::with_seed(config.seed),
                config,
                org: Mutex::new(org),
                clock,
                log: RequestLog::new(),
                notify: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Starts an emulator on `127.0.0.1:port` (0 picks a free port).
    pub fn start(
        config: SalesforceConfig,
        port: u16,
    ) -> anyhow::Result<(SalesforceEmulator, RunningServer)> {
        let emu = Self::try_new(config)?;
        let server = RunningServer::start(emu.router(), port)?;
        Ok((emu, server))
    }

    /// The API, the OAuth endpoint and the `/_emulator` control routes, with request logging and
    /// fault injection.
    pub fn router(&self) -> Router {
        let control = control::router(Control {
            clock: self.clock(),
            faults: self.faults(),
            log: self.log(),
        });
        let fault_state = FaultLayerState {
            faults: self.faults(),
            render: http::render_fault,
        };
        Router::new()
            .route("/services/oauth2/token", post(oauth::token))
            .route("/services/oauth2/userinfo", get(oauth::userinfo))
            .fallback(http::api)
            .with_state(self.clone())
            .merge(control)
            .layer(axum::middleware::from_fn_with_state(
                fault_state,
                faults::middleware,
            ))
            .layer(axum::middleware::from_fn_with_state(
                self.log(),
                RequestLog::middleware,
            ))
    }

    /// The emulator clock.
    pub fn clock(&self) -> Clock {
        self.inner.clock.clone()
    }

    /// The fault rules.
    pub fn faults(&self) -> Faults {
        self.inner.faults.clone()
    }

    /// The request log.
    pub fn log(&self) -> RequestLog {
        self.inner.log.clone()
    }

    /// The configuration.
    pub fn config(&self) -> &SalesforceConfig {
        &self.inner.config
    }

    fn lock(&self) -> MutexGuard<'_, Org> {
        self.inner
            .org
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the org with `now` set from the clock.
    pub(crate) fn with_org<T>(&self, f: impl FnOnce(&mut Org) -> T) -> T {
        let mut org = self.lock();
        let now = self.inner.clock.now();
        org.now = now;
        org.store
            .purge_deleted_before(now - chrono::Duration::days(replication::DELETED_DAYS));
        f(&mut org)
    }

    /// Serves the Pub/Sub API (change events) on `127.0.0.1:port` (0 picks a free port).
    pub fn start_pubsub(
        &self,
        config: pubsub::PubSubConfig,
        port: u16,
    ) -> anyhow::Result<pubsub::PubSubServer> {
        pubsub::PubSubServer::start(self, config, port)
    }

    pub(crate) fn events_notify(&self) -> &tokio::sync::Notify {
        &self.inner.notify
    }

    pub(crate) fn notify_events(&self) {
        self.inner.notify.notify_waiters();
    }

    /// A valid session token for the configured client, as a token request would give.
    pub fn issue_token(&self) -> String {
        let client = self.inner.config.client_id.clone();
        self.with_org(|org| {
            let now = org.now;
            let org_id = org.org_id.clone();
            org.sessions.issue(&org_id, &client, now)
        })
    }

    /// Creates a record as a user in the UI would (same validation as the API, a change event
    /// with an empty `changeOrigin`). Returns its id.
    pub fn insert(&self, sobject: &str, fields: Value) -> anyhow::Result<String> {
        let r = self.with_org(|org| org.create(sobject, &fields, &Origin::default()));
        self.notify_events();
        r.map_err(|e| anyhow::anyhow!("{sobject} insert failed: {e}"))
    }

    /// Updates a record as a user edit in the UI would (bumps `SystemModstamp`, records a
    /// change event with an empty `changeOrigin`).
    pub fn update(&self, sobject: &str, id: &str, fields: Value) -> anyhow::Result<()> {
        let r = self.with_org(|org| org.update(sobject, id, &fields, &Origin::default()));
        self.notify_events();
        r.map_err(|e| anyhow::anyhow!("{sobject} {id} update failed: {e}"))
    }

    /// Deletes a record as a user in the UI would.
    pub fn delete(&self, sobject: &str, id: &str) -> anyhow::Result<()> {
        let r = self.with_org(|org| org.delete(sobject, id, &Origin::default()));
        self.notify_events();
        r.map_err(|e| anyhow::anyhow!("{sobject} {id} delete failed: {e}"))
    }

    /// Every live record of `sobject`, as the REST API returns them, in creation order.
    pub fn records(&self, sobject: &str) -> Vec<Value> {
        let base = format!("/services/data/v{DEFAULT_API_VERSION}");
        self.with_org(|org| {
            let schema = org.schema.clone();
            let Some(def) = schema.object(sobject) else {
                return Vec::new();
            };
            org.store
                .all(&def.name)
                .filter(|r| r.deleted_at.is_none())
                .map(|r| r.to_json(def, &base, None))
                .collect()
        })
    }

    /// One live record, as the REST API returns it.
    pub fn get(&self, sobject: &str, id: &str) -> Option<Value> {
        let base = format!("/services/data/v{DEFAULT_API_VERSION}");
        let id = ids::to_18(id)?;
        self.with_org(|org| {
            let schema = org.schema.clone();
            let def = schema.object(sobject)?;
            org.store
                .live(&def.name, &id)
                .map(|r| r.to_json(def, &base, None))
        })
    }

    /// Every retained change event payload, oldest first (`replayId` included).
    pub fn change_events(&self) -> Vec<Value> {
        self.with_org(|org| {
            org.events.purge(org.now);
            match org.events.read(None, change_events::Replay::Earliest, usize::MAX) {
                Ok((events, _)) => events
                    .iter()
                    .map(|e| serde_json::json!({"replayId": e.replay_id.to_string(), "payload": e.payload}))
                    .collect(),
                Err(_) => Vec::new(),
            }
        })
    }

    /// API calls counted today (emulator-clock UTC day).
    pub fn api_usage(&self) -> u64 {
        self.with_org(|org| org.usage.used(org.now))
    }

    /// The organization id (`00D...`).
    pub fn org_id(&self) -> String {
        self.with_org(|org| org.org_id.clone())
    }

    /// The standard price book id (`01s...`).
    pub fn standard_pricebook_id(&self) -> String {
        self.with_org(|org| org.standard_pricebook.clone())
    }
}

//! QuickBooks Online emulator: the Accounting API v3 and Intuit OAuth 2.0 on one loopback server,
//! following `shared/reference/api-facts.md` PART A.
//!
//! ```no_run
//! use ledgerlink_emulators::qbo::{QboConfig, QboEmulator};
//! let (qbo, server) = QboEmulator::start(QboConfig::default(), 0).unwrap();
//! let realm = &QboConfig::default().realms[0];
//! let tokens = qbo.issue_tokens(realm);
//! // API base for clients: format!("{}/v3", server.url()); bearer tokens.access_token.
//! # let _ = tokens;
//! ```
//!
//! Every realm is the company `QboConfig::company` describes ([`CompanyProfile`]): US / USD
//! without multicurrency by default (automated sales tax on `TAX` lines by ship-to state), or
//! `CompanyProfile::uk()` / `::canada()` (VAT / GST codes on every sales line), with
//! multicurrency, exchange rates and invoice custom fields as configured:
//!
//! ```no_run
//! use ledgerlink_emulators::qbo::{CompanyProfile, QboConfig, QboEmulator};
//! let config = QboConfig {
//!     company: CompanyProfile { multicurrency: true, ..CompanyProfile::uk() },
//!     ..QboConfig::default()
//! };
//! let (_qbo, _server) = QboEmulator::start(config, 0).unwrap();
//! ```
//!
//! | concern | file |
//! |---|---|
//! | OAuth: discovery, authorize, token, revoke, userinfo | `oauth.rs` |
//! | routing of `/v3/company/{realm}/...`, auth, throttling, requestid | `api.rs` |
//! | create / update / sparse / delete / void / send | `operations.rs` |
//! | name-list rules (DisplayName uniqueness, ...) | `entities.rs` |
//! | Invoice / CreditMemo / RefundReceipt / Payment / JournalEntry arithmetic | `transactions.rs` |
//! | RecurringTransaction (Invoice templates) and the scheduler on the emulator's clock | `recurring.rs` |
//! | query language | `query.rs` |
//! | batch, CDC | `batch.rs`, `cdc.rs` |
//! | requestid replay, throttling | `idempotency.rs`, `rate_limit.rs` |
//! | Fault envelopes, injected-fault rendering | `errors.rs`, `faults.rs` |
//! | outgoing webhooks and `sign` | `webhooks.rs` |
//! | company profile: country, home currency, multicurrency, sales tax, custom fields | `profile.rs` |
//! | default company (by profile) | `seed.rs` |
//! | invoice sales tax, currency, custom fields | `tax.rs` |

mod api;
mod batch;
mod cdc;
mod entities;
mod errors;
mod faults;
mod fields;
mod idempotency;
mod money;
mod oauth;
mod operations;
mod profile;
mod query;
pub mod rate_limit;
mod recurring;
mod reply;
mod seed;
mod store;
mod tax;
mod timefmt;
mod transactions;
pub mod webhooks;

pub use errors::QboError;
pub use oauth::{RefreshUse, TokenPair};
pub use profile::CompanyProfile;
pub use rate_limit::RateLimits;
pub use webhooks::{sign, Delivery};

use crate::common::control::{self, Control};
use crate::common::faults::{FaultLayerState, Faults};
use crate::common::{clock::Clock, request_log::RequestLog, server::RunningServer};
use axum::{
    extract::State as AxState,
    middleware::from_fn_with_state,
    routing::{any, get, post},
    Json, Router,
};
use chrono::{Duration, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The webhook body format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// `{"eventNotifications": [...]}`.
    #[default]
    Legacy,
    /// A CloudEvents array (`qbo.<entity>.<verb>.v1`).
    #[serde(alias = "cloudevents", alias = "CloudEvents")]
    CloudEvents,
}

/// Emulator settings. Every field has a default; JSON/TOML may give any subset.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct QboConfig {
    /// The companies (realm ids) served; tokens minted by `ledgerlink-emulate` are for the first.
    pub realms: Vec<String>,
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// Webhook verifier token (HMAC key of `intuit-signature`).
    pub verifier_token: String,
    /// Where to POST webhook notifications (loopback only); none when absent.
    pub webhook_url: Option<String>,
    /// Legacy or CloudEvents bodies.
    pub webhook_format: WebhookFormat,
    /// Aggregation window: events within it go in one POST (0: one POST per request).
    pub webhook_delay_ms: u64,
    /// Throttling.
    pub rate_limits: RateLimits,
    /// Most items in one batch (Intuit documents 30; some pages say 10).
    pub batch_max: usize,
    /// How long a requestid answer is replayed, in seconds of emulator time.
    pub requestid_ttl_secs: u64,
    /// How long a refresh token keeps working after it was exchanged (0: it dies at once).
    pub refresh_grace_secs: u64,
    /// Access token lifetime in seconds.
    pub access_ttl_secs: i64,
    /// Seed for injected-fault randomness.
    pub seed: u64,
    /// Largest accepted request body, in bytes (10 MiB).
    pub max_body_bytes: usize,
    /// The company's UTC offset in minutes (timestamps are written in it); -480 is PST.
    pub tz_offset_minutes: i32,
    /// Rename a Customer "<name> (deleted)" when it is made inactive, as QBO does.
    pub rename_deleted_customers: bool,
    /// CDC look-back limit in days.
    pub cdc_max_days: i64,
    /// The company every realm is (country, currency, tax set-up); US/USD by default.
    pub company: CompanyProfile,
}

impl Default for QboConfig {
    fn default() -> Self {
        Self {
            realms: vec!["9130355377151526".into()],
            client_id: "ledgerlink-emulator-client-id".into(),
            client_secret: "ledgerlink-emulator-client-secret".into(),
            verifier_token: "ledgerlink-emulator-verifier-token".into(),
            webhook_url: None,
            webhook_format: WebhookFormat::Legacy,
            webhook_delay_ms: 0,
            rate_limits: RateLimits::default(),
            batch_max: 30,
            requestid_ttl_secs: 86_400,
            refresh_grace_secs: 0,
            access_ttl_secs: 3600,
            seed: 0,
            max_body_bytes: 10 * 1024 * 1024,
            tz_offset_minutes: -480,
            rename_deleted_customers: true,
            cdc_max_days: 30,
            company: CompanyProfile::default(),
        }
    }
}

/// Mutable state, behind one lock: every request is handled under it, so operations are atomic.
pub(crate) struct State {
    pub companies: HashMap<String, store::Company>,
    pub tokens: oauth::TokenStore,
    pub replay: idempotency::ReplayCache,
    pub limiter: rate_limit::RateLimiter,
}

pub(crate) struct Inner {
    pub config: QboConfig,
    pub clock: Clock,
    pub faults: Faults,
    pub log: RequestLog,
    pub state: Mutex<State>,
    pub webhooks: webhooks::Dispatcher,
}

impl Inner {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn tz(&self) -> FixedOffset {
        timefmt::offset(self.config.tz_offset_minutes)
    }
}

/// The QBO emulator. Cloning shares it.
#[derive(Clone)]
pub struct QboEmulator {
    pub(crate) inner: Arc<Inner>,
}

impl QboEmulator {
    /// A new emulator with the default company in every realm.
    pub fn new(config: QboConfig) -> Self {
        let clock = Clock::new();
        let faults = Faults::with_seed(config.seed);
        let webhooks = webhooks::Dispatcher::new(
            config.webhook_url.clone(),
            config.verifier_token.clone(),
            config.webhook_format,
            config.webhook_delay_ms,
        );
        let tz = timefmt::offset(config.tz_offset_minutes);
        let seeded_at = clock.now() - Duration::days(60);
        let mut companies = HashMap::new();
        for realm in &config.realms {
            let mut company = store::Company::with_profile(config.company.clone());
            let mut events = Vec::new();
            let mut ops = operations::Ops {
                company: &mut company,
                realm,
                now: seeded_at,
                tz,
                events: &mut events,
                options: operations::Options::default(),
            };
            if let Err(e) = seed::default_company(realm, &mut ops) {
                tracing::error!(error = %e, realm, "seeding the default company failed");
            }
            companies.insert(realm.clone(), company);
        }
        let state = State {
            companies,
            tokens: oauth::TokenStore::default(),
            replay: idempotency::ReplayCache::default(),
            limiter: rate_limit::RateLimiter::default(),
        };
        let emulator = Self {
            inner: Arc::new(Inner {
                config,
                clock,
                faults,
                log: RequestLog::new(),
                state: Mutex::new(state),
                webhooks,
            }),
        };
        // Recurring templates catch up as soon as the clock moves (a weak reference: the clock
        // must not keep the emulator alive).
        let weak = Arc::downgrade(&emulator.inner);
        emulator.inner.clock.on_advance(Arc::new(move || {
            if let Some(inner) = weak.upgrade() {
                QboEmulator { inner }.run_schedules();
            }
        }));
        emulator
    }

    /// Generates the invoices recurring templates owe by the emulator's now, in every realm, and
    /// sends their webhooks. Runs by itself when the clock advances and before every API request.
    pub fn run_schedules(&self) {
        let now = self.inner.clock.now();
        let tz = self.inner.tz();
        let mut events = Vec::new();
        {
            let mut state = self.inner.lock();
            for (realm, company) in state.companies.iter_mut() {
                recurring::run_company(company, realm, now, tz, &mut events);
            }
        }
        self.inner.webhooks.send(events);
    }

    /// The full API: OAuth, `/v3/company/...`, `/_emulator/...` control routes, with the request
    /// log and fault injection wired in.
    pub fn router(&self) -> Router {
        let inner = &self.inner;
        let control = Control {
            clock: inner.clock.clone(),
            faults: inner.faults.clone(),
            log: inner.log.clone(),
        };
        let fault_layer = FaultLayerState {
            faults: inner.faults.clone(),
            render: faults::render,
        };
        Router::new()
            .route("/.well-known/openid_configuration", get(oauth::discovery))
            .route("/.well-known/openid_configuration/", get(oauth::discovery))
            .route(
                "/.well-known/openid_sandbox_configuration",
                get(oauth::discovery),
            )
            .route(
                "/.well-known/openid_sandbox_configuration/",
                get(oauth::discovery),
            )
            .route("/connect/oauth2", get(oauth::authorize))
            .route("/oauth2/v1/tokens/bearer", post(oauth::token))
            .route("/v2/oauth2/tokens/revoke", post(oauth::revoke))
            .route("/v1/openid_connect/userinfo", get(oauth::userinfo))
            .route("/op/v1/jwks", get(oauth::jwks))
            .route("/v3/company/{realm}", any(api::company_root))
            .route("/v3/company/{realm}/{*rest}", any(api::company_api))
            .route("/_emulator/qbo/tokens", post(control_tokens))
            .route("/_emulator/qbo/seed", post(control_seed))
            .route("/_emulator/qbo/webhooks", get(control_webhooks))
            .with_state(self.clone())
            .merge(control::router(control))
            .layer(from_fn_with_state(
                fault_layer,
                crate::common::faults::middleware,
            ))
            .layer(from_fn_with_state(
                inner.log.clone(),
                RequestLog::middleware,
            ))
    }

    /// Starts the emulator on `127.0.0.1:port` (0: any free port).
    pub fn start(config: QboConfig, port: u16) -> anyhow::Result<(QboEmulator, RunningServer)> {
        let emulator = QboEmulator::new(config);
        let server = RunningServer::start(emulator.router(), port)?;
        Ok((emulator, server))
    }

    /// The settings.
    pub fn config(&self) -> &QboConfig {
        &self.inner.config
    }

    /// The emulator's clock.
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

    /// Mints a token pair for `realm` without the OAuth dance.
    pub fn issue_tokens(&self, realm: &str) -> TokenPair {
        let now = self.inner.clock.now();
        self.inner
            .lock()
            .tokens
            .issue(realm, None, now, self.inner.config.access_ttl_secs)
    }

    /// Every refresh grant presented to the token endpoint so far, in order (the token log).
    pub fn refresh_uses(&self) -> Vec<RefreshUse> {
        self.inner.lock().tokens.refresh_uses()
    }

    /// Every stored object of `entity` in `realm` (inactive and voided ones included), as the API
    /// returns them.
    pub fn entities(&self, realm: &str, entity: &str) -> Vec<Value> {
        let Some(def) = entities::lookup(entity) else {
            return Vec::new();
        };
        self.run_schedules();
        let state = self.inner.lock();
        let Some(company) = state.companies.get(realm) else {
            return Vec::new();
        };
        let ids = company.list(def.name).map(|(id, _)| id.as_str());
        let balances = operations::Balances::of(company, def.name, ids);
        company
            .list(def.name)
            .map(|(id, r)| Value::Object(operations::render(def.name, id, r, &balances)))
            .collect()
    }

    /// Stores one object with the API's validation (no webhook is sent). An `Id` in `body` is kept.
    pub fn insert(&self, realm: &str, entity: &str, body: Value) -> anyhow::Result<Value> {
        self.direct(realm, entity, |ops, def| {
            let mut obj = operations::body_object(def.name, body)?;
            if def.kind == entities::Kind::Singleton {
                let current = ops
                    .company
                    .get(def.name, "1")
                    .map(|r| r.sync_token())
                    .unwrap_or(0);
                obj.insert("Id".into(), json!("1"));
                obj.insert("SyncToken".into(), json!(current.to_string()));
                obj.insert("sparse".into(), json!(true));
                ops.update(def, obj)
            } else {
                let id = obj.get("Id").and_then(fields::id_text);
                ops.create(def, obj, id)
            }
        })
    }

    /// Another user's sparse edit of an existing object (as if saved in the QBO UI): it gets the
    /// next SyncToken, so a client still holding the old one gets a genuine 5010.
    pub fn edit(
        &self,
        realm: &str,
        entity: &str,
        id: &str,
        fields: Value,
    ) -> anyhow::Result<Value> {
        self.direct(realm, entity, |ops, def| {
            let current = ops
                .company
                .get(def.name, id)
                .map(|r| r.sync_token())
                .ok_or_else(|| QboError::object_not_found(def.name, id))?;
            let mut obj = operations::body_object(def.name, fields)?;
            obj.insert("Id".into(), json!(id));
            obj.insert("SyncToken".into(), json!(current.to_string()));
            obj.insert("sparse".into(), json!(true));
            ops.update(def, obj)
        })
    }

    /// Runs `write` on `realm` with the API's validation, outside HTTP (no webhook is sent).
    fn direct(
        &self,
        realm: &str,
        entity: &str,
        write: impl FnOnce(
            &mut operations::Ops,
            &'static entities::EntityDef,
        ) -> Result<Value, QboError>,
    ) -> anyhow::Result<Value> {
        let def = entities::lookup(entity)
            .ok_or_else(|| anyhow::anyhow!("unknown QBO entity {entity}"))?;
        let now = self.inner.clock.now();
        let tz = self.inner.tz();
        let mut state = self.inner.lock();
        let company = state
            .companies
            .get_mut(realm)
            .ok_or_else(|| anyhow::anyhow!("unknown realm {realm}"))?;
        let mut events = Vec::new();
        let mut ops = operations::Ops {
            company,
            realm,
            now,
            tz,
            events: &mut events,
            options: operations::Options {
                allow_duplicate_doc_number: false,
                rename_on_deactivate: self.inner.config.rename_deleted_customers,
            },
        };
        write(&mut ops, def).map_err(fault_to_anyhow)
    }

    /// Loads `{"Customer": [...], "Item": [...], ...}` into `realm`, referenced entities first.
    pub fn load_seed(&self, realm: &str, seed: &Value) -> anyhow::Result<()> {
        let map = seed
            .as_object()
            .ok_or_else(|| anyhow::anyhow!("a seed is a JSON object of entity name → list"))?;
        let mut names: Vec<&String> = map.keys().collect();
        names.sort_by_key(|n| {
            seed::SEED_ORDER
                .iter()
                .position(|o| o.eq_ignore_ascii_case(n))
                .unwrap_or(usize::MAX)
        });
        for name in names {
            let items = match &map[name] {
                Value::Array(items) => items.clone(),
                Value::Object(_) => vec![map[name].clone()],
                _ => anyhow::bail!("seed entry {name} must be a list of objects"),
            };
            for (i, item) in items.into_iter().enumerate() {
                self.insert(realm, name, item)
                    .map_err(|e| anyhow::anyhow!("seed {name}[{i}]: {e}"))?;
            }
        }
        Ok(())
    }

    /// Webhook POSTs made so far.
    pub fn webhook_deliveries(&self) -> Vec<Delivery> {
        self.inner
            .webhooks
            .deliveries
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }
}

fn fault_to_anyhow(e: QboError) -> anyhow::Error {
    let first = e.errors.first();
    anyhow::anyhow!(
        "QBO {} {}: {} ({})",
        e.fault_type,
        first.map(|f| f.code.as_str()).unwrap_or_default(),
        first.map(|f| f.message.as_str()).unwrap_or_default(),
        first.map(|f| f.detail.as_str()).unwrap_or_default()
    )
}

#[derive(Deserialize)]
struct TokenRequest {
    realm: Option<String>,
}

/// `POST /_emulator/qbo/tokens {"realm": "..."}`: mints a token pair.
async fn control_tokens(
    AxState(emu): AxState<QboEmulator>,
    body: Option<Json<TokenRequest>>,
) -> Json<Value> {
    let realm = body
        .and_then(|b| b.0.realm)
        .or_else(|| emu.inner.config.realms.first().cloned())
        .unwrap_or_default();
    let pair = emu.issue_tokens(&realm);
    Json(
        json!({"realm_id": realm, "access_token": pair.access_token, "refresh_token": pair.refresh_token}),
    )
}

#[derive(Deserialize)]
struct SeedRequest {
    realm: Option<String>,
    seed: Value,
}

/// `POST /_emulator/qbo/seed {"realm": "...", "seed": {"Customer": [...]}}`.
async fn control_seed(
    AxState(emu): AxState<QboEmulator>,
    Json(body): Json<SeedRequest>,
) -> (axum::http::StatusCode, Json<Value>) {
    let realm = body
        .realm
        .or_else(|| emu.inner.config.realms.first().cloned())
        .unwrap_or_default();
    match emu.load_seed(&realm, &body.seed) {
        Ok(()) => (axum::http::StatusCode::OK, Json(json!({"loaded": true}))),
        Err(e) => (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": e.to_string()})),
        ),
    }
}

/// `GET /_emulator/qbo/webhooks`: the webhook POSTs made so far.
async fn control_webhooks(AxState(emu): AxState<QboEmulator>) -> Json<Value> {
    Json(json!({"deliveries": emu.webhook_deliveries()}))
}

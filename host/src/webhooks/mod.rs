//! The host's HTTP server: the QuickBooks Online webhook receiver, a health check and metrics.
//!
//! | route | answers |
//! |---|---|
//! | `POST /webhooks/quickbooks` | `200` once every routed part of the body is committed to the [inbox]; `401` for a missing or bad `intuit-signature`, or a body naming only realms no tenant serves; `413` for a body over [`WebhookConfig::max_body_bytes`] (1 MiB by default); `503` with `Retry-After` before reading the body when [`WebhookConfig::max_in_flight`] deliveries (64) are being read and stored; `400` for a body whose signature verifies but which is not a valid payload (the error names the field); `500` when the store cannot be written (Intuit retries). Nothing is stored unless the answer is 200. |
//! | `GET /healthz` | `200` `{"status":"ok", …}` with the inbox depth; `503` when the store cannot be read |
//! | `GET /metrics` | the [`Metrics`] registry in the Prometheus text format, inbox depth refreshed |
//!
//! The order of trust for a delivery is in [`routing`]; the signature in [`signature`]; the two
//! payload formats in [`payload`] (the `ledgerlink-qbo-webhook` crate the component reads them with too); the drain loop the daemon runs is [`worker`]. A redelivered
//! body (Intuit retries a slow or failed answer) is stored once and answered 200 again.
//!
//! ```no_run
//! # async fn demo(db: ledgerlink::db::Database) -> anyhow::Result<()> {
//! use ledgerlink::metrics::Metrics;
//! use ledgerlink::webhooks::{self, Inbox, WebhookConfig, WebhookState, WebhookTenants};
//! let tenants = WebhookTenants::new().with("9130355377151526", "acme", "verifier-token");
//! let state = WebhookState::new(Inbox::new(db)?, tenants, Metrics::new(), WebhookConfig::default());
//! let server = webhooks::serve("127.0.0.1:8080".parse()?, state.clone()).await?;
//! println!("listening on {}", server.addr());
//! # Ok(()) }
//! ```

pub mod inbox;
/// The QBO webhook format, one reader shared with the component's flows.
pub use ledgerlink_qbo_webhook as payload;
pub mod routing;
pub mod signature;
pub mod worker;

pub use inbox::{Inbox, InboxItem, InboxState};
pub use routing::{WebhookTenants, UNKNOWN_TENANT};
pub use worker::{drain_once, DrainReport, InboxHandler};

use crate::metrics::{self, Metrics};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, Notify};

/// The `source` recorded for QuickBooks deliveries (and passed to `on-webhook`).
pub const SOURCE_QUICKBOOKS: &str = "quickbooks";

/// Receiver settings.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// Largest accepted body; larger ones get 413 and are not stored.
    pub max_body_bytes: usize,
    /// Deliveries read and stored at once; one more is answered 503 with `Retry-After` before
    /// its body is read (Intuit delivers again), so a burst cannot buffer without bound.
    pub max_in_flight: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_in_flight: 64,
        }
    }
}

/// Everything the routes share. Cloning shares it.
#[derive(Clone)]
pub struct WebhookState {
    /// Where verified bodies go.
    pub inbox: Inbox,
    /// realm → tenant and verifier token.
    pub tenants: WebhookTenants,
    /// Counters and latencies.
    pub metrics: Metrics,
    /// Settings.
    pub config: WebhookConfig,
    /// Notified after every new inbox row (give it to [`worker::run`]).
    pub wake: Arc<Notify>,
    in_flight: Arc<tokio::sync::Semaphore>,
    started: Instant,
}

impl WebhookState {
    /// The state for [`router`].
    pub fn new(
        inbox: Inbox,
        tenants: WebhookTenants,
        metrics: Metrics,
        config: WebhookConfig,
    ) -> Self {
        Self {
            inbox,
            tenants,
            metrics,
            in_flight: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight.max(1))),
            config,
            wake: Arc::new(Notify::new()),
            started: Instant::now(),
        }
    }
}

/// The routes (see the module docs).
pub fn router(state: WebhookState) -> Router {
    Router::new()
        .route("/webhooks/quickbooks", post(quickbooks))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

/// A running server; dropping it stops it.
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl ServerHandle {
    /// The bound address (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        Ok(())
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Binds `addr` (port 0 picks one) and serves [`router`] on the current tokio runtime.
pub async fn serve(addr: SocketAddr, state: WebhookState) -> anyhow::Result<ServerHandle> {
    serve_with(addr, state, Router::new()).await
}

/// [`serve`], with `extra` routes beside the receiver's (the daemon's status page).
pub async fn serve_with(
    addr: SocketAddr,
    state: WebhookState,
    extra: Router,
) -> anyhow::Result<ServerHandle> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let app = router(state).merge(extra);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    tracing::info!(%addr, "webhook receiver listening");
    Ok(ServerHandle {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

async fn quickbooks(State(state): State<WebhookState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let (tenant, response) = receive(&state, &headers, body).await;
    let m = &state.metrics;
    m.observe(
        metrics::WEBHOOK_REQUEST_SECONDS,
        &[("tenant", &tenant), ("source", SOURCE_QUICKBOOKS)],
        started.elapsed(),
    );
    response
}

/// Handles one delivery; returns the tenant label for metrics and the answer.
async fn receive(state: &WebhookState, headers: &HeaderMap, body: Body) -> (String, Response) {
    let m = &state.metrics;
    let source = SOURCE_QUICKBOOKS;
    let reject = |tenant: &str, reason: &str| {
        m.inc(
            metrics::WEBHOOKS_REJECTED,
            &[("tenant", tenant), ("source", source), ("reason", reason)],
        );
    };
    // Admitted before the body is read: a delivery over the in-flight cap costs nothing.
    let Ok(_admitted) = state.in_flight.clone().try_acquire_owned() else {
        m.inc(
            metrics::WEBHOOKS_RECEIVED,
            &[("tenant", UNKNOWN_TENANT), ("source", source)],
        );
        reject(UNKNOWN_TENANT, "busy");
        tracing::warn!(
            max = state.config.max_in_flight,
            "webhook deliveries at the in-flight cap; answered 503"
        );
        let mut busy = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many deliveries in flight; deliver again later",
        );
        busy.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        return (UNKNOWN_TENANT.into(), busy);
    };
    let limit = state.config.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        m.inc(
            metrics::WEBHOOKS_RECEIVED,
            &[("tenant", UNKNOWN_TENANT), ("source", source)],
        );
        reject(UNKNOWN_TENANT, "too_large");
        tracing::warn!(declared, limit, "webhook body too large");
        return (UNKNOWN_TENANT.into(), too_large(limit));
    }
    let bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            m.inc(
                metrics::WEBHOOKS_RECEIVED,
                &[("tenant", UNKNOWN_TENANT), ("source", source)],
            );
            if e.downcast_ref::<LengthLimitError>().is_some() {
                reject(UNKNOWN_TENANT, "too_large");
                tracing::warn!(limit, "webhook body too large");
                return (UNKNOWN_TENANT.into(), too_large(limit));
            }
            reject(UNKNOWN_TENANT, "unreadable");
            tracing::warn!(error = %e, "webhook body could not be read");
            return (
                UNKNOWN_TENANT.into(),
                error(StatusCode::BAD_REQUEST, "the body could not be read"),
            );
        }
    };
    let signature = headers
        .get(signature::HEADER)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let routed = routing::route(&state.tenants, &bytes, signature);
    let routed = match routed {
        Ok(r) => r,
        Err(e) => {
            let tenant = e.tenant().unwrap_or(UNKNOWN_TENANT).to_string();
            m.inc(
                metrics::WEBHOOKS_RECEIVED,
                &[("tenant", &tenant), ("source", source)],
            );
            reject(&tenant, e.reason());
            tracing::warn!(tenant = %tenant, reason = e.reason(), error = %e, bytes = bytes.len(), "webhook rejected");
            let status = match e {
                routing::RouteError::Malformed { .. } => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNAUTHORIZED,
            };
            // A bad signature says nothing more than that: no hint of which tenant or why.
            let message = match &e {
                routing::RouteError::Malformed { error, .. } => error.to_string(),
                routing::RouteError::MissingSignature => {
                    "the intuit-signature header is missing".into()
                }
                _ => "the intuit-signature does not verify".into(),
            };
            return (tenant, error(status, message));
        }
    };
    for realm in &routed.unrouted_realms {
        tracing::warn!(realm = %realm, "webhook events for a realm no tenant serves were dropped");
    }
    let tenant_label = routed
        .bodies
        .first()
        .map(|b| b.tenant.clone())
        .unwrap_or_else(|| UNKNOWN_TENANT.to_string());
    for b in &routed.bodies {
        m.inc(
            metrics::WEBHOOKS_RECEIVED,
            &[("tenant", &b.tenant), ("source", source)],
        );
    }
    if routed.bodies.is_empty() {
        m.inc(
            metrics::WEBHOOKS_RECEIVED,
            &[("tenant", UNKNOWN_TENANT), ("source", source)],
        );
    }

    // Persist every part before answering; a failure answers 500 so that Intuit retries (the
    // parts already written are de-duplicated on the retry).
    let inbox = state.inbox.clone();
    let parts: Vec<(String, String, Vec<u8>)> = routed
        .bodies
        .iter()
        .map(|b| (b.tenant.clone(), b.realm.clone(), b.body.clone()))
        .collect();
    let written = tokio::task::spawn_blocking(move || {
        parts
            .iter()
            .map(|(tenant, realm, body)| inbox.persist(tenant, source, realm, body))
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await;
    let written = match written {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "storing a webhook body failed");
            m.inc(
                metrics::ERRORS,
                &[("tenant", &tenant_label), ("what", "webhook_inbox")],
            );
            return (
                tenant_label,
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the body could not be stored",
                ),
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "the inbox write task failed");
            m.inc(
                metrics::ERRORS,
                &[("tenant", &tenant_label), ("what", "webhook_inbox")],
            );
            return (
                tenant_label,
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the body could not be stored",
                ),
            );
        }
    };
    let mut stored = Vec::new();
    let mut duplicates = 0usize;
    for (b, w) in routed.bodies.iter().zip(&written) {
        if w.duplicate {
            duplicates += 1;
            m.inc(
                metrics::WEBHOOKS_DUPLICATES,
                &[("tenant", &b.tenant), ("source", source)],
            );
        } else {
            m.inc(
                metrics::WEBHOOKS_STORED,
                &[("tenant", &b.tenant), ("source", source)],
            );
        }
        tracing::info!(tenant = %b.tenant, realm = %b.realm, id = w.id, events = b.events.len(), duplicate = w.duplicate, "webhook stored");
        stored.push(json!({"tenant": b.tenant, "realm": b.realm, "id": w.id, "events": b.events.len(), "duplicate": w.duplicate}));
    }
    if written.iter().any(|w| !w.duplicate) {
        state.wake.notify_one();
    }
    (
        tenant_label,
        (
            StatusCode::OK,
            Json(json!({"status": "accepted", "stored": stored, "duplicates": duplicates})),
        )
            .into_response(),
    )
}

fn too_large(limit: usize) -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the body is larger than {limit} bytes"),
    )
}

async fn healthz(State(state): State<WebhookState>) -> Response {
    let inbox = state.inbox.clone();
    let depth = tokio::task::spawn_blocking(move || inbox.depth()).await;
    let uptime = state.started.elapsed().as_secs();
    match depth {
        Ok(Ok(depth)) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "uptime_secs": uptime,
                "realms": state.tenants.len(),
                "inbox_pending": depth.values().sum::<u64>(),
                "inbox_pending_by_tenant": depth,
            })),
        )
            .into_response(),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "degraded", "uptime_secs": uptime, "error": format!("{e:#}")})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "degraded", "uptime_secs": uptime, "error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn metrics_text(State(state): State<WebhookState>) -> Response {
    let inbox = state.inbox.clone();
    match tokio::task::spawn_blocking(move || inbox.depth()).await {
        Ok(Ok(mut depth)) => {
            // Every routed tenant has a series, 0 when its inbox is empty.
            for tenant in state.tenants.tenants() {
                depth.entry(tenant).or_insert(0);
            }
            state
                .metrics
                .set_all(metrics::INBOX_DEPTH, "tenant", &depth)
        }
        Ok(Err(e)) => tracing::warn!(error = %format!("{e:#}"), "reading the inbox depth"),
        Err(e) => tracing::warn!(error = %e, "reading the inbox depth"),
    }
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// How long the receiver may take before Intuit considers a delivery failed (api-facts A8).
pub const INTUIT_DEADLINE: Duration = Duration::from_secs(3);

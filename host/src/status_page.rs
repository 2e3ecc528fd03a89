//! `/status` (an HTML page) and `/status.json` on the daemon's listen address: per tenant the
//! connections and token expiry, the last run of each job, inbox depth, open errors with their
//! reasons, alerts and the next scheduled runs ([`crate::status::collect`], the same as
//! `ledgerlink status`). When `LEDGERLINK_STATUS_TOKEN` is set, both ask for
//! `Authorization: Bearer <token>`; the page says nothing of the token or any secret.

use crate::config::HostConfig;
use crate::db::Database;
use crate::reports::{escape, page};
use crate::runtime::Runtime;
use crate::status::{collect, TenantStatus};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The environment variable holding the bearer token the status routes ask for.
pub const TOKEN_ENV: &str = "LEDGERLINK_STATUS_TOKEN";

/// What the routes read.
#[derive(Clone)]
pub struct StatusSource {
    config: Arc<HostConfig>,
    db: Database,
    runtime: Runtime,
    token: Option<Arc<str>>,
}

impl StatusSource {
    /// Reads `config`'s tenants from `db`, asking `runtime`'s component for its cursors; the
    /// token from [`TOKEN_ENV`] (an empty value counts as unset).
    pub fn new(config: Arc<HostConfig>, db: Database, runtime: Runtime) -> Self {
        let token = std::env::var(TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty())
            .map(Arc::from);
        Self {
            config,
            db,
            runtime,
            token,
        }
    }
}

/// The routes, to merge into the daemon's server.
pub fn router(source: StatusSource) -> Router {
    Router::new()
        .route("/status", get(status_html))
        .route("/status.json", get(status_json))
        .with_state(source)
}

/// `None` when the request may see the status, else the 401 to answer.
fn refused(source: &StatusSource, headers: &HeaderMap) -> Option<Response> {
    let expected = source.token.as_deref()?;
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return None;
    }
    Some(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "a bearer token is required\n",
        )
            .into_response(),
    )
}

async fn statuses(source: &StatusSource) -> Result<Vec<TenantStatus>, Response> {
    collect(&source.config, &source.db, &source.runtime)
        .await
        .map_err(|e| {
            tracing::warn!(error = %format!("{e:#}"), "the status could not be read");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the status could not be read; see the log\n",
            )
                .into_response()
        })
}

async fn status_json(State(source): State<StatusSource>, headers: HeaderMap) -> Response {
    if let Some(no) = refused(&source, &headers) {
        return no;
    }
    match statuses(&source).await {
        Ok(s) => Json(s).into_response(),
        Err(e) => e,
    }
}

async fn status_html(State(source): State<StatusSource>, headers: HeaderMap) -> Response {
    if let Some(no) = refused(&source, &headers) {
        return no;
    }
    match statuses(&source).await {
        Ok(s) => Html(render(&s, &chrono::Utc::now().to_rfc3339())).into_response(),
        Err(e) => e,
    }
}

fn table(id: &str, head: &[&str], rows: Vec<String>, empty: &str) -> String {
    let head: String = head.iter().map(|h| format!("<th>{h}</th>")).collect();
    let body = if rows.is_empty() {
        format!(
            "<tr><td colspan={}>{empty}</td></tr>",
            head.matches("<th>").count()
        )
    } else {
        rows.concat()
    };
    format!("<div class=scroll><table id={id}><tr>{head}</tr>\n{body}</table></div>")
}

fn cell(text: &str) -> String {
    format!("<td>{}</td>", escape(text))
}

/// The page for `statuses`, read at `now`.
pub fn render(statuses: &[TenantStatus], now: &str) -> String {
    let mut body = format!(
        "<h1>Ledgerlink status</h1>\n<p class=muted>Read {}; reload for fresh figures.</p>\n",
        escape(now)
    );
    for t in statuses {
        let tenant = escape(&t.tenant);
        let health = if t.alerts.is_empty() && t.open_errors == 0 {
            "<span class=ok>healthy</span>"
        } else {
            "<span class=bad>needs attention</span>"
        };
        body.push_str(&format!(
            r#"<section id="tenant-{tenant}"><h2>Tenant {tenant}: {health}</h2>
<div class=cards>
<div class=card>Inbox waiting<b class=inbox-pending>{}</b></div>
<div class=card>Open errors<b class=open-errors>{}</b></div>
<div class=card>Alerts<b class=alert-count>{}</b></div>
<div class=card>Served by<b class=served-by>{}</b></div>
</div>
"#,
            t.inbox_pending,
            t.open_errors,
            t.alerts.len(),
            t.served_by
                .as_ref()
                .map_or_else(|| "no host".to_string(), |s| escape(&s.host))
        ));
        for a in &t.alerts {
            body.push_str(&format!(
                "<p class=bad>{} (since {}): {}</p>\n",
                escape(&a.kind),
                escape(&a.raised),
                escape(&a.message)
            ));
        }
        let connections = t
            .connections
            .iter()
            .map(|c| {
                let state = if c.needs_reconnect {
                    format!(
                        "<td class=bad>{}{}</td>",
                        escape(&c.state),
                        c.reason
                            .as_deref()
                            .map(|r| format!(": {}", escape(r)))
                            .unwrap_or_default()
                    )
                } else {
                    format!("<td class=ok>{}</td>", escape(&c.state))
                };
                format!(
                    "<tr>{}{}{state}{}{}</tr>\n",
                    cell(&c.name),
                    cell(&c.auth),
                    cell(c.access_expires_at.as_deref().unwrap_or("-")),
                    cell(c.refresh_expires_at.as_deref().unwrap_or("-")),
                )
            })
            .collect();
        body.push_str("<h3>Connections</h3>\n");
        body.push_str(&table(
            &format!("connections-{tenant}"),
            &[
                "Connection",
                "Auth",
                "State",
                "Access token expires",
                "Refresh token expires",
            ],
            connections,
            "None configured",
        ));
        let runs = t
            .last_runs
            .iter()
            .map(|r| {
                let class = if r.status == "ok" { "ok" } else { "bad" };
                format!(
                    "<tr>{}<td class={class}>{}</td>{}{}{}</tr>\n",
                    cell(&r.job),
                    escape(&r.status),
                    cell(&r.trigger),
                    cell(r.finished.as_deref().unwrap_or(&r.started)),
                    cell(&r.summary)
                )
            })
            .collect();
        body.push_str("<h3>Last run of each job</h3>\n");
        body.push_str(&table(
            &format!("runs-{tenant}"),
            &["Job", "Status", "Trigger", "Finished", "Counts"],
            runs,
            "No run yet",
        ));
        let errors = t
            .errors
            .iter()
            .map(|e| {
                format!(
                    "<tr>{}{}{}{}<td class=n>{}</td>{}{}</tr>\n",
                    cell(&e.entity),
                    cell(&e.record_id),
                    cell(&e.job),
                    cell(e.code.as_deref().unwrap_or("")),
                    e.attempts,
                    cell(e.next_retry.as_deref().unwrap_or("not automatic")),
                    cell(&e.detail)
                )
            })
            .collect();
        body.push_str("<h3>Open errors</h3>\n");
        body.push_str(&table(
            &format!("errors-{tenant}"),
            &[
                "Record",
                "Id",
                "Job",
                "Code",
                "Attempts",
                "Next retry",
                "Reason",
            ],
            errors,
            "None",
        ));
        let next = t
            .next_runs
            .iter()
            .map(|n| {
                format!(
                    "<tr>{}{}{}</tr>\n",
                    cell(&n.job),
                    cell(&n.trigger),
                    cell(&n.at)
                )
            })
            .collect();
        body.push_str("<h3>Next scheduled runs</h3>\n");
        body.push_str(&table(
            &format!("next-{tenant}"),
            &["Job", "Trigger", "At"],
            next,
            "Nothing scheduled",
        ));
        body.push_str("</section>\n");
    }
    if statuses.is_empty() {
        body.push_str("<p>No tenant is configured.</p>");
    }
    page("Ledgerlink status", &body)
}

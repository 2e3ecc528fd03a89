//! What `ledgerlink status` reports per tenant, read from the store without starting anything:
//! connection health and token expiry (the vault), the component's cursors (its `status` export;
//! the host never reads the component's storage), the last run of each job (`job_runs`), inbox
//! depth and open errors with their reasons (the error ledger), and the next scheduled runs
//! (cron from `describe` and the config, pending `run-later` rows). `/status` renders the same
//! ([`crate::status_page`]).

use crate::alerts::{Alert, Alerts};
use crate::auth::ConnectionState;
use crate::caps::schedule::StoreSchedule;
use crate::config::HostConfig;
use crate::db::Database;
use crate::runtime::Runtime;
use crate::scheduler::ledger::LedgerError;
use crate::scheduler::runs::JobRun;
use crate::scheduler::{spec, ErrorLedger, JobRuns};
use crate::tenant::TenantCaps;
use crate::webhooks::Inbox;
use anyhow::Result;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;

/// One connection.
#[derive(Clone, Debug, Serialize)]
pub struct ConnectionStatus {
    /// `quickbooks`, `salesforce`, `notify`.
    pub name: String,
    /// `oauth`, `static-token` or `none`.
    pub auth: String,
    /// `connected`, `not_connected`, `needs_reconnect` (OAuth), else `configured`.
    pub state: String,
    /// True when a person must reconnect it.
    pub needs_reconnect: bool,
    /// Why, when it needs a reconnect.
    pub reason: Option<String>,
    /// Access token expiry (RFC 3339).
    pub access_expires_at: Option<String>,
    /// Refresh token expiry (RFC 3339).
    pub refresh_expires_at: Option<String>,
    /// The QBO realm of the grant.
    pub realm: Option<String>,
}

/// One tenant.
#[derive(Clone, Debug, Serialize)]
pub struct TenantStatus {
    /// Tenant id.
    pub tenant: String,
    /// Connections.
    pub connections: Vec<ConnectionStatus>,
    /// Cursor key → value, as the component reports them.
    pub cursors: BTreeMap<String, String>,
    /// Why the component could not report its cursors, if it could not.
    pub component_error: Option<String>,
    /// The latest run of each job.
    pub last_runs: Vec<JobRun>,
    /// Webhook bodies waiting.
    pub inbox_pending: u64,
    /// Open errors in the ledger.
    pub open_errors: u64,
    /// The open errors, newest first (at most [`ERRORS_LISTED`]).
    pub errors: Vec<LedgerError>,
    /// What runs next: each cron job's next slot and the pending `run-later` rows, soonest first.
    pub next_runs: Vec<NextRun>,
    /// Open alerts: failures a person must act on (see [`crate::alerts`]).
    pub alerts: Vec<Alert>,
    /// The `ledgerlink run` host serving the tenant, when one holds it ([`crate::cluster`]).
    pub served_by: Option<ServedBy>,
}

/// Which host serves a tenant.
#[derive(Clone, Debug, Serialize)]
pub struct ServedBy {
    /// The host's id (`[server] host-id`, by default its name and listen port).
    pub host: String,
    /// The fencing token of its hold.
    pub fence: i64,
    /// Since when (RFC 3339).
    pub since: String,
    /// Until when, unless renewed (RFC 3339).
    pub until: String,
}

/// How many open errors a status lists (the count is always whole).
pub const ERRORS_LISTED: usize = 50;

/// A run to come.
#[derive(Clone, Debug, Serialize)]
pub struct NextRun {
    /// The job.
    pub job: String,
    /// When (RFC 3339).
    pub at: String,
    /// `cron` or `run-later`.
    pub trigger: String,
}

/// Reads the status of every tenant of `config` from `db`, asking `runtime`'s component for its
/// cursors.
pub async fn collect(
    config: &HostConfig,
    db: &Database,
    runtime: &Runtime,
) -> Result<Vec<TenantStatus>> {
    let vault = if config.needs_vault() {
        Some(config.open_vault(db)?)
    } else {
        None
    };
    let runs = JobRuns::new(db.clone())?;
    let ledger = ErrorLedger::new(db.clone())?;
    let inbox = Inbox::new(db.clone())?;
    let alerts = Alerts::new(db.clone(), BTreeMap::new())?;
    let open = ledger.open_counts()?;
    let later = StoreSchedule::new(db.clone());
    let now = chrono::Utc::now();
    let owners: BTreeMap<String, crate::cluster::Owner> = crate::cluster::owners(db)?
        .into_iter()
        .filter(|o| o.expires > now)
        .map(|o| (o.tenant.clone(), o))
        .collect();
    let mut out = Vec::new();
    for tenant in &config.tenants {
        let mut connections = Vec::new();
        for (name, conn) in &tenant.connections {
            let mut status = ConnectionStatus {
                name: name.clone(),
                auth: if conn.auth.is_some() {
                    "oauth"
                } else if conn.token_env.is_some() {
                    "static-token"
                } else {
                    "none"
                }
                .into(),
                state: "configured".into(),
                needs_reconnect: false,
                reason: None,
                access_expires_at: None,
                refresh_expires_at: None,
                realm: None,
            };
            if let (Some(_), Some(vault)) = (conn.auth, &vault) {
                let tokens = vault.load(&tenant.id, name)?;
                let (state, reason) = match vault.state(&tenant.id, name)? {
                    Some(s) => s,
                    None if tokens.is_some() => (ConnectionState::Connected, None),
                    None => (ConnectionState::NotConnected, None),
                };
                status.state = state.as_str().into();
                status.needs_reconnect = state != ConnectionState::Connected;
                status.reason = reason;
                if let Some(t) = tokens {
                    status.access_expires_at = t.access_expires_at.map(|t| t.to_rfc3339());
                    status.refresh_expires_at = t.refresh_expires_at.map(|t| t.to_rfc3339());
                    status.realm = t.realm;
                }
            }
            // A connection reconnected since its alert: the alert is done.
            if conn.auth.is_some() && !status.needs_reconnect && status.state == "connected" {
                alerts.clear(&tenant.id, &format!("reconnect:{name}"))?;
            }
            connections.push(status);
        }
        // The component's state, without the tenant's connections: a status makes no API call
        // and needs no token.
        let caps = config.offline_caps(&tenant.id, db)?;
        let (cursors, component_error) = match crate::flow_calls::status(runtime, &caps).await {
            Ok(status) => (status.cursors.into_iter().collect(), None),
            Err(e) => (BTreeMap::new(), Some(format!("{e:#}"))),
        };
        let next_runs = next_runs(runtime, &caps, &tenant.schedules, &later)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(tenant = %tenant.id, error = %format!("{e:#}"), "next runs unknown");
                Vec::new()
            });
        let mut errors = ledger.list(Some(&tenant.id), Some("open"))?;
        errors.sort_by(|a, b| b.last_seen.cmp(&a.last_seen));
        errors.truncate(ERRORS_LISTED);
        out.push(TenantStatus {
            tenant: tenant.id.clone(),
            connections,
            cursors,
            component_error,
            last_runs: runs.last_per_job(&tenant.id)?,
            inbox_pending: inbox.depth_of(&tenant.id)?,
            open_errors: open.get(&tenant.id).copied().unwrap_or(0),
            errors,
            next_runs,
            alerts: alerts.open(&tenant.id)?,
            served_by: owners.get(&tenant.id).map(|o| ServedBy {
                host: o.holder.clone(),
                fence: o.fence,
                since: o.since.to_rfc3339(),
                until: o.expires.to_rfc3339(),
            }),
        });
    }
    Ok(out)
}

/// Each cron job's next slot (the component's defaults with the tenant's overrides) and the
/// tenant's pending `run-later` rows, soonest first.
async fn next_runs(
    runtime: &Runtime,
    caps: &TenantCaps,
    overrides: &BTreeMap<String, String>,
    later: &StoreSchedule,
) -> Result<Vec<NextRun>> {
    use crate::caps::schedule::ScheduleBackend;
    let now = chrono::Utc::now();
    let described = crate::flow_calls::describe(runtime, caps).await?;
    let mut runs: Vec<NextRun> = spec::effective(&described, overrides)?
        .into_iter()
        .filter_map(|(job, cron)| {
            let offset =
                crate::scheduler::stagger::job_offset(&caps.id, &job, &cron, Some(overrides));
            let at = crate::scheduler::stagger::next_after(&cron, offset, now)?;
            Some(NextRun {
                job,
                at: at.to_rfc3339(),
                trigger: "cron".into(),
            })
        })
        .collect();
    runs.extend(
        later
            .due(chrono::DateTime::<chrono::Utc>::MAX_UTC)?
            .into_iter()
            .filter(|r| r.tenant == caps.id)
            .map(|r| NextRun {
                job: r.job,
                at: r.run_at.to_rfc3339(),
                trigger: "run-later".into(),
            }),
    );
    runs.sort_by(|a, b| a.at.cmp(&b.at));
    Ok(runs)
}

fn cut(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// The plain-text report.
pub fn render_text(statuses: &[TenantStatus]) -> String {
    let mut out = String::new();
    for t in statuses {
        let _ = writeln!(
            out,
            "tenant {}   inbox pending: {}   open errors: {}   served by: {}",
            t.tenant,
            t.inbox_pending,
            t.open_errors,
            t.served_by.as_ref().map_or_else(
                || "no host".to_string(),
                |s| format!("{} (fence {}, until {})", s.host, s.fence, s.until)
            )
        );
        let _ = writeln!(
            out,
            "  {:<12} {:<13} {:<16} {:<26} NOTE",
            "CONNECTION", "AUTH", "STATE", "ACCESS EXPIRES"
        );
        for c in &t.connections {
            let note = if c.needs_reconnect && c.auth == "oauth" {
                format!(
                    "needs reconnect{}",
                    c.reason
                        .as_deref()
                        .map(|r| format!(": {}", cut(r, 60)))
                        .unwrap_or_default()
                )
            } else {
                c.realm
                    .as_deref()
                    .map(|r| format!("realm {r}"))
                    .unwrap_or_default()
            };
            let _ = writeln!(
                out,
                "  {:<12} {:<13} {:<16} {:<26} {}",
                c.name,
                c.auth,
                c.state,
                c.access_expires_at.as_deref().unwrap_or("-"),
                note
            );
        }
        for a in &t.alerts {
            let _ = writeln!(
                out,
                "  ALERT {} (since {}): {}",
                a.kind, a.raised, a.message
            );
        }
        if let Some(e) = &t.component_error {
            let _ = writeln!(out, "  cursors: the component could not say ({e})");
        } else if t.cursors.is_empty() {
            let _ = writeln!(out, "  cursors: none");
        } else {
            let _ = writeln!(out, "  {:<30} VALUE", "CURSOR");
            for (k, v) in &t.cursors {
                let _ = writeln!(out, "  {:<30} {}", cut(k, 30), cut(v, 60));
            }
        }
        for e in &t.errors {
            let _ = writeln!(
                out,
                "  ERROR {} {} in {} ({} attempts{}): {}",
                e.entity,
                e.record_id,
                e.job,
                e.attempts,
                e.next_retry
                    .as_deref()
                    .map(|at| format!(", next retry {at}"))
                    .unwrap_or_default(),
                cut(&e.detail, 80)
            );
        }
        for n in t.next_runs.iter().take(10) {
            let _ = writeln!(
                out,
                "  NEXT  {:<22} {:<10} {}",
                cut(&n.job, 22),
                n.trigger,
                n.at
            );
        }
        if t.last_runs.is_empty() {
            let _ = writeln!(out, "  runs: none yet");
        } else {
            let _ = writeln!(
                out,
                "  {:<22} {:<14} {:<26} SUMMARY",
                "JOB", "STATUS", "STARTED"
            );
            for r in &t.last_runs {
                let _ = writeln!(
                    out,
                    "  {:<22} {:<14} {:<26} {}",
                    cut(&r.job, 22),
                    r.status,
                    r.started,
                    cut(&r.summary, 70)
                );
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Secret, StoredTokens};
    use crate::caps::storage::sqlite::SqliteBackend;
    use crate::caps::storage::KeyValueBackend;

    #[tokio::test]
    async fn a_dead_grant_reads_as_needs_reconnect_with_cursors_runs_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledgerlink.toml");
        std::fs::write(
            &path,
            "[[tenant]]\nid = \"acme\"\n[tenant.connections.quickbooks]\nbase-url = \"http://127.0.0.1:9\"\nauth = \"quickbooks-oauth\"\nclient-id-env = \"X_ID\"\nclient-secret-env = \"X_SECRET\"\n[tenant.connections.notify]\nbase-url = \"http://127.0.0.1:9/hook\"\n",
        )
        .unwrap();
        let config = HostConfig::load(&path).unwrap();
        let db = Database::open(&config.store.path).unwrap();
        let vault = config.open_vault(&db).unwrap();
        let now = chrono::Utc::now();
        vault
            .store(
                "acme",
                "quickbooks",
                &StoredTokens {
                    access_token: Secret::new("a-secret-access-token"),
                    issued_at: now,
                    access_expires_at: Some(now + chrono::Duration::hours(1)),
                    refresh_token: Some(Secret::new("r")),
                    refresh_expires_at: None,
                    instance_url: None,
                    realm: Some("123".into()),
                },
                now,
            )
            .unwrap();
        vault
            .mark_needs_reconnect("acme", "quickbooks", "invalid_grant", now)
            .unwrap();
        // A cursor as the component stores it (JSON text in its `cursors` bucket).
        SqliteBackend::new(db.clone())
            .set(
                "acme",
                "cursors",
                "opportunities",
                br#""2026-01-01T00:00:00Z""#,
            )
            .unwrap();
        let runs = JobRuns::new(db.clone()).unwrap();
        let id = runs.start("acme", "poll", "{}", "cron", now).unwrap();
        runs.finish(id, "ok", "poll: 1 created", now).unwrap();

        let runtime = Runtime::embedded(crate::runtime::Limits::default()).unwrap();
        let statuses = collect(&config, &db, &runtime).await.unwrap();
        let acme = &statuses[0];
        let qbo = acme
            .connections
            .iter()
            .find(|c| c.name == "quickbooks")
            .unwrap();
        assert!(qbo.needs_reconnect);
        assert_eq!(qbo.state, "needs_reconnect");
        assert_eq!(qbo.realm.as_deref(), Some("123"));
        assert!(qbo.access_expires_at.is_some());
        let notify = acme
            .connections
            .iter()
            .find(|c| c.name == "notify")
            .unwrap();
        assert_eq!(
            (notify.auth.as_str(), notify.needs_reconnect),
            ("none", false)
        );
        assert_eq!(acme.cursors["opportunities"], "2026-01-01T00:00:00Z");
        assert_eq!(acme.last_runs[0].summary, "poll: 1 created");
        assert_eq!((acme.inbox_pending, acme.open_errors), (0, 0));
        let text = render_text(&statuses);
        assert!(text.contains("needs reconnect: invalid_grant"), "{text}");
        assert!(
            text.contains("opportunities") && text.contains("poll"),
            "{text}"
        );
        assert!(!text.contains("a-secret-access-token"));
    }
}

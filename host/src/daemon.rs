//! `ledgerlink run`: one process serving every configured tenant. The webhook receiver answers
//! Intuit (beside `/status`, `/healthz` and `/metrics`), the inbox worker hands stored bodies to the component's `on-webhook`, and the
//! scheduler runs cron jobs, run-later schedules and error retries, and each tenant with
//! `salesforce-events` follows its Pub/Sub topics (`pubsub`). On shutdown the server stops
//! accepting, in-flight runs get a grace period, and anything unfinished stays in the store
//! (inbox rows pending, run-later rows pending, `job_runs` rows resumed) to run again.

use crate::alerts::Alerts;
use crate::auth::broker::BrokerHooks;
use crate::caps::storage::fenced::{Fenced, OwnershipSlot};
use crate::cluster::Ownership;
use crate::config::HostConfig;
use crate::db::Database;
use crate::metrics::Metrics;
use crate::pubsub::replays::Replays;
use crate::pubsub::subscriber::Subscriber;
use crate::reports::after_runs::ReportWriter;
use crate::runtime::{Limits, Runtime};
use crate::scheduler::{LedgerMirror, Runner, Scheduler};
use crate::status_page::{self, StatusSource};
use crate::webhooks::{self, Inbox, InboxItem, WebhookConfig, WebhookState, WebhookTenants};
use anyhow::{Context, Result};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long the inbox worker sleeps when nothing wakes it.
const INBOX_IDLE: Duration = Duration::from_secs(5);

/// The same on a store shared with other hosts: a webhook another host stored for one of this
/// host's tenants wakes nothing here, so the worker looks this often.
const SHARED_INBOX_IDLE: Duration = Duration::from_millis(250);

/// Loads the component (the embedded one, or `plugin`).
pub fn load_runtime(plugin: Option<&Path>) -> Result<Runtime> {
    match plugin {
        Some(path) => Runtime::from_file(path, Limits::default()),
        None => Runtime::embedded(Limits::default()),
    }
}

/// Everything the daemon and the one-shot commands share: the store, the runner with every
/// tenant's capabilities built once, and the metrics.
pub struct Host {
    /// The store.
    pub db: Database,
    /// Runs jobs.
    pub runner: Arc<Runner>,
    /// Counters.
    pub metrics: Metrics,
    /// What a person must be told.
    pub alerts: Alerts,
    /// The host's share of the tenants, once `run` has one: the tenants' bucket writes are
    /// fenced by it.
    pub ownership: OwnershipSlot,
}

impl Host {
    /// Opens the store and builds every tenant.
    pub fn open(config: &HostConfig, runtime: Runtime) -> Result<Self> {
        let db = config.store.open()?;
        let metrics = Metrics::new();
        let vault = if config.needs_vault() {
            Some(config.open_vault(&db)?)
        } else {
            None
        };
        let notify = config
            .tenants
            .iter()
            .filter_map(|t| Some((t.id.clone(), t.connections.get("notify")?.base_url.clone())))
            .collect();
        let alerts = Alerts::new(db.clone(), notify)?;
        let hooks: Arc<dyn BrokerHooks> = Arc::new(alerts.clone());
        let ownership = OwnershipSlot::default();
        let mut tenants = BTreeMap::new();
        for tenant in &config.tenants {
            let mut caps = config.tenant_caps_with(
                &tenant.id,
                &db,
                vault.as_ref(),
                Some(&metrics),
                Some(hooks.clone()),
            )?;
            caps.storage = Arc::new(Fenced::new(caps.storage, ownership.clone()));
            tenants.insert(tenant.id.clone(), caps);
        }
        let mut runner = Runner::new(runtime.clone(), tenants.clone(), &db, metrics.clone())?
            .with_alerts(alerts.clone());
        let mirrored: BTreeMap<String, _> = config
            .tenants
            .iter()
            .filter(|t| t.mirror_errors)
            .filter_map(|t| {
                let caps = tenants.get(&t.id)?;
                Some((t.id.clone(), caps.connections.get("salesforce")?.clone()))
            })
            .collect();
        if !mirrored.is_empty() {
            runner = runner.with_ledger_mirror(LedgerMirror::new(db.clone(), mirrored)?);
        }
        if let Some(dir) = &config.server.reports_dir {
            runner =
                runner.with_observer(Arc::new(ReportWriter::new(runtime, tenants, dir.clone())));
        }
        Ok(Self {
            db,
            runner: Arc::new(runner),
            metrics,
            alerts,
            ownership,
        })
    }
}

/// The realm → tenant routing of the webhook receiver, from `[tenant.webhooks]`.
pub fn webhook_tenants(config: &HostConfig) -> Result<WebhookTenants> {
    let mut routes = WebhookTenants::new();
    for tenant in &config.tenants {
        let Some(hooks) = &tenant.webhooks else {
            continue;
        };
        let realm = tenant
            .settings
            .get("realm-id")
            .with_context(|| format!("tenant {}: webhooks need settings.realm-id", tenant.id))?;
        let token = std::env::var(&hooks.verifier_token_env).with_context(|| {
            format!(
                "tenant {}: the webhook verifier needs the environment variable {}",
                tenant.id, hooks.verifier_token_env
            )
        })?;
        routes = routes.with(realm, &tenant.id, &token);
    }
    Ok(routes)
}

/// Starts one Pub/Sub subscriber per topic of each tenant with `salesforce-events`, following
/// the topic while this host serves the tenant.
pub fn subscribe(
    config: &HostConfig,
    host: &Host,
    ownership: &Ownership,
    stop: &watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let replays = Replays::new(host.db.clone())?;
    let mut tasks = Vec::new();
    for tenant in &config.tenants {
        let Some(events) = &tenant.salesforce_events else {
            continue;
        };
        let salesforce = host
            .runner
            .tenants()
            .get(&tenant.id)
            .and_then(|caps| caps.connections.get("salesforce"))
            .cloned()
            .with_context(|| format!("tenant {}: no salesforce connection", tenant.id))?;
        for topic in &events.topics {
            let subscriber = Subscriber {
                tenant: tenant.id.clone(),
                topic: topic.clone(),
                endpoint: events.url.clone(),
                batch: events.batch,
                salesforce: salesforce.clone(),
                replays: replays.clone(),
                handler: host.runner.clone(),
            };
            tasks.push(tokio::spawn(crate::cluster::while_owned(
                ownership.clone(),
                tenant.id.clone(),
                stop.clone(),
                move |session_stop| subscriber.clone().run(session_stop),
            )));
        }
    }
    Ok(tasks)
}

/// Runs the daemon until `shutdown` resolves. `on_listening` gets the bound address.
pub async fn run(
    config: &HostConfig,
    runtime: Runtime,
    on_listening: impl FnOnce(std::net::SocketAddr),
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let host = Host::open(config, runtime)?;
    // This host's share of the tenants: settled once before anything runs, then kept by its
    // own task (rounds every third of the lease).
    let ownership = Ownership::new(
        &host.db,
        &config
            .server
            .host_id
            .clone()
            .unwrap_or_else(|| crate::cluster::default_host_id(config.server.listen)),
        config.tenants.iter().map(|t| t.id.clone()).collect(),
        Duration::from_secs(config.server.lease_seconds.max(3)),
    );
    // The API budgets move with the tenants: what another host may have sent after its last
    // save (a round) counts as spent here.
    let unseen = ownership.round_every() + Duration::from_secs(1);
    let ownership = ownership.with_hooks(Arc::new(crate::cluster::budgets::Handover::new(
        &host.db,
        host.runner.tenants(),
        unseen,
    )));
    {
        let first = ownership.clone();
        let report = tokio::task::spawn_blocking(move || first.round(chrono::Utc::now())).await??;
        tracing::info!(host = %ownership.host(), hosts = report.hosts, owned = ownership.owned().len(),
            store = host.db.kind(), "tenants claimed");
    }
    host.runner.set_ownership(ownership.clone());
    let _ = host.ownership.set(Arc::new(ownership.clone()));
    let overrides: BTreeMap<String, BTreeMap<String, String>> = config
        .tenants
        .iter()
        .map(|t| (t.id.clone(), t.schedules.clone()))
        .collect();
    let scheduler = Arc::new(Scheduler::new(host.runner.clone(), &host.db, &overrides).await?);
    let inbox = Inbox::new(host.db.clone())?;
    let state = WebhookState::new(
        inbox.clone(),
        webhook_tenants(config)?,
        host.metrics.clone(),
        WebhookConfig::default(),
    );
    let status = StatusSource::new(
        Arc::new(config.clone()),
        host.db.clone(),
        host.runner.runtime().clone(),
    );
    let server = webhooks::serve_with(
        config.server.listen,
        state.clone(),
        status_page::router(status),
    )
    .await?;
    tracing::info!(addr = %server.addr(), tenants = config.tenants.len(), "ledgerlink is running");
    on_listening(server.addr());

    let (stop_tx, stop_rx) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let runner = host.runner.clone();
    let handler = Arc::new(move |item: InboxItem| {
        let runner = runner.clone();
        async move {
            let body = String::from_utf8(item.body)
                .map_err(|_| anyhow::anyhow!("the webhook body is not UTF-8"))?;
            runner.run_webhook(&item.tenant, &item.source, &body).await
        }
    });
    let worker = tokio::spawn(webhooks::worker::run_as(
        inbox.serving(ownership.clone()),
        handler,
        Some(host.metrics.clone()),
        state.wake.clone(),
        match host.db.backend() {
            crate::db::Backend::Postgres(_) => SHARED_INBOX_IDLE,
            crate::db::Backend::Sqlite(_) => INBOX_IDLE,
        },
        stopped(stop_rx.clone()),
        webhooks::worker::Drain {
            tenants_in_parallel: config.server.inbox_tenants_in_parallel,
            ..Default::default()
        },
    ));
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    let tick = Duration::from_millis(config.server.scheduler_tick_ms.max(10));
    let sched = scheduler.clone();
    let sched_stop = stopped(stop_rx.clone());
    let scheduler_task = tokio::spawn(async move { sched.run(tick, grace, sched_stop).await });
    // Tenants taken over: their waiting webhooks run at once.
    {
        let (mut changes, wake) = (ownership.subscribe(), state.wake.clone());
        tokio::spawn(async move {
            while changes.changed().await.is_ok() {
                wake.notify_one();
            }
        });
    }
    let subscriptions = subscribe(config, &host, &ownership, &stop_rx)?;
    let owning = {
        let (ownership, metrics, stop) = (ownership.clone(), host.metrics.clone(), stop_rx.clone());
        tokio::spawn(async move { ownership.run(metrics, stop).await })
    };
    // Finished work past retention, at start and every six hours.
    let retention = {
        let (db, days, mut stop) = (
            host.db.clone(),
            config.store.retention_days,
            stop_rx.clone(),
        );
        tokio::spawn(async move {
            loop {
                match crate::retention::purge(&db, days, chrono::Utc::now()) {
                    Ok(purged) if !purged.is_empty() => {
                        tracing::info!(?purged, days, "finished work past retention deleted")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %format!("{e:#}"), "retention purge failed"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_secs(6 * 3600)) => {}
                    _ = stop.wait_for(|s| *s) => return,
                }
            }
        })
    };
    // Alerts raised before a restart whose notification did not go out.
    let alerts = host.alerts.clone();
    tokio::spawn(async move {
        if let Err(e) = alerts.flush().await {
            tracing::warn!(error = %format!("{e:#}"), "flushing alerts failed");
        }
    });

    shutdown.await;
    tracing::info!(
        ?grace,
        "shutting down: no new work; letting runs in progress finish"
    );
    let _ = stop_tx.send(true);
    if let Err(e) = server.shutdown().await {
        tracing::warn!(error = %format!("{e:#}"), "stopping the webhook receiver");
    }
    match tokio::time::timeout(grace, worker).await {
        Ok(_) => {}
        Err(_) => tracing::warn!(
            "the inbox worker did not finish within the grace period; its rows are claimed again after their lease"
        ),
    }
    let _ = scheduler_task.await;
    for task in subscriptions {
        let _ = tokio::time::timeout(grace, task).await;
    }
    let _ = tokio::time::timeout(grace, retention).await;
    // Last: the tenants go to the other hosts once nothing here runs for them.
    let _ = owning.await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

//! Draining the inbox: each tenant's pending bodies go to an [`InboxHandler`] as one run
//! ([`coalesce`]: one merged body per tenant and source; the daemon's handler calls the
//! component's `flows.on-webhook(source, body)` for the row's tenant). Up to
//! [`TENANTS_IN_PARALLEL`] tenants' runs are in flight at once; a tenant's runs keep their order. A handler error marks the
//! row failed with the reason and the batch goes on; a handler that panics is caught the same
//! way. A [`Postpone`] error leaves the row pending until its time instead. A crash mid-batch
//! leaves the claimed rows pending; they are claimed again once their lease runs out (see
//! [`Inbox::claim_pending`]).

use super::inbox::{Inbox, InboxItem};
use crate::metrics::{self, Metrics};
use crate::scheduler::Postpone;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How many rows one [`drain_once`] takes by default.
pub const DEFAULT_BATCH: usize = 100;

/// The future a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'static>>;

/// What handles one stored body. Closures `Fn(InboxItem) -> impl Future<Output =
/// anyhow::Result<()>>` implement it.
pub trait InboxHandler: Send + Sync {
    /// Handles one row; an error marks it failed with the error's text.
    fn handle(&self, item: InboxItem) -> HandlerFuture;
}

impl<F, Fut> InboxHandler for F
where
    F: Fn(InboxItem) -> Fut + Send + Sync,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    fn handle(&self, item: InboxItem) -> HandlerFuture {
        Box::pin(self(item))
    }
}

/// What one drain did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    /// Rows claimed.
    pub claimed: usize,
    /// Row ids handled successfully.
    pub done: Vec<i64>,
    /// Row ids that failed, with the reason.
    pub failed: Vec<(i64, String)>,
    /// Row ids postponed by a [`Postpone`] answer.
    pub postponed: Vec<i64>,
}

/// Claims up to [`DEFAULT_BATCH`] pending rows and hands each to `handler`, in order.
pub async fn drain_once(
    inbox: &Inbox,
    handler: Arc<dyn InboxHandler>,
) -> anyhow::Result<DrainReport> {
    drain_batch(inbox, handler, DEFAULT_BATCH, None).await
}

/// [`drain_once`] with a batch size, counting outcomes in `metrics`
/// (`ledgerlink_inbox_handled_total{tenant,outcome}`) when given.
pub async fn drain_batch(
    inbox: &Inbox,
    handler: Arc<dyn InboxHandler>,
    limit: usize,
    metrics: Option<&Metrics>,
) -> anyhow::Result<DrainReport> {
    drain_batch_as(inbox, handler, limit, metrics, Drain::default()).await
}

/// How claimed rows become runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runs {
    /// One run per tenant and source of everything claimed ([`coalesce`]): the daemon's way.
    Coalesced,
    /// One run per row (how the inbox was drained before; kept for the latency benchmark's
    /// comparison).
    OneByOne,
}

/// How a drain turns rows into runs and how many tenants' runs it has in flight at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drain {
    /// Rows into runs.
    pub runs: Runs,
    /// Tenants whose runs are in flight at once (at least 1).
    pub tenants_in_parallel: usize,
}

impl Default for Drain {
    fn default() -> Self {
        Self {
            runs: Runs::Coalesced,
            tenants_in_parallel: TENANTS_IN_PARALLEL,
        }
    }
}

/// [`drain_batch`] with rows turned into runs, and tenants run side by side, as `drain` says.
pub async fn drain_batch_as(
    inbox: &Inbox,
    handler: Arc<dyn InboxHandler>,
    limit: usize,
    metrics: Option<&Metrics>,
    drain: Drain,
) -> anyhow::Result<DrainReport> {
    let runs = drain.runs;
    let claim = inbox.clone();
    let items = tokio::task::spawn_blocking(move || claim.claim_pending(limit)).await??;
    let mut report = DrainReport {
        claimed: items.len(),
        ..DrainReport::default()
    };
    let grouped = match runs {
        Runs::Coalesced => coalesce(items),
        Runs::OneByOne => items.into_iter().map(|i| (vec![i.id], i)).collect(),
    };
    // A tenant's runs one after the other, in claim order; different tenants side by side.
    let mut tenants: Vec<(String, Vec<Run>)> = Vec::new();
    for (ids, item) in grouped {
        match tenants.iter_mut().find(|(t, _)| *t == item.tenant) {
            Some((_, runs)) => runs.push((ids, item)),
            None => tenants.push((item.tenant.clone(), vec![(ids, item)])),
        }
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(
        drain.tenants_in_parallel.max(1),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for (_, runs) in tenants {
        let (inbox, handler, metrics) = (inbox.clone(), handler.clone(), metrics.cloned());
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let mut part = DrainReport::default();
            for (ids, item) in runs {
                run_one(&inbox, &handler, metrics.as_ref(), ids, item, &mut part).await?;
            }
            anyhow::Ok(part)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let part = joined.map_err(|e| anyhow::anyhow!("an inbox task stopped: {e}"))??;
        report.done.extend(part.done);
        report.failed.extend(part.failed);
        report.postponed.extend(part.postponed);
    }
    report.done.sort_unstable();
    report.failed.sort_by_key(|(id, _)| *id);
    report.postponed.sort_unstable();
    Ok(report)
}

/// One run: the row ids it covers and the (possibly merged) item.
type Run = (Vec<i64>, InboxItem);

/// How many tenants' runs one drain has in flight at once by default (`[server]
/// inbox-tenants-in-parallel`). A webhook run against the real APIs
/// is a CDC call and a Salesforce write, about half a second of waiting: one tenant's backlog
/// must not hold up the others' (issue 16: 1 webhook a second across 100 tenants). A tenant's
/// own runs stay in order; the instance pool bounds the guests live at once anyway.
pub const TENANTS_IN_PARALLEL: usize = 8;

/// Runs one (possibly merged) item and marks its rows with the outcome.
async fn run_one(
    inbox: &Inbox,
    handler: &Arc<dyn InboxHandler>,
    metrics: Option<&Metrics>,
    ids: Vec<i64>,
    item: InboxItem,
    report: &mut DrainReport,
) -> anyhow::Result<()> {
    let tenant = item.tenant.clone();
    // Spawned so that a panicking handler fails its row, not the batch.
    let outcome = match tokio::spawn(handler.handle(item)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => match e.downcast::<Postpone>() {
            Ok(postpone) => Err(Ok(postpone)),
            Err(e) => Err(Err(format!("{e:#}"))),
        },
        Err(join) if join.is_panic() => Err(Err("the handler panicked".to_string())),
        Err(join) => Err(Err(format!("the handler was cancelled: {join}"))),
    };
    // Every row of a merged run shares its outcome.
    let outcome_label = match &outcome {
        Ok(()) => "done",
        Err(Ok(_)) => "postponed",
        Err(Err(_)) => "failed",
    };
    for id in ids {
        let mark = inbox.clone();
        match &outcome {
            Ok(()) => {
                tokio::task::spawn_blocking(move || mark.mark_done(id)).await??;
                report.done.push(id);
            }
            Err(Ok(postpone)) => {
                tracing::info!(id, tenant = %tenant, until = %postpone.until, reason = %postpone.reason,
                    "webhook body postponed");
                let (until, reason) = (postpone.until, postpone.reason.clone());
                tokio::task::spawn_blocking(move || mark.postpone(id, until, &reason)).await??;
                report.postponed.push(id);
            }
            Err(Err(reason)) => {
                tracing::warn!(id, tenant = %tenant, %reason, "webhook body failed");
                let r = reason.clone();
                tokio::task::spawn_blocking(move || mark.mark_failed(id, &r)).await??;
                report.failed.push((id, reason.clone()));
            }
        }
        if let Some(m) = metrics {
            m.inc(
                metrics::INBOX_HANDLED,
                &[("tenant", &tenant), ("outcome", outcome_label)],
            );
        }
    }
    Ok(())
}

/// The most body bytes one merged run carries; a tenant with more pending gets several runs.
pub const MAX_MERGED_BYTES: usize = 512 * 1024;

/// A tenant's pending bodies of one source as one run: QBO deliveries merged into one body of
/// their format (so the component makes one CDC pass for all of them, not one each), Salesforce
/// change-event arrays concatenated. Groups keep the claim's order (tenants take turns), rows
/// keep their arrival order inside a group; bodies that cannot be merged (mixed QBO formats,
/// unreadable JSON) run alone, as before. Returns each run's row ids and its item.
pub fn coalesce(items: Vec<InboxItem>) -> Vec<(Vec<i64>, InboxItem)> {
    let mut groups: Vec<Vec<InboxItem>> = Vec::new();
    for item in items {
        let open = groups.iter_mut().find(|g| {
            let first = &g[0];
            first.tenant == item.tenant
                && first.source == item.source
                && g.iter().map(|i| i.body.len()).sum::<usize>() + item.body.len()
                    <= MAX_MERGED_BYTES
        });
        match open {
            Some(group) => group.push(item),
            None => groups.push(vec![item]),
        }
    }
    let mut runs = Vec::new();
    for group in groups {
        if group.len() == 1 {
            let item = group.into_iter().next().expect("one item");
            runs.push((vec![item.id], item));
            continue;
        }
        match merged_body(&group) {
            Some(body) => {
                let ids = group.iter().map(|i| i.id).collect();
                let attempts = group.iter().map(|i| i.attempts).max().unwrap_or(1);
                let mut first = group.into_iter().next().expect("a group has items");
                first.body = body;
                first.attempts = attempts;
                runs.push((ids, first));
            }
            None => runs.extend(group.into_iter().map(|i| (vec![i.id], i))),
        }
    }
    runs
}

fn merged_body(group: &[InboxItem]) -> Option<Vec<u8>> {
    let bodies: Vec<serde_json::Value> = group
        .iter()
        .map(|i| serde_json::from_slice(&i.body).ok())
        .collect::<Option<_>>()?;
    let merged = match group[0].source.as_str() {
        "quickbooks" => crate::webhooks::payload::merge(&bodies)?,
        // Salesforce change events: each body is an array of events.
        _ => serde_json::Value::Array(
            bodies
                .into_iter()
                .map(|b| match b {
                    serde_json::Value::Array(events) => Some(events),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .flatten()
                .collect(),
        ),
    };
    serde_json::to_vec(&merged).ok()
}

/// Drains until `shutdown` resolves (checked between batches): after each batch, waits for `wake` (the receiver notifies
/// it on every new row) or `idle`, whichever comes first. A failing store is logged and retried
/// after `idle`.
pub async fn run(
    inbox: Inbox,
    handler: Arc<dyn InboxHandler>,
    metrics: Option<Metrics>,
    wake: Arc<Notify>,
    idle: Duration,
    shutdown: impl Future<Output = ()>,
) {
    run_as(
        inbox,
        handler,
        metrics,
        wake,
        idle,
        shutdown,
        Drain::default(),
    )
    .await
}

/// [`run`] with each drain as `drain` says.
pub async fn run_as(
    inbox: Inbox,
    handler: Arc<dyn InboxHandler>,
    metrics: Option<Metrics>,
    wake: Arc<Notify>,
    idle: Duration,
    shutdown: impl Future<Output = ()>,
    drain: Drain,
) {
    tokio::pin!(shutdown);
    loop {
        // A batch in progress is finished (each row is marked) before shutdown is honoured.
        let drained = drain_batch_as(
            &inbox,
            handler.clone(),
            DEFAULT_BATCH,
            metrics.as_ref(),
            drain,
        )
        .await;
        let full = match drained {
            Ok(report) => report.claimed == DEFAULT_BATCH,
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "draining the webhook inbox");
                false
            }
        };
        if full {
            // More may be waiting: go on at once unless shutdown was asked for.
            tokio::select! {
                biased;
                _ = &mut shutdown => return,
                _ = std::future::ready(()) => continue,
            }
        }
        tokio::select! {
            _ = &mut shutdown => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(idle) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Database;
    use crate::webhooks::inbox::InboxState;
    use std::sync::Mutex;

    #[tokio::test]
    async fn a_failing_or_panicking_row_does_not_stop_the_batch() {
        let inbox = Inbox::new(Database::in_memory().unwrap()).unwrap();
        for body in ["ok-1", "fail", "panic", "ok-2"] {
            inbox
                .persist("t", "quickbooks", "r", body.as_bytes())
                .unwrap();
        }
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let handler = Arc::new(move |item: InboxItem| {
            let s = s.clone();
            async move {
                let body = String::from_utf8(item.body).unwrap();
                s.lock().unwrap().push(body.clone());
                match body.as_str() {
                    "fail" => anyhow::bail!("Invoice 12: CustomerRef 7 not linked"),
                    "panic" => panic!("boom"),
                    _ => Ok(()),
                }
            }
        });
        let metrics = Metrics::new();
        let report = drain_batch(&inbox, handler, 10, Some(&metrics))
            .await
            .unwrap();
        assert_eq!(report.claimed, 4);
        assert_eq!(report.done.len(), 2);
        assert_eq!(
            report
                .failed
                .iter()
                .map(|(_, r)| r.as_str())
                .collect::<Vec<_>>(),
            vec![
                "Invoice 12: CustomerRef 7 not linked",
                "the handler panicked"
            ]
        );
        assert_eq!(seen.lock().unwrap().len(), 4);
        assert_eq!(inbox.depth_of("t").unwrap(), 0);
        let failed = inbox.get(report.failed[0].0).unwrap().unwrap();
        assert_eq!(failed.state, InboxState::Failed);
        assert_eq!(
            metrics.counter(
                metrics::INBOX_HANDLED,
                &[("tenant", "t"), ("outcome", "failed")]
            ),
            2
        );
    }

    #[tokio::test]
    async fn a_postponed_row_stays_pending() {
        let inbox = Inbox::new(Database::in_memory().unwrap()).unwrap();
        inbox.persist("t", "quickbooks", "r", b"x").unwrap();
        let until = chrono::Utc::now() + chrono::Duration::minutes(5);
        let handler = Arc::new(move |_item: InboxItem| async move {
            Err(anyhow::Error::new(Postpone {
                until,
                reason: "throttled".into(),
            }))
        });
        let report = drain_batch(&inbox, handler.clone(), 10, None)
            .await
            .unwrap();
        assert_eq!(report.postponed.len(), 1);
        assert!(report.failed.is_empty());
        assert_eq!(inbox.depth_of("t").unwrap(), 1);
        // Not handed out again before its time.
        let again = drain_batch(&inbox, handler, 10, None).await.unwrap();
        assert_eq!(again.claimed, 0);
    }

    #[tokio::test]
    async fn tenants_run_side_by_side_and_a_tenants_runs_keep_their_order() {
        let inbox = Inbox::new(Database::in_memory().unwrap()).unwrap();
        // Bodies that cannot merge, so that tenant "a" has two runs.
        for (tenant, body) in [("a", "a-1"), ("b", "b-1"), ("a", "a-2")] {
            inbox
                .persist(tenant, "quickbooks", "r", body.as_bytes())
                .unwrap();
        }
        let b_started = Arc::new(Notify::new());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler = {
            let (b_started, seen) = (b_started.clone(), seen.clone());
            Arc::new(move |item: InboxItem| {
                let (b_started, seen) = (b_started.clone(), seen.clone());
                async move {
                    let body = String::from_utf8(item.body).unwrap();
                    if body == "a-1" {
                        // Finishes only once b's run has started: one at a time would hang.
                        tokio::time::timeout(Duration::from_secs(5), b_started.notified())
                            .await
                            .map_err(|_| anyhow::anyhow!("b did not run while a-1 waited"))?;
                    }
                    if body == "b-1" {
                        b_started.notify_one();
                    }
                    seen.lock().unwrap().push(body);
                    Ok(())
                }
            })
        };
        let report = drain_batch(&inbox, handler, 10, None).await.unwrap();
        assert_eq!(report.done, [1, 2, 3], "{report:?}");
        let seen = seen.lock().unwrap().clone();
        let position = |b: &str| seen.iter().position(|s| s == b).unwrap();
        assert!(position("b-1") < position("a-1"), "{seen:?}");
        assert!(position("a-1") < position("a-2"), "{seen:?}");
    }

    #[tokio::test]
    async fn run_drains_when_woken_and_stops_on_shutdown() {
        let inbox = Inbox::new(Database::in_memory().unwrap()).unwrap();
        let wake = Arc::new(Notify::new());
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let done_tx = Arc::new(Mutex::new(Some(done_tx)));
        let handler = Arc::new(move |_item: InboxItem| {
            let done_tx = done_tx.clone();
            async move {
                if let Some(tx) = done_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
                Ok(())
            }
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(
            inbox.clone(),
            handler,
            None,
            wake.clone(),
            Duration::from_secs(3600),
            async {
                let _ = stop_rx.await;
            },
        ));
        inbox.persist("t", "quickbooks", "r", b"x").unwrap();
        wake.notify_one();
        tokio::time::timeout(Duration::from_secs(5), done_rx)
            .await
            .expect("handled after the wake-up")
            .unwrap();
        let _ = stop_tx.send(());
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .expect("stops on shutdown")
            .unwrap();
        assert_eq!(inbox.depth_of("t").unwrap(), 0);
    }

    #[tokio::test]
    async fn a_tenants_pending_deliveries_run_as_one_and_share_its_outcome() {
        let inbox = Inbox::new(Database::in_memory().unwrap()).unwrap();
        let delivery = |id: u32| {
            format!(
                r#"{{"eventNotifications":[{{"realmId":"1","dataChangeEvent":{{"entities":[{{"name":"Payment","id":"{id}","operation":"Create","lastUpdated":"2026-01-01T00:00:00Z"}}]}}}}]}}"#
            )
        };
        for id in 1..=3 {
            inbox
                .persist("a", "quickbooks", "1", delivery(id).as_bytes())
                .unwrap();
        }
        inbox
            .persist("b", "quickbooks", "2", delivery(9).as_bytes())
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let handler = Arc::new(move |item: InboxItem| {
            let s = s.clone();
            async move {
                let parsed = crate::webhooks::payload::parse(&item.body).unwrap();
                let ids: Vec<String> = parsed.events.into_iter().map(|e| e.id).collect();
                s.lock().unwrap().push((item.tenant.clone(), ids));
                if item.tenant == "b" {
                    anyhow::bail!("Salesforce is down");
                }
                Ok(())
            }
        });
        let report = drain_batch(&inbox, handler, 10, None).await.unwrap();
        // Tenant a's three deliveries are one run (one CDC pass in the component); b's its own.
        assert_eq!(
            *seen.lock().unwrap(),
            vec![
                (
                    "a".to_string(),
                    vec!["1".to_string(), "2".into(), "3".into()]
                ),
                ("b".to_string(), vec!["9".to_string()])
            ]
        );
        assert_eq!(
            (report.claimed, report.done.len(), report.failed.len()),
            (4, 3, 1)
        );
        let states: Vec<InboxState> = inbox
            .list(None)
            .unwrap()
            .into_iter()
            .map(|i| i.state)
            .collect();
        assert_eq!(
            states.iter().filter(|s| **s == InboxState::Done).count(),
            3,
            "{states:?}"
        );
    }

    #[test]
    fn bodies_that_cannot_merge_run_alone_and_a_big_backlog_is_split() {
        let item = |id: i64, tenant: &str, body: &[u8]| InboxItem {
            id,
            tenant: tenant.into(),
            source: "quickbooks".into(),
            realm: "1".into(),
            body: body.to_vec(),
            received: chrono::Utc::now(),
            state: InboxState::Pending,
            attempts: 1,
            last_error: None,
        };
        let legacy = br#"{"eventNotifications":[]}"#;
        let cloud = br#"[{"specversion":"1.0","id":"e","type":"qbo.payment.created.v1","intuitentityid":"5","intuitaccountid":"1","data":{}}]"#;
        let runs = coalesce(vec![
            item(1, "a", legacy),
            item(2, "a", cloud),
            item(3, "a", b"not json"),
        ]);
        assert_eq!(
            runs.iter().map(|(ids, _)| ids.clone()).collect::<Vec<_>>(),
            vec![vec![1], vec![2], vec![3]]
        );
        let big = vec![b' '; MAX_MERGED_BYTES / 2 + 1];
        let mut body = legacy.to_vec();
        body.extend(&big);
        let runs = coalesce(vec![
            item(1, "a", &body),
            item(2, "a", &body),
            item(3, "a", &body),
        ]);
        assert_eq!(runs.len(), 3, "no run carries more than MAX_MERGED_BYTES");
    }
}

//! Draining the inbox: each pending body goes to an [`InboxHandler`] (the daemon's calls the
//! component's `flows.on-webhook(source, body)` for the row's tenant). A handler error marks the
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
    let claim = inbox.clone();
    let items = tokio::task::spawn_blocking(move || claim.claim_pending(limit)).await??;
    let mut report = DrainReport {
        claimed: items.len(),
        ..DrainReport::default()
    };
    for item in items {
        let (id, tenant) = (item.id, item.tenant.clone());
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
        let mark = inbox.clone();
        let outcome_label = match outcome {
            Ok(()) => {
                tokio::task::spawn_blocking(move || mark.mark_done(id)).await??;
                report.done.push(id);
                "done"
            }
            Err(Ok(postpone)) => {
                tracing::info!(id, tenant = %tenant, until = %postpone.until, reason = %postpone.reason,
                    "webhook body postponed");
                tokio::task::spawn_blocking(move || {
                    mark.postpone(id, postpone.until, &postpone.reason)
                })
                .await??;
                report.postponed.push(id);
                "postponed"
            }
            Err(Err(reason)) => {
                tracing::warn!(id, tenant = %tenant, %reason, "webhook body failed");
                let r = reason.clone();
                tokio::task::spawn_blocking(move || mark.mark_failed(id, &r)).await??;
                report.failed.push((id, reason));
                "failed"
            }
        };
        if let Some(m) = metrics {
            m.inc(
                metrics::INBOX_HANDLED,
                &[("tenant", &tenant), ("outcome", outcome_label)],
            );
        }
    }
    Ok(report)
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
    tokio::pin!(shutdown);
    loop {
        // A batch in progress is finished (each row is marked) before shutdown is honoured.
        let drained = drain_batch(&inbox, handler.clone(), DEFAULT_BATCH, metrics.as_ref()).await;
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
}

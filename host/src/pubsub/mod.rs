//! Salesforce change events over the Pub/Sub API (gRPC, Avro payloads): the host subscribes for
//! each tenant that configures `[tenants.salesforce-events]`, and hands the decoded events to the
//! component's `on-webhook` (source `salesforce`). Polling (`poll-salesforce`, public REST) keeps
//! running underneath, so a stream that is down loses nothing.
//!
//! | file | holds |
//! |---|---|
//! | `client.rs` | the channel, the session metadata, `GetTopic` / `GetSchema` / `Subscribe` |
//! | `decode.rs` | Avro payload to JSON, header bitmaps to field names |
//! | `subscriber.rs` | one tenant's topic: flow control, replay ids, the gap pass, reconnects |
//! | `replays/` | the last handled replay id per tenant and topic, in the host's store (SQLite or PostgreSQL) |
//!
//! The daemon's [`Runner`] handles events as webhook runs (recorded in `job_runs`, failures in
//! the error ledger); [`Direct`] hands them straight to a component.

pub mod client;
pub mod decode;
pub mod replays;
pub mod subscriber;

/// The Pub/Sub API messages and client, generated from `proto/pubsub_api.proto`.
#[allow(clippy::all, missing_docs)]
pub mod proto {
    tonic::include_proto!("eventbus.v1");
}

use crate::flow_calls;
use crate::runtime::exports::ledgerlink::sync::flows::Outcome;
use crate::runtime::Runtime;
use crate::scheduler::runner::Runner;
use crate::tenant::TenantCaps;
use anyhow::{anyhow, Result};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The runner hands events to the component as a webhook run, and covers a gap with a
/// `poll-salesforce` run.
impl subscriber::Handler for Runner {
    fn events<'a>(
        &'a self,
        tenant: &'a str,
        body: String,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move { self.run_webhook(tenant, "salesforce", &body).await })
    }

    fn gap<'a>(&'a self, tenant: &'a str) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            self.run(tenant, "poll-salesforce", "{}", "pubsub-gap")
                .await?;
            Ok(())
        })
    }
}

/// Hands events straight to one tenant's component, without the daemon's `job_runs` and error
/// ledger: for hosts that embed the subscriber, the tests and the benchmarks. A batch with a
/// failed record is an error, so it is delivered again.
pub struct Direct {
    runtime: Runtime,
    tenant: TenantCaps,
    batches: AtomicUsize,
    gaps: AtomicUsize,
}

impl Direct {
    /// A handler for `tenant`'s component on `runtime`.
    pub fn new(runtime: Runtime, tenant: TenantCaps) -> Self {
        Self {
            runtime,
            tenant,
            batches: AtomicUsize::new(0),
            gaps: AtomicUsize::new(0),
        }
    }

    /// Event batches handed over so far.
    pub fn batches(&self) -> usize {
        self.batches.load(Ordering::SeqCst)
    }

    /// Gap passes run so far.
    pub fn gaps(&self) -> usize {
        self.gaps.load(Ordering::SeqCst)
    }
}

impl subscriber::Handler for Direct {
    fn events<'a>(
        &'a self,
        _tenant: &'a str,
        body: String,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            self.batches.fetch_add(1, Ordering::SeqCst);
            let answer =
                flow_calls::on_webhook(&self.runtime, &self.tenant, "salesforce", &body).await?;
            let report = answer.map_err(|e| anyhow!("on-webhook: {e:?}"))?;
            if report.failed > 0 {
                let failed: Vec<String> = report
                    .records
                    .iter()
                    .filter(|r| r.outcome == Outcome::Failed)
                    .map(|r| format!("{} {}: {}", r.entity, r.record_id, r.detail))
                    .collect();
                return Err(anyhow!(
                    "{} failed record(s): {}",
                    report.failed,
                    failed.join("; ")
                ));
            }
            Ok(())
        })
    }

    fn gap<'a>(
        &'a self,
        _tenant: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            self.gaps.fetch_add(1, Ordering::SeqCst);
            let answer =
                flow_calls::run_job(&self.runtime, &self.tenant, "poll-salesforce", "{}").await?;
            answer.map_err(|e| anyhow!("poll-salesforce: {e:?}"))?;
            Ok(())
        })
    }
}

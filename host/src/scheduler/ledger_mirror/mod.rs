//! The error ledger mirrored into Salesforce, for tenants with `mirror-errors = true`: one
//! `Ledgerlink_Sync_Error__c` record per ledger entry (source record, flow, code, message,
//! retryable, attempts, status, first and last seen), upserted by its external id
//! `Ledger_Id__c` (`<tenant>-<ledger id>`), so a person in Salesforce sees what did not sync and
//! sees it closed (`Resolved`) when a retry succeeds.
//!
//! After each run the tenant's entries changed since they were last mirrored are upserted (the
//! `error_mirror` table remembers what was sent). A tenant's passes never overlap: a run that
//! ends while a pass is under way asks that pass to go once more, so no entry is sent twice
//! at once and none is missed. Salesforce refusing or unreachable never blocks a sync: the
//! entry stays unmirrored and goes with the next pass.
//!
//! What was sent lives in the store (`MirrorStore`): `sqlite.rs` for the embedded file,
//! `postgres.rs` for a database shared by many hosts.

mod postgres;
mod sqlite;

use super::ledger::LedgerError;
use super::ErrorLedger;
use crate::caps::http::Connection;
use crate::db::{Backend, Database};
use anyhow::{Context, Result};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Where the `error_mirror` rows are kept: one implementation per backend.
pub(crate) trait MirrorStore: Send + Sync {
    /// What was last sent of each of `tenant`'s ledger entries, by ledger id.
    fn sent(&self, tenant: &str) -> Result<BTreeMap<i64, String>>;
    /// Remembers `fingerprint` as what was sent of entry `error_id`.
    fn mark(&self, error_id: i64, fingerprint: &str) -> Result<()>;
}

/// The custom object and its external id field.
pub const OBJECT: &str = "Ledgerlink_Sync_Error__c";
/// See [`OBJECT`].
pub const EXTERNAL_ID: &str = "Ledger_Id__c";
const API: &str = "/services/data/v61.0";

/// What a pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MirrorPass {
    /// Entries upserted.
    pub upserted: usize,
    /// Entries Salesforce did not take (left for the next pass), with why.
    pub failed: Vec<String>,
}

/// The mirror of every tenant that asked for it. Cloning shares it.
#[derive(Clone)]
pub struct LedgerMirror {
    store: Arc<dyn MirrorStore>,
    ledger: ErrorLedger,
    salesforce: BTreeMap<String, Connection>,
    http: reqwest::Client,
    /// Tenants with a pass under way, and whether another was asked for meanwhile.
    passes: Arc<Mutex<HashMap<String, bool>>>,
}

/// What a ledger entry looks like in Salesforce; also what is remembered as mirrored, so a
/// change to any of it is sent again.
fn record(e: &LedgerError) -> Value {
    let status = match e.state.as_str() {
        "resolved" => "Resolved",
        "dismissed" => "Dismissed",
        _ => "Open",
    };
    // Message__c is a long text area; a very long detail is cut at a character boundary.
    let message: String = e.detail.chars().take(32_000).collect();
    json!({
        "Name": format!("{} {}", e.entity, e.record_id).chars().take(80).collect::<String>(),
        "Source_Record__c": format!("{} {}", e.entity, e.record_id).chars().take(255).collect::<String>(),
        "Flow__c": e.job,
        "Code__c": e.code,
        "Message__c": message,
        "Retryable__c": e.retryable,
        "Attempts__c": e.attempts,
        "Status__c": status,
        "First_Seen__c": e.first_seen,
        "Last_Seen__c": e.last_seen,
    })
}

impl LedgerMirror {
    /// A mirror over `db`'s ledger into each tenant's `salesforce` connection.
    pub fn new(db: Database, salesforce: BTreeMap<String, Connection>) -> Result<Self> {
        let store: Arc<dyn MirrorStore> = match db.backend() {
            Backend::Sqlite(db) => Arc::new(sqlite::SqliteMirror::new(db.clone())),
            Backend::Postgres(db) => Arc::new(postgres::PostgresMirror::new(db.clone())),
        };
        Ok(Self {
            ledger: ErrorLedger::new(db)?,
            store,
            salesforce,
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .build()?,
            passes: Arc::default(),
        })
    }

    /// Whether `tenant` is mirrored.
    pub fn mirrors(&self, tenant: &str) -> bool {
        self.salesforce.contains_key(tenant)
    }

    /// Starts a pass for `tenant` in the background, unless one is under way: that one then
    /// goes once more when it ends.
    pub fn request(&self, tenant: &str) {
        if !self.mirrors(tenant) {
            return;
        }
        {
            let mut passes = self.passes.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(again) = passes.get_mut(tenant) {
                *again = true;
                return;
            }
            passes.insert(tenant.to_string(), false);
        }
        let (mirror, tenant) = (self.clone(), tenant.to_string());
        tokio::spawn(async move {
            loop {
                if let Err(e) = mirror.sync(&tenant).await {
                    tracing::warn!(tenant = %tenant, error = %format!("{e:#}"), "the error mirror pass failed");
                }
                let mut passes = mirror.passes.lock().unwrap_or_else(|p| p.into_inner());
                if passes.get(&tenant) == Some(&true) {
                    passes.insert(tenant.clone(), false);
                    continue;
                }
                passes.remove(&tenant);
                return;
            }
        });
    }

    /// Upserts `tenant`'s entries changed since they were last mirrored.
    pub async fn sync(&self, tenant: &str) -> Result<MirrorPass> {
        let mut pass = MirrorPass::default();
        let Some(connection) = self.salesforce.get(tenant) else {
            return Ok(pass);
        };
        let sent = self.store.sent(tenant)?;
        for entry in self.ledger.list(Some(tenant), None)? {
            let body = record(&entry);
            let fingerprint = body.to_string();
            if sent.get(&entry.id) == Some(&fingerprint) {
                continue;
            }
            match self.upsert(connection, tenant, entry.id, &body).await {
                Ok(()) => {
                    self.store.mark(entry.id, &fingerprint)?;
                    pass.upserted += 1;
                }
                Err(e) => {
                    let why = format!("{e:#}");
                    tracing::warn!(tenant, error_id = entry.id, error = %why,
                        "mirroring an error into Salesforce failed; it goes with the next pass");
                    pass.failed.push(why);
                }
            }
        }
        Ok(pass)
    }

    async fn upsert(
        &self,
        connection: &Connection,
        tenant: &str,
        id: i64,
        body: &Value,
    ) -> Result<()> {
        let base = connection.base_url.as_str().trim_end_matches('/');
        let url = format!("{base}{API}/sobjects/{OBJECT}/{EXTERNAL_ID}/{tenant}-{id}");
        let mut request = self.http.patch(&url).json(body);
        if let Some(credential) = &connection.credential {
            if let Some(token) = credential.bearer().await? {
                request = request.bearer_auth(token);
            }
        }
        let response = request.send().await.context("Salesforce unreachable")?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        anyhow::bail!(
            "Salesforce answered {status}: {}",
            text.chars().take(300).collect::<String>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::each_backend;
    use crate::runtime::exports::ledgerlink::sync::flows::{Outcome, RecordOutcome, RunReport};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Runs ending while a pass is under way do not start passes of their own: the Salesforce
    /// record of one changed entry is sent once, not once per run.
    #[test]
    fn requests_during_a_pass_make_one_more_pass_not_one_each() {
        each_backend("mirror_passes", |db| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(one_more_pass_not_one_each(db))
        });
    }

    async fn one_more_pass_not_one_each(db: Database) {
        let patches = Arc::new(AtomicUsize::new(0));
        let counted = patches.clone();
        let app = axum::Router::new().fallback(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                // A slow Salesforce: every request below comes while this pass is under way.
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                axum::http::StatusCode::NO_CONTENT
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });

        let failed = RecordOutcome {
            entity: "Opportunity".into(),
            record_id: "006A".into(),
            outcome: Outcome::Failed,
            target_id: None,
            detail: "no lines".into(),
            code: Some("mapping".into()),
            retryable: false,
        };
        let report = RunReport {
            job: "sync-invoices".into(),
            records: vec![failed],
            created: 0,
            updated: 0,
            skipped: 0,
            failed: 1,
        };
        ErrorLedger::new(db.clone())
            .unwrap()
            .record("acme", "sync-invoices", &report, chrono::Utc::now())
            .unwrap();
        let connection = Connection::new(url.parse().unwrap(), None);
        let mirror = LedgerMirror::new(db, BTreeMap::from([("acme".into(), connection)])).unwrap();
        for _ in 0..5 {
            mirror.request("acme");
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !mirror.passes.lock().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the passes never ended"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(patches.load(Ordering::SeqCst), 1);
        // Nothing changed since: a pass sends nothing.
        assert_eq!(mirror.sync("acme").await.unwrap().upserted, 0);
        assert_eq!(patches.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_entry_reads_as_the_object_with_its_status() {
        let e = LedgerError {
            id: 7,
            tenant: "acme".into(),
            job: "sync-invoices".into(),
            entity: "Opportunity".into(),
            record_id: "006A".into(),
            code: Some("mapping".into()),
            detail: "no lines".into(),
            retryable: false,
            attempts: 2,
            first_seen: "2026-12-01T00:00:00Z".into(),
            last_seen: "2026-12-02T00:00:00Z".into(),
            next_retry: None,
            state: "resolved".into(),
        };
        let r = record(&e);
        assert_eq!(r["Status__c"], "Resolved");
        assert_eq!(r["Source_Record__c"], "Opportunity 006A");
        assert_eq!(r["Attempts__c"], 2);
        assert_eq!(r["Flow__c"], "sync-invoices");
    }
}

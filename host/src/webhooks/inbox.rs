//! The durable inbox: verified webhook bodies, written to the host's SQLite store before the
//! sender gets its 200, then drained by the [`worker`](super::worker).
//!
//! | column | meaning |
//! |---|---|
//! | `id` | row id (increasing) |
//! | `tenant` | the tenant the body was routed to |
//! | `source` | the sender, e.g. `quickbooks` |
//! | `realm` | the QBO company the body is about |
//! | `body` | the verified body (the raw bytes when the delivery named one realm) |
//! | `body_hash` | SHA-256 of the body; `(tenant, source, body_hash)` is unique, so a redelivered body is stored once |
//! | `received` | RFC 3339 time of the first delivery |
//! | `state` | `pending`, `done` or `failed` |
//! | `attempts` | how many times a worker claimed it |
//! | `last_error` | the reason of the last failure |
//! | `claimed_until` | lease of the worker that holds it; a pending row whose lease ran out (the worker crashed) is claimed again |
//!
//! Every write is one committed SQLite transaction; the store runs in WAL mode with
//! `synchronous=NORMAL`, which keeps committed rows across a killed process. Storing a body
//! (before the 200) is `synchronous=FULL`, so an acknowledged webhook survives power loss too.

use crate::db::Database;
use anyhow::{Context, Result};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use rusqlite::{params, OptionalExtension};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS webhook_inbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant        TEXT NOT NULL,
    source        TEXT NOT NULL,
    realm         TEXT NOT NULL,
    body          BLOB NOT NULL,
    body_hash     TEXT NOT NULL,
    received      TEXT NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending',
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    claimed_until TEXT,
    UNIQUE (tenant, source, body_hash)
);
CREATE INDEX IF NOT EXISTS webhook_inbox_pending ON webhook_inbox (state, id);
";

/// How long a claim holds a row before another worker may take it (a crashed worker's rows).
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(300);

/// Where a row is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboxState {
    /// Stored, not yet handled.
    Pending,
    /// Handled.
    Done,
    /// The handler failed; `last_error` says why.
    Failed,
}

impl InboxState {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxState::Pending => "pending",
            InboxState::Done => "done",
            InboxState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "done" => InboxState::Done,
            "failed" => InboxState::Failed,
            _ => InboxState::Pending,
        }
    }
}

/// One stored body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboxItem {
    /// Row id.
    pub id: i64,
    /// Tenant.
    pub tenant: String,
    /// Sender (`quickbooks`).
    pub source: String,
    /// Realm id.
    pub realm: String,
    /// The verified body.
    pub body: Vec<u8>,
    /// When it first arrived.
    pub received: DateTime<Utc>,
    /// State.
    pub state: InboxState,
    /// Claims so far (including the current one for a claimed row).
    pub attempts: u32,
    /// Reason of the last failure.
    pub last_error: Option<String>,
}

/// What [`Inbox::persist`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persisted {
    /// The row holding the body.
    pub id: i64,
    /// True when the same body was already stored for this tenant (nothing new was written).
    pub duplicate: bool,
}

/// The inbox table over the host's store. Cloning shares the store.
#[derive(Clone)]
pub struct Inbox {
    db: Database,
    lease: Duration,
}

fn now_text(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The hex SHA-256 of a body (the de-duplication key).
pub fn body_hash(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const COLUMNS: &str = "id, tenant, source, realm, body, received, state, attempts, last_error";

fn item(row: &rusqlite::Row<'_>) -> rusqlite::Result<InboxItem> {
    let received: String = row.get(5)?;
    let state: String = row.get(6)?;
    Ok(InboxItem {
        id: row.get(0)?,
        tenant: row.get(1)?,
        source: row.get(2)?,
        realm: row.get(3)?,
        body: row.get(4)?,
        received: DateTime::parse_from_rfc3339(&received)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default(),
        state: InboxState::parse(&state),
        attempts: row.get(7)?,
        last_error: row.get(8)?,
    })
}

impl Inbox {
    /// The inbox in `db`, creating its table if needed.
    pub fn new(db: Database) -> Result<Self> {
        db.lock()
            .execute_batch(SCHEMA)
            .context("creating the webhook inbox table")?;
        Ok(Self {
            db,
            lease: Duration::from_std(DEFAULT_LEASE).unwrap_or(Duration::minutes(5)),
        })
    }

    /// The same inbox with another claim lease.
    pub fn with_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = Duration::from_std(lease).unwrap_or(self.lease);
        self
    }

    /// Stores a verified body; a body already stored for this tenant and source is not stored
    /// again. Returns once the row is committed.
    pub fn persist(
        &self,
        tenant: &str,
        source: &str,
        realm: &str,
        body: &[u8],
    ) -> Result<Persisted> {
        let hash = body_hash(body);
        // Answered 200 right after this: Intuit will not send it again, so it must survive
        // power loss.
        let conn = self.db.lock_durable()?;
        let inserted = conn
            .execute(
                "INSERT INTO webhook_inbox (tenant, source, realm, body, body_hash, received)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (tenant, source, body_hash) DO NOTHING",
                params![tenant, source, realm, body, hash, now_text(Utc::now())],
            )
            .context("storing a webhook body")?;
        let id: i64 = conn
            .query_row(
                "SELECT id FROM webhook_inbox WHERE tenant = ?1 AND source = ?2 AND body_hash = ?3",
                params![tenant, source, hash],
                |r| r.get(0),
            )
            .context("reading back a stored webhook body")?;
        Ok(Persisted {
            id,
            duplicate: inserted == 0,
        })
    }

    /// Takes up to `limit` pending rows that no live claim holds, the tenants taking turns
    /// (oldest first within a tenant); each gets a lease and one more attempt. A row stays `pending` until [`mark_done`](Self::mark_done)
    /// or [`mark_failed`](Self::mark_failed), so a crash between claim and mark loses nothing.
    pub fn claim_pending(&self, limit: usize) -> Result<Vec<InboxItem>> {
        self.claim_pending_at(limit, Utc::now())
    }

    fn claim_pending_at(&self, limit: usize, now: DateTime<Utc>) -> Result<Vec<InboxItem>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.db.lock();
        let tx = conn.transaction()?;
        let items = {
            // Tenants take turns (each one's oldest row, then each one's second, ...), so a
            // flood of one tenant's webhooks cannot hold another's back; within a tenant,
            // rows keep their arrival order.
            let mut stmt = tx.prepare(&format!(
                "SELECT {COLUMNS} FROM (
                     SELECT *, ROW_NUMBER() OVER (PARTITION BY tenant ORDER BY id) AS turn
                     FROM webhook_inbox
                     WHERE state = 'pending' AND (claimed_until IS NULL OR claimed_until < ?1))
                 ORDER BY turn, id LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![now_text(now), limit], item)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        let until = now_text(now + self.lease);
        for it in &items {
            tx.execute(
                "UPDATE webhook_inbox SET claimed_until = ?1, attempts = attempts + 1 WHERE id = ?2",
                params![until, it.id],
            )?;
        }
        tx.commit().context("claiming webhook bodies")?;
        Ok(items
            .into_iter()
            .map(|mut it| {
                it.attempts += 1;
                it
            })
            .collect())
    }

    /// Marks a row handled.
    pub fn mark_done(&self, id: i64) -> Result<()> {
        self.db
            .lock()
            .execute(
                "UPDATE webhook_inbox SET state = 'done', claimed_until = NULL, last_error = NULL WHERE id = ?1",
                params![id],
            )
            .context("marking a webhook body done")?;
        Ok(())
    }

    /// Marks a row failed with `reason`.
    pub fn mark_failed(&self, id: i64, reason: &str) -> Result<()> {
        self.db
            .lock()
            .execute(
                "UPDATE webhook_inbox SET state = 'failed', claimed_until = NULL, last_error = ?2 WHERE id = ?1",
                params![id, reason],
            )
            .context("marking a webhook body failed")?;
        Ok(())
    }

    /// Leaves a claimed row pending but not claimable before `until` (the component answered
    /// `throttled(until)`), noting `reason`.
    pub fn postpone(&self, id: i64, until: DateTime<Utc>, reason: &str) -> Result<()> {
        self.db
            .lock()
            .execute(
                "UPDATE webhook_inbox SET claimed_until = ?2, last_error = ?3 WHERE id = ?1 AND state = 'pending'",
                params![id, now_text(until), reason],
            )
            .context("postponing a webhook body")?;
        Ok(())
    }

    /// Puts a failed row back to pending (a replay after the cause was fixed); false when the
    /// row is not failed.
    pub fn requeue(&self, id: i64) -> Result<bool> {
        let n = self.db.lock().execute(
            "UPDATE webhook_inbox SET state = 'pending', claimed_until = NULL WHERE id = ?1 AND state = 'failed'",
            params![id],
        )?;
        Ok(n == 1)
    }

    /// One row.
    pub fn get(&self, id: i64) -> Result<Option<InboxItem>> {
        Ok(self
            .db
            .lock()
            .query_row(
                &format!("SELECT {COLUMNS} FROM webhook_inbox WHERE id = ?1"),
                params![id],
                item,
            )
            .optional()?)
    }

    /// Rows of `tenant` (all tenants when None), oldest first.
    pub fn list(&self, tenant: Option<&str>) -> Result<Vec<InboxItem>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM webhook_inbox WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![tenant], item)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Pending rows per tenant (tenants with none are absent).
    pub fn depth(&self) -> Result<BTreeMap<String, u64>> {
        self.count_by_tenant(InboxState::Pending)
    }

    /// Rows in `state` per tenant.
    pub fn count_by_tenant(&self, state: InboxState) -> Result<BTreeMap<String, u64>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT tenant, COUNT(*) FROM webhook_inbox WHERE state = ?1 GROUP BY tenant",
        )?;
        let rows = stmt.query_map(params![state.as_str()], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
        })?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (tenant, n) = row?;
            out.insert(tenant, u64::try_from(n).unwrap_or(0));
        }
        Ok(out)
    }

    /// Pending rows of one tenant.
    pub fn depth_of(&self, tenant: &str) -> Result<u64> {
        let n: i64 = self.db.lock().query_row(
            "SELECT COUNT(*) FROM webhook_inbox WHERE state = 'pending' AND tenant = ?1",
            params![tenant],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbox() -> Inbox {
        Inbox::new(Database::in_memory().unwrap()).unwrap()
    }

    #[test]
    fn a_postponed_row_stays_pending_and_is_claimed_again_after_its_time() {
        let inbox = inbox();
        let id = inbox.persist("t", "quickbooks", "r", b"x").unwrap().id;
        let now = Utc::now();
        assert_eq!(inbox.claim_pending_at(10, now).unwrap().len(), 1);
        inbox
            .postpone(id, now + chrono::Duration::minutes(10), "throttled")
            .unwrap();
        assert_eq!(inbox.depth_of("t").unwrap(), 1);
        let later = now + chrono::Duration::minutes(6);
        assert!(
            inbox.claim_pending_at(10, later).unwrap().is_empty(),
            "not before its time"
        );
        let again = inbox
            .claim_pending_at(10, now + chrono::Duration::minutes(11))
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].last_error.as_deref(), Some("throttled"));
    }

    #[test]
    fn tenants_take_turns_so_a_flood_of_one_holds_no_other_back() {
        let inbox = inbox();
        for i in 0..10 {
            inbox
                .persist("busy", "quickbooks", "r1", format!("{i}").as_bytes())
                .unwrap();
        }
        inbox.persist("quiet", "quickbooks", "r2", b"a").unwrap();
        inbox.persist("quiet", "quickbooks", "r2", b"b").unwrap();
        let claimed = inbox.claim_pending_at(4, Utc::now()).unwrap();
        let order: Vec<(&str, &[u8])> = claimed
            .iter()
            .map(|i| (i.tenant.as_str(), i.body.as_slice()))
            .collect();
        assert_eq!(
            order,
            [
                ("busy", b"0".as_slice()),
                ("quiet", b"a".as_slice()),
                ("busy", b"1".as_slice()),
                ("quiet", b"b".as_slice())
            ]
        );
    }

    #[test]
    fn the_same_body_is_stored_once_per_tenant() {
        let inbox = inbox();
        let a = inbox.persist("t1", "quickbooks", "r1", b"{}").unwrap();
        let b = inbox.persist("t1", "quickbooks", "r1", b"{}").unwrap();
        assert_eq!(
            a,
            Persisted {
                id: a.id,
                duplicate: false
            }
        );
        assert_eq!(
            b,
            Persisted {
                id: a.id,
                duplicate: true
            }
        );
        let c = inbox.persist("t2", "quickbooks", "r2", b"{}").unwrap();
        assert!(!c.duplicate);
        assert_eq!(inbox.depth().unwrap().get("t1"), Some(&1));
        assert_eq!(inbox.depth_of("t2").unwrap(), 1);
    }

    #[test]
    fn claimed_rows_are_not_claimed_twice_until_the_lease_runs_out() {
        let inbox = inbox().with_lease(std::time::Duration::from_secs(60));
        inbox.persist("t", "quickbooks", "r", b"1").unwrap();
        inbox.persist("t", "quickbooks", "r", b"2").unwrap();
        let now = Utc::now();
        let first = inbox.claim_pending_at(10, now).unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].attempts, 1);
        assert!(inbox.claim_pending_at(10, now).unwrap().is_empty());
        // The worker died: after the lease the rows come back, one attempt more.
        let again = inbox
            .claim_pending_at(1, now + Duration::seconds(61))
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].body, b"1");
        assert_eq!(again[0].attempts, 2);
    }

    #[test]
    fn done_and_failed_rows_leave_the_depth() {
        let inbox = inbox();
        let a = inbox.persist("t", "quickbooks", "r", b"a").unwrap().id;
        let b = inbox.persist("t", "quickbooks", "r", b"b").unwrap().id;
        inbox.claim_pending(10).unwrap();
        inbox.mark_done(a).unwrap();
        inbox
            .mark_failed(b, "Invoice 7: CustomerRef missing")
            .unwrap();
        assert_eq!(inbox.depth_of("t").unwrap(), 0);
        let failed = inbox.get(b).unwrap().unwrap();
        assert_eq!(failed.state, InboxState::Failed);
        assert_eq!(
            failed.last_error.as_deref(),
            Some("Invoice 7: CustomerRef missing")
        );
        assert!(inbox.requeue(b).unwrap());
        assert!(!inbox.requeue(a).unwrap());
        assert_eq!(inbox.claim_pending(10).unwrap()[0].id, b);
    }
}

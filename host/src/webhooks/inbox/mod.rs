//! The durable inbox: verified webhook bodies, written to the host's store (SQLite or
//! PostgreSQL) before the sender gets its 200, then drained by the [`worker`](super::worker).
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
//! | file | holds |
//! |---|---|
//! | `mod.rs` | the types, the lease, the de-duplication key, `InboxStore` |
//! | `sqlite.rs` | the table in the embedded SQLite file |
//! | `postgres.rs` | the table in a PostgreSQL database shared by many hosts |
//!
//! Every write is committed before its call returns. Storing a body (before the 200) is durable
//! on both backends, so an acknowledged webhook survives power loss: SQLite at
//! `synchronous=FULL`, PostgreSQL at its commit (`synchronous_commit = on` for that transaction,
//! whatever the server's default). A claim is one transaction: on SQLite under the one
//! connection's lock, on PostgreSQL with row locks taken by `FOR UPDATE SKIP LOCKED`, so hosts
//! draining one database never claim the same row.

use crate::db::{Backend, Database};
use anyhow::Result;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

mod postgres;
mod sqlite;

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

/// The inbox over the host's store. Cloning shares the store.
#[derive(Clone)]
pub struct Inbox {
    store: Arc<dyn InboxStore>,
    lease: Duration,
    /// With hosts sharing the store: the tenants this host serves, the only ones it claims.
    serving: Option<crate::cluster::Ownership>,
}

/// The inbox table of one backend. Times are RFC 3339 text at microseconds ([`now_text`]), so
/// text order is time order.
pub(crate) trait InboxStore: Send + Sync {
    /// Inserts a body unless `(tenant, source, hash)` is stored; committed (durably) before it
    /// returns.
    fn persist(&self, new: NewBody<'_>) -> Result<Persisted>;

    /// Takes up to `limit` rows that are pending and not claimed past `now`, in claim order
    /// (tenants taking turns, then row id); sets their `claimed_until` to `until` and counts an
    /// attempt. The returned items count the attempt too.
    fn claim(
        &self,
        limit: i64,
        now: &str,
        until: &str,
        tenants: Option<&[String]>,
    ) -> Result<Vec<InboxItem>>;

    /// Sets a row `done` (clearing its claim and error).
    fn mark_done(&self, id: i64) -> Result<()>;

    /// Sets a row `failed` with `reason` (clearing its claim).
    fn mark_failed(&self, id: i64, reason: &str) -> Result<()>;

    /// Sets a pending row's claim to `until`, noting `reason`.
    fn postpone(&self, id: i64, until: &str, reason: &str) -> Result<()>;

    /// A failed row back to pending; false when the row is not failed.
    fn requeue(&self, id: i64) -> Result<bool>;

    /// One row.
    fn get(&self, id: i64) -> Result<Option<InboxItem>>;

    /// Rows of `tenant` (all when None), by id.
    fn list(&self, tenant: Option<&str>) -> Result<Vec<InboxItem>>;

    /// Rows in `state` per tenant.
    fn count_by_tenant(&self, state: InboxState) -> Result<BTreeMap<String, u64>>;

    /// Pending rows of one tenant.
    fn depth_of(&self, tenant: &str) -> Result<u64>;
}

/// A body to store.
pub(crate) struct NewBody<'a> {
    pub tenant: &'a str,
    pub source: &'a str,
    pub realm: &'a str,
    pub body: &'a [u8],
    /// [`body_hash`] of the body.
    pub hash: String,
    /// When it arrived ([`now_text`]).
    pub received: String,
}

/// A time as the inbox stores it (fixed width, so text order is time order).
fn now_text(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A stored `received` time; an unreadable one is the epoch rather than an error.
fn parse_received(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The hex SHA-256 of a body (the de-duplication key).
pub fn body_hash(body: &[u8]) -> String {
    Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The columns an [`InboxItem`] is read from, in this order on both backends.
const COLUMNS: &str = "id, tenant, source, realm, body, received, state, attempts, last_error";

impl Inbox {
    /// The inbox in `db` (its table comes with the store's migrations).
    pub fn new(db: Database) -> Result<Self> {
        let store: Arc<dyn InboxStore> = match db.backend() {
            Backend::Sqlite(db) => Arc::new(sqlite::SqliteInbox::new(db.clone())),
            Backend::Postgres(db) => Arc::new(postgres::PostgresInbox::new(db.clone())),
        };
        Ok(Self {
            store,
            lease: Duration::from_std(DEFAULT_LEASE).unwrap_or(Duration::minutes(5)),
            serving: None,
        })
    }

    /// The same inbox with another claim lease.
    pub fn with_lease(mut self, lease: std::time::Duration) -> Self {
        self.lease = Duration::from_std(lease).unwrap_or(self.lease);
        self
    }

    /// The same inbox claiming only the rows of the tenants `ownership` holds (any host still
    /// stores any tenant's bodies).
    pub fn serving(mut self, ownership: crate::cluster::Ownership) -> Self {
        self.serving = Some(ownership);
        self
    }

    /// Stores a verified body; a body already stored for this tenant and source is not stored
    /// again. Returns once the row is committed, durably: it is answered 200 right after this,
    /// and Intuit will not send it again.
    pub fn persist(
        &self,
        tenant: &str,
        source: &str,
        realm: &str,
        body: &[u8],
    ) -> Result<Persisted> {
        self.store.persist(NewBody {
            tenant,
            source,
            realm,
            body,
            hash: body_hash(body),
            received: now_text(Utc::now()),
        })
    }

    /// Takes up to `limit` pending rows that no live claim holds, the tenants taking turns
    /// (oldest first within a tenant); each gets a lease and one more attempt. A row stays `pending` until [`mark_done`](Self::mark_done)
    /// or [`mark_failed`](Self::mark_failed), so a crash between claim and mark loses nothing.
    /// Hosts sharing a PostgreSQL store never claim the same row while its lease holds.
    pub fn claim_pending(&self, limit: usize) -> Result<Vec<InboxItem>> {
        self.claim_pending_at(limit, Utc::now())
    }

    fn claim_pending_at(&self, limit: usize, now: DateTime<Utc>) -> Result<Vec<InboxItem>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let tenants = self.serving.as_ref().map(|o| o.owned());
        if tenants.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        self.store.claim(
            limit,
            &now_text(now),
            &now_text(now + self.lease),
            tenants.as_deref(),
        )
    }

    /// Marks a row handled.
    pub fn mark_done(&self, id: i64) -> Result<()> {
        self.store.mark_done(id)
    }

    /// Marks a row failed with `reason`.
    pub fn mark_failed(&self, id: i64, reason: &str) -> Result<()> {
        self.store.mark_failed(id, reason)
    }

    /// Leaves a claimed row pending but not claimable before `until` (the component answered
    /// `throttled(until)`), noting `reason`.
    pub fn postpone(&self, id: i64, until: DateTime<Utc>, reason: &str) -> Result<()> {
        self.store.postpone(id, &now_text(until), reason)
    }

    /// Puts a failed row back to pending (a replay after the cause was fixed); false when the
    /// row is not failed.
    pub fn requeue(&self, id: i64) -> Result<bool> {
        self.store.requeue(id)
    }

    /// One row.
    pub fn get(&self, id: i64) -> Result<Option<InboxItem>> {
        self.store.get(id)
    }

    /// Rows of `tenant` (all tenants when None), oldest first.
    pub fn list(&self, tenant: Option<&str>) -> Result<Vec<InboxItem>> {
        self.store.list(tenant)
    }

    /// Pending rows per tenant (tenants with none are absent).
    pub fn depth(&self) -> Result<BTreeMap<String, u64>> {
        self.count_by_tenant(InboxState::Pending)
    }

    /// Rows in `state` per tenant.
    pub fn count_by_tenant(&self, state: InboxState) -> Result<BTreeMap<String, u64>> {
        self.store.count_by_tenant(state)
    }

    /// Pending rows of one tenant.
    pub fn depth_of(&self, tenant: &str) -> Result<u64> {
        self.store.depth_of(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::each_backend;

    #[test]
    fn a_postponed_row_stays_pending_and_is_claimed_again_after_its_time() {
        each_backend("inbox_postponed", |db| {
            let inbox = Inbox::new(db).unwrap();
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
        });
    }

    #[test]
    fn tenants_take_turns_so_a_flood_of_one_holds_no_other_back() {
        each_backend("inbox_turns", |db| {
            let inbox = Inbox::new(db).unwrap();
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
        });
    }

    #[test]
    fn the_same_body_is_stored_once_per_tenant() {
        each_backend("inbox_once", |db| {
            let inbox = Inbox::new(db).unwrap();
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
        });
    }

    #[test]
    fn claimed_rows_are_not_claimed_twice_until_the_lease_runs_out() {
        each_backend("inbox_lease", |db| {
            let inbox = Inbox::new(db)
                .unwrap()
                .with_lease(std::time::Duration::from_secs(60));
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
        });
    }

    #[test]
    fn done_and_failed_rows_leave_the_depth() {
        each_backend("inbox_done_failed", |db| {
            let inbox = Inbox::new(db).unwrap();
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
        });
    }

    #[test]
    fn rows_are_listed_and_counted_as_stored() {
        each_backend("inbox_listing", |db| {
            let inbox = Inbox::new(db).unwrap();
            let before = Utc::now() - Duration::seconds(1);
            let a = inbox.persist("t1", "quickbooks", "r1", b"a").unwrap().id;
            let b = inbox
                .persist("t2", "quickbooks", "r2", b"\x00\xff")
                .unwrap()
                .id;
            let c = inbox.persist("t1", "quickbooks", "r1", b"c").unwrap().id;
            inbox.mark_failed(c, "no").unwrap();
            let all = inbox.list(None).unwrap();
            assert_eq!(all.iter().map(|i| i.id).collect::<Vec<_>>(), [a, b, c]);
            let second = &all[1];
            assert_eq!(
                (
                    second.tenant.as_str(),
                    second.source.as_str(),
                    second.realm.as_str()
                ),
                ("t2", "quickbooks", "r2")
            );
            assert_eq!(second.body, b"\x00\xff");
            assert_eq!(second.state, InboxState::Pending);
            assert_eq!(second.attempts, 0);
            assert!(second.received >= before && second.received <= Utc::now());
            assert_eq!(
                inbox
                    .list(Some("t1"))
                    .unwrap()
                    .iter()
                    .map(|i| i.id)
                    .collect::<Vec<_>>(),
                [a, c]
            );
            assert_eq!(
                inbox.count_by_tenant(InboxState::Failed).unwrap(),
                BTreeMap::from([("t1".to_string(), 1)])
            );
            assert_eq!(
                inbox.depth().unwrap(),
                BTreeMap::from([("t1".to_string(), 1), ("t2".to_string(), 1)])
            );
            assert_eq!(inbox.get(c + 100).unwrap(), None);
        });
    }
}

//! The guests' buckets of a host that shares its store with other hosts: a write or a removal
//! goes through only while this host still holds the tenant under the fencing token it has
//! ([`crate::cluster`]). A host that lost a tenant (paused past its lease, cut off from the
//! store) and wakes mid-run cannot overwrite what the tenant's new host wrote since: its links
//! and cursors stay the new host's. Reads are not fenced; they change nothing.
//!
//! Until the daemon sets the host's ownership (one-shot commands never do), writes go through
//! unfenced, as on a single host.

use super::{Fence, KeyValueBackend};
use anyhow::{bail, Result};
use std::sync::{Arc, OnceLock};

/// Where a host's fencing tokens come from: its holds on tenants ([`crate::cluster::Ownership`]).
pub trait Fences: Send + Sync {
    /// The host's id.
    fn host(&self) -> &str;
    /// The fencing token of the host's hold on `tenant`, if it holds it.
    fn token(&self, tenant: &str) -> Option<i64>;
}

/// The host's fences, once the daemon has them; shared by every tenant's buckets.
pub type OwnershipSlot = Arc<OnceLock<Arc<dyn Fences>>>;

/// `inner`, with its writes fenced by the ownership in `slot`.
pub struct Fenced {
    inner: Arc<dyn KeyValueBackend>,
    slot: OwnershipSlot,
}

impl Fenced {
    /// Fences `inner`'s writes with the ownership `slot` will hold.
    pub fn new(inner: Arc<dyn KeyValueBackend>, slot: OwnershipSlot) -> Self {
        Self { inner, slot }
    }

    /// The fence of `tenant`'s hold; `None` when no ownership is set (unfenced).
    fn fence(&self, tenant: &str) -> Result<Option<Fence>> {
        let Some(ownership) = self.slot.get() else {
            return Ok(None);
        };
        match ownership.token(tenant) {
            Some(token) => Ok(Some(Fence {
                host: ownership.host().to_string(),
                token,
            })),
            None => bail!(
                "tenant {tenant} is not served by host {} now; nothing written",
                ownership.host()
            ),
        }
    }
}

fn moved(tenant: &str, fence: &Fence) -> anyhow::Error {
    anyhow::anyhow!(
        "tenant {tenant} is served by another host now (host {}'s fencing token {} is no longer \
         current); nothing written",
        fence.host,
        fence.token
    )
}

impl KeyValueBackend for Fenced {
    fn get(&self, tenant: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get(tenant, bucket, key)
    }

    fn set(&self, tenant: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        match self.fence(tenant)? {
            None => self.inner.set(tenant, bucket, key, value),
            Some(fence) if self.inner.set_fenced(tenant, bucket, key, value, &fence)? => Ok(()),
            Some(fence) => Err(moved(tenant, &fence)),
        }
    }

    fn delete(&self, tenant: &str, bucket: &str, key: &str) -> Result<()> {
        match self.fence(tenant)? {
            None => self.inner.delete(tenant, bucket, key),
            Some(fence) if self.inner.delete_fenced(tenant, bucket, key, &fence)? => Ok(()),
            Some(fence) => Err(moved(tenant, &fence)),
        }
    }

    fn exists(&self, tenant: &str, bucket: &str, key: &str) -> Result<bool> {
        self.inner.exists(tenant, bucket, key)
    }

    fn list_keys(
        &self,
        tenant: &str,
        bucket: &str,
        cursor: u64,
    ) -> Result<(Vec<String>, Option<u64>)> {
        self.inner.list_keys(tenant, bucket, cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::storage::backend_for;
    use crate::cluster::Ownership;
    use crate::db::testing::each_backend;
    use chrono::{Duration, Utc};

    #[test]
    fn a_host_that_lost_the_tenant_writes_nothing_and_the_new_holder_does() {
        each_backend("fenced_writes", |db| {
            let tenants = vec!["acme".to_string()];
            let lease = std::time::Duration::from_secs(15);
            let a = Ownership::new(&db, "a:1", tenants.clone(), lease);
            let b = Ownership::new(&db, "b:1", tenants, lease);
            let (slot_a, slot_b): (OwnershipSlot, OwnershipSlot) = (Arc::default(), Arc::default());
            let kv_a = Fenced::new(backend_for(&db), slot_a.clone());
            let kv_b = Fenced::new(backend_for(&db), slot_b.clone());
            // Unfenced until the ownership is set.
            kv_a.set("acme", "links", "k", b"before").unwrap();
            let _ = slot_a.set(Arc::new(a.clone()));
            let _ = slot_b.set(Arc::new(b.clone()));
            // a holds acme: its writes go through; b's are refused.
            let t0 = Utc::now();
            a.round(t0).unwrap();
            kv_a.set("acme", "links", "k", b"a wrote").unwrap();
            let err = kv_b.set("acme", "links", "k", b"b wrote").unwrap_err();
            assert!(err.to_string().contains("not served by host b:1"), "{err}");
            // a's hold runs out (a paused), b takes acme over under a new fence...
            b.round(t0 + Duration::seconds(16)).unwrap();
            assert!(b.owns("acme"));
            kv_b.set("acme", "links", "k", b"b wrote").unwrap();
            // ...and a, waking with its old fence, can neither write nor remove.
            assert!(a.owns("acme"), "a has not noticed yet");
            let err = kv_a.set("acme", "links", "k", b"stale").unwrap_err();
            assert!(err.to_string().contains("no longer current"), "{err}");
            assert!(kv_a.delete("acme", "links", "k").is_err());
            assert_eq!(kv_a.get("acme", "links", "k").unwrap().unwrap(), b"b wrote");
            kv_b.delete("acme", "links", "k").unwrap();
            assert!(!kv_b.exists("acme", "links", "k").unwrap());
        });
    }
}

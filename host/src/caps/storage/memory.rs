//! An in-memory key-value backend (tests, one-shot `ledgerlink call`).

use super::{KeyValueBackend, LIST_PAGE};
use anyhow::Result;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Key-value state in a map; lost when the process ends.
#[derive(Default)]
pub struct MemoryBackend {
    map: Mutex<BTreeMap<(String, String, String), Vec<u8>>>,
}

impl MemoryBackend {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, String, String), Vec<u8>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Cuts a `LIST_PAGE + 1` fetch into a page and the next cursor.
pub(super) fn page(mut keys: Vec<String>, cursor: u64) -> (Vec<String>, Option<u64>) {
    if keys.len() > LIST_PAGE {
        keys.truncate(LIST_PAGE);
        (keys, Some(cursor + LIST_PAGE as u64))
    } else {
        (keys, None)
    }
}

impl KeyValueBackend for MemoryBackend {
    fn get(&self, tenant: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .map()
            .get(&(tenant.into(), bucket.into(), key.into()))
            .cloned())
    }

    fn set(&self, tenant: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        self.map()
            .insert((tenant.into(), bucket.into(), key.into()), value.to_vec());
        Ok(())
    }

    fn delete(&self, tenant: &str, bucket: &str, key: &str) -> Result<()> {
        self.map()
            .remove(&(tenant.into(), bucket.into(), key.into()));
        Ok(())
    }

    fn list_keys(
        &self,
        tenant: &str,
        bucket: &str,
        cursor: u64,
    ) -> Result<(Vec<String>, Option<u64>)> {
        let keys: Vec<String> = self
            .map()
            .keys()
            .filter(|(t, b, _)| t == tenant && b == bucket)
            .map(|(_, _, k)| k.clone())
            .skip(cursor as usize)
            .take(LIST_PAGE + 1)
            .collect();
        Ok(page(keys, cursor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::storage::backend_for;

    /// Runs `test` on the memory backend and on the durable backend of each store (SQLite and
    /// PostgreSQL); a failure names the backend.
    fn each_kv(name: &str, test: impl Fn(&dyn KeyValueBackend)) {
        test(&MemoryBackend::default());
        crate::db::testing::each_backend(name, |db| test(backend_for(&db).as_ref()));
    }

    #[test]
    fn tenants_cannot_see_each_others_keys() {
        each_kv("kv_tenants", |kv| {
            kv.set("acme", "links", "opp:1", b"inv:9").unwrap();
            assert_eq!(
                kv.get("acme", "links", "opp:1").unwrap().as_deref(),
                Some(&b"inv:9"[..])
            );
            assert_eq!(kv.get("globex", "links", "opp:1").unwrap(), None);
            assert!(kv.list_keys("globex", "links", 0).unwrap().0.is_empty());
        });
    }

    #[test]
    fn list_keys_pages_in_key_order() {
        each_kv("kv_list_keys", |kv| {
            for i in 0..(LIST_PAGE + 5) {
                kv.set("t", "b", &format!("k{i:05}"), b"v").unwrap();
            }
            let (first, next) = kv.list_keys("t", "b", 0).unwrap();
            assert_eq!(first.len(), LIST_PAGE);
            assert_eq!(first[0], "k00000");
            let (rest, end) = kv.list_keys("t", "b", next.unwrap()).unwrap();
            assert_eq!(rest.len(), 5);
            assert_eq!(end, None);
        });
    }

    #[test]
    fn keys_list_in_byte_order() {
        each_kv("kv_byte_order", |kv| {
            for key in ["b", "B", "a", "_", "é", "A", "a-b", "ab"] {
                kv.set("t", "b", key, b"v").unwrap();
            }
            let (keys, end) = kv.list_keys("t", "b", 0).unwrap();
            assert_eq!(keys, ["A", "B", "_", "a", "a-b", "ab", "b", "é"]);
            assert_eq!(end, None);
        });
    }

    #[test]
    fn delete_and_exists() {
        each_kv("kv_delete", |kv| {
            kv.set("t", "b", "k", b"v").unwrap();
            assert!(kv.exists("t", "b", "k").unwrap());
            kv.set("t", "b", "k", b"w").unwrap();
            assert_eq!(kv.get("t", "b", "k").unwrap().as_deref(), Some(&b"w"[..]));
            kv.delete("t", "b", "k").unwrap();
            assert!(!kv.exists("t", "b", "k").unwrap());
            kv.delete("t", "b", "absent").unwrap();
        });
    }
}

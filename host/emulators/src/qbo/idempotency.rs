//! `requestid` replay (api-facts A3): the first answer to a `(realm, requestid)` pair is stored —
//! status, content type and body, failures included — and returned again for any later request
//! with the same pair, without repeating the operation, for `requestid_ttl_secs` of emulator time.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};

/// Longest requestid on a normal request.
pub(crate) const MAX_LEN: usize = 50;
/// Longest requestid on `/batch`.
pub(crate) const MAX_LEN_BATCH: usize = 36;

/// A stored answer.
#[derive(Clone, Debug)]
pub(crate) struct StoredReply {
    pub status: u16,
    pub content_type: String,
    pub body: Bytes,
    pub at: DateTime<Utc>,
}

/// The replay cache of all realms.
#[derive(Default)]
pub(crate) struct ReplayCache {
    entries: HashMap<(String, String), StoredReply>,
    /// The same keys by age, so that expiring them does not read every entry.
    by_age: BTreeSet<(DateTime<Utc>, (String, String))>,
}

impl ReplayCache {
    /// The stored answer for this pair, if still within the TTL.
    pub fn get(
        &mut self,
        realm: &str,
        request_id: &str,
        now: DateTime<Utc>,
        ttl_secs: u64,
    ) -> Option<StoredReply> {
        let ttl = super::timefmt::bounded_secs(i64::try_from(ttl_secs).unwrap_or(i64::MAX));
        // Expired: `now - at >= ttl`, that is `at <= now - ttl`.
        if let Some(oldest_kept) = now.checked_sub_signed(ttl) {
            while let Some(first) = self.by_age.first() {
                if first.0 > oldest_kept {
                    break;
                }
                if let Some((_, key)) = self.by_age.pop_first() {
                    self.entries.remove(&key);
                }
            }
        }
        self.entries
            .get(&(realm.to_string(), request_id.to_string()))
            .cloned()
    }

    /// Stores the first answer for a pair.
    pub fn put(&mut self, realm: &str, request_id: &str, reply: StoredReply) {
        let key = (realm.to_string(), request_id.to_string());
        if let Entry::Vacant(slot) = self.entries.entry(key.clone()) {
            self.by_age.insert((reply.at, key));
            slot.insert(reply);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn replays_within_the_ttl_only() {
        let mut cache = ReplayCache::default();
        let t0 = Utc::now();
        cache.put(
            "r",
            "id",
            StoredReply {
                status: 200,
                content_type: "application/json".into(),
                body: Bytes::from_static(b"{}"),
                at: t0,
            },
        );
        assert!(cache
            .get("r", "id", t0 + Duration::seconds(10), 60)
            .is_some());
        assert!(cache.get("other", "id", t0, 60).is_none());
        assert!(cache
            .get("r", "id", t0 + Duration::seconds(61), 60)
            .is_none());
    }

    #[test]
    fn an_answer_expires_when_exactly_the_ttl_has_passed() {
        let mut cache = ReplayCache::default();
        let t0 = Utc::now();
        for (id, at) in [("a", t0), ("b", t0 + Duration::seconds(5))] {
            let reply = StoredReply {
                status: 200,
                content_type: "application/json".into(),
                body: Bytes::from_static(b"{}"),
                at,
            };
            cache.put("r", id, reply);
        }
        let t1 = t0 + Duration::seconds(60);
        assert!(cache.get("r", "a", t1, 60).is_none());
        assert!(cache.get("r", "b", t1, 60).is_some());
        // Gone for good, even for a longer TTL.
        assert!(cache.get("r", "a", t1, 600).is_none());
    }
}

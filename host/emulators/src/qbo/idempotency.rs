//! `requestid` replay (api-facts A3): the first answer to a `(realm, requestid)` pair is stored —
//! status, content type and body, failures included — and returned again for any later request
//! with the same pair, without repeating the operation, for `requestid_ttl_secs` of emulator time.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

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
        self.entries.retain(|_, r| now - r.at < ttl);
        self.entries
            .get(&(realm.to_string(), request_id.to_string()))
            .cloned()
    }

    /// Stores the first answer for a pair.
    pub fn put(&mut self, realm: &str, request_id: &str, reply: StoredReply) {
        self.entries
            .entry((realm.to_string(), request_id.to_string()))
            .or_insert(reply);
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
}

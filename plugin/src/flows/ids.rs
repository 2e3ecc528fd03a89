//! Deterministic ids: QBO `requestid`s and content fingerprints. The same source record at the
//! same content always yields the same `requestid`, so a retry after a timeout or a crash is
//! answered from QBO's replay cache instead of creating a second object.

/// FNV-1a, 64 bits: a stable fingerprint (not a security hash).
pub fn fingerprint(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The fingerprint of a JSON value's canonical text, as 16 hex digits.
pub fn content_hash(value: &serde_json::Value) -> String {
    format!("{:016x}", fingerprint(value.to_string().as_bytes()))
}

/// A `requestid` (at most 50 characters): `ll-{kind}-{source id}-{first 8 of the hash}`.
pub fn request_id(kind: &str, source_id: &str, hash: &str) -> String {
    let mut id = format!("ll-{kind}-{source_id}-{}", &hash[..hash.len().min(8)]);
    id.truncate(50);
    id
}

/// A `requestid` naming one intended write by its parts in full (`ll-{kind}-{part}-{part}...`),
/// never cut: when that is longer than QBO's 50 characters, `ll-{kind}-` and a fingerprint of
/// all of it. Two different writes (two reversals of one order, two postings of the same
/// content) get two ids, unlike [`request_id`], which keeps only a hash prefix.
pub fn write_request_id(kind: &str, parts: &[&str]) -> String {
    let id = format!("ll-{kind}-{}", parts.join("-"));
    if id.len() <= 50 {
        return id;
    }
    format!(
        "ll-{kind}-{:016x}",
        fingerprint(parts.join("\n").as_bytes())
    )
}

/// A batch `requestid` (at most 36 characters) over the ids of its items.
pub fn batch_request_id(kind: &str, item_ids: &[String]) -> String {
    let joined = item_ids.join("\n");
    let mut id = format!("ll-{kind}-{:016x}", fingerprint(joined.as_bytes()));
    id.truncate(36);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_stable_and_within_qbo_limits() {
        let h = content_hash(&serde_json::json!({"a": 1}));
        assert_eq!(h, content_hash(&serde_json::json!({"a": 1})));
        assert_ne!(h, content_hash(&serde_json::json!({"a": 2})));
        let id = request_id("inv", "0065e00000AbCdEAAV", &h);
        assert!(id.len() <= 50 && id.starts_with("ll-inv-0065e00000AbCdEAAV-"));
        assert!(batch_request_id("inv", &["a".into(), "b".into()]).len() <= 36);
    }

    #[test]
    fn write_request_ids_keep_every_part_so_different_writes_never_share_one() {
        let order = "8015e00000AbCdEAAV";
        // Entry ids sharing their first digits: a cut prefix would make these one id.
        let a = write_request_id("jer", &[order, "100001"]);
        let b = write_request_id("jer", &[order, "100003"]);
        assert_ne!(a, b);
        assert_eq!(a, "ll-jer-8015e00000AbCdEAAV-100001");
        // The same content posted twice (Activated -> Draft -> Activated) is two writes.
        let hash = "0123456789abcdef";
        assert_ne!(
            write_request_id("je", &[order, "1", hash]),
            write_request_id("je", &[order, "2", hash])
        );
        // Too long for QBO: a fingerprint of all of it, still distinct and within 50.
        let long = "x".repeat(60);
        let c = write_request_id("je", &[&long, "1"]);
        let d = write_request_id("je", &[&long, "2"]);
        assert!(c.len() <= 50 && d.len() <= 50, "{c} {d}");
        assert_ne!(c, d);
    }
}

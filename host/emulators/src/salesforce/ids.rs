//! Record ids as Salesforce makes them: a 3-character key prefix naming the sObject (`001`
//! Account, `006` Opportunity, ...), 12 characters that identify the record, and a 3-character
//! suffix that makes the id case-insensitive.
//!
//! The suffix: split the first 15 characters into three chunks of five; for each chunk build a
//! 5-bit number whose bit *i* is set when character *i* is an uppercase letter; map each number
//! to `ABCDEFGHIJKLMNOPQRSTUVWXYZ012345`.

const SUFFIX_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The 3-character case-safety suffix of a 15-character id.
pub fn suffix(id15: &str) -> String {
    let bytes = id15.as_bytes();
    let mut out = String::with_capacity(3);
    for chunk in 0..3 {
        let mut bits = 0usize;
        for i in 0..5 {
            if bytes
                .get(chunk * 5 + i)
                .is_some_and(|b| b.is_ascii_uppercase())
            {
                bits |= 1 << i;
            }
        }
        out.push(SUFFIX_ALPHABET[bits] as char);
    }
    out
}

/// The 18-character form of a 15- or 18-character id, or `None` when `id` is not an id.
/// An 18-character id must carry the right suffix (compared case-insensitively).
pub fn to_18(id: &str) -> Option<String> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        15 => Some(format!("{id}{}", suffix(id))),
        18 => {
            let (head, tail) = id.split_at(15);
            suffix(head)
                .eq_ignore_ascii_case(tail)
                .then(|| format!("{head}{}", suffix(head)))
        }
        _ => None,
    }
}

/// The key prefix (first three characters) of an id.
pub fn prefix(id: &str) -> &str {
    id.get(..3).unwrap_or("")
}

/// Hands out ids in increasing order: prefix + 2-character pod + 10 base-62 digits + suffix.
#[derive(Clone, Debug)]
pub struct IdGen {
    pod: String,
    counter: u64,
}

impl IdGen {
    /// A generator whose pod characters derive from `seed` (so two emulators differ).
    pub fn new(seed: u64) -> Self {
        let a = BASE62[(seed % 62) as usize] as char;
        let b = BASE62[((seed / 62) % 26 + 36) as usize] as char;
        Self {
            pod: format!("{a}{b}"),
            counter: 0,
        }
    }

    /// The next 18-character id with this key prefix.
    pub fn next(&mut self, key_prefix: &str) -> String {
        self.counter += 1;
        let mut digits = [b'0'; 10];
        let mut n = self.counter;
        for slot in digits.iter_mut().rev() {
            *slot = BASE62[(n % 62) as usize];
            n /= 62;
        }
        let mut prefix: String = key_prefix.chars().take(3).collect();
        while prefix.len() < 3 {
            prefix.push('0');
        }
        let id15 = format!("{prefix}{}{}", self.pod, String::from_utf8_lossy(&digits));
        format!("{id15}{}", suffix(&id15))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_matches_known_salesforce_ids() {
        // Ids from the fixtures (get_updated_response.json, get_deleted_response.json).
        for id in [
            "003q000000KvQ1tAAF",
            "003q000000KwKFhAAN",
            "a00D0000008pQRAIA2",
            "0014H00002LbR7QQAV",
        ] {
            assert_eq!(to_18(&id[..15]).as_deref(), Some(id));
            assert_eq!(to_18(id).as_deref(), Some(id));
        }
    }

    #[test]
    fn rejects_non_ids() {
        assert_eq!(to_18("001"), None);
        assert_eq!(to_18("001q000000KvQ1t-AF"), None);
        assert_eq!(to_18("003q000000KvQ1tZZZ"), None);
    }

    #[test]
    fn generated_ids_are_valid_and_increasing() {
        let mut g = IdGen::new(7);
        let a = g.next("001");
        let b = g.next("001");
        assert_eq!(a.len(), 18);
        assert!(a < b);
        assert_eq!(to_18(&a).as_deref(), Some(a.as_str()));
        assert_eq!(prefix(&a), "001");
    }
}

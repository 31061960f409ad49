//! A content hash: the same text gives the same short name on every
//! machine and in every build, so that it can be stored in a run's metadata
//! and found again (the judge's cache, an experiment's versions).
//!
//! FNV-1a over 64 bits, each part preceded by its length so that
//! `["ab", "c"]` and `["a", "bc"]` differ, written as 16 hex digits. Not a
//! cryptographic hash: nothing here defends against someone crafting a
//! collision, and a collision would cost a wrong cache hit, not a secret.
//! Written out rather than taken from a crate: twenty lines, no dependency,
//! and its output must never change with a crate's version.

/// The hash of `parts`, as 16 lowercase hex digits.
pub fn content_hash<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    let mut eat = |bytes: &[u8]| {
        for byte in bytes {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    for part in parts {
        eat(&(part.len() as u64).to_le_bytes());
        eat(part.as_bytes());
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::content_hash;

    #[test]
    fn the_hash_is_stable_and_separates_parts() {
        // Pinned: a stored hash must be found again by every later build.
        assert_eq!(
            content_hash(["judge", "answer"]),
            content_hash(["judge", "answer"])
        );
        assert_eq!(content_hash([]), "cbf29ce484222325");
        assert_ne!(content_hash(["ab", "c"]), content_hash(["a", "bc"]));
        assert_ne!(content_hash(["a"]), content_hash(["b"]));
        assert_eq!(content_hash(["x"]).len(), 16);
    }
}

//! The configuration's content hash: what the journal records to say which configuration
//! was in force (contract section 11).

use blake2::{Blake2s256, Digest};

/// `b2s:` and the BLAKE2s-256 of the file's bytes, in hex: the same text, the same hash,
/// on every board and in `replay`.
pub fn content_hash(text: &str) -> String {
    let digest = Blake2s256::digest(text.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("b2s:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_has_the_same_hash_and_one_byte_changes_it() {
        let a = content_hash("[facility]\nid = \"x\"\n");
        assert_eq!(a, content_hash("[facility]\nid = \"x\"\n"));
        assert_ne!(a, content_hash("[facility]\nid = \"y\"\n"));
        assert_eq!(a.len(), 4 + 64);
        // BLAKE2s-256 of the empty string (RFC 7693 test vectors' family).
        assert_eq!(
            content_hash(""),
            "b2s:69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"
        );
    }
}

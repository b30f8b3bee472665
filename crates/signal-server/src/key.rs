//! Constant-time lookup of publishable keys (the key type itself lives in the protocol
//! crate, shared with the SDK).

pub use peerchat_protocol::PublishableKey;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Finds `presented` among `digests` in time that depends only on the number of keys,
/// never on how much of a key matched. Returns the index of the match.
pub fn find_key(digests: &[[u8; 32]], presented: &str) -> Option<usize> {
    let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for (i, k) in digests.iter().enumerate() {
        if bool::from(k.ct_eq(&d)) && found.is_none() {
            found = Some(i);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_by_digest() {
        let keys = [PublishableKey::new("a").digest(), PublishableKey::new("b").digest()];
        assert_eq!(find_key(&keys, "b"), Some(1));
        assert_eq!(find_key(&keys, "c"), None);
        assert_eq!(find_key(&keys, ""), None);
    }
}

//! Constant-time lookup of publishable keys (the key type itself lives in the protocol
//! crate, shared with the SDK).

pub use peerchat_protocol::PublishableKey;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Finds `presented` among `digests` in time that depends only on the number of keys,
/// never on how much of a key matched. Returns the index of the match.
pub fn find_key(digests: &[[u8; 32]], presented: &str) -> Option<usize> {
    find_key_with(digests, presented, |a, b| a.ct_eq(b))
}

/// [`find_key`] with the comparison passed in (tests count the comparisons).
fn find_key_with(
    digests: &[[u8; 32]],
    presented: &str,
    mut eq: impl FnMut(&[u8; 32], &[u8; 32]) -> subtle::Choice,
) -> Option<usize> {
    // Comparing fixed-size digests keeps the presented key's length out of the timing.
    let d: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
    let mut found = None;
    for (i, k) in digests.iter().enumerate() {
        if bool::from(eq(k, &d)) && found.is_none() {
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

    #[test]
    fn every_configured_key_is_compared_whichever_matches() {
        let names = ["k0", "k1", "k2", "k3"];
        let keys: Vec<[u8; 32]> = names.iter().map(|k| PublishableKey::new(*k).digest()).collect();
        for presented in ["k0", "k3", "nope", "a much longer key that matches nothing at all"] {
            let mut compared = 0;
            let found = find_key_with(&keys, presented, |a, b| {
                compared += 1;
                a.ct_eq(b)
            });
            assert_eq!(found, names.iter().position(|k| *k == presented));
            assert_eq!(compared, keys.len(), "no early exit for {presented:?}");
        }
    }
}

//! The local server's proof that it knows the key, before a client reveals it. A client
//! about to use a server on this machine (the app's embedded server, which another
//! process may run, or which anything could have bound first) sends a random challenge
//! in the `Peerchat-Challenge` header of an upgrade without a key. A server that proves
//! keys answers HTTP 401 with `{"error":"invalid_key","proofs":["<hex>",…]}` (no key was
//! sent; no upgrade happens): for each of its keys,
//! HMAC-SHA256 keyed with the SHA-256 digest of the key, over a label, the challenge and
//! the address the client connected to (so a proof relayed from a server on another
//! port does not count). The client sends its key only to a server whose proof matches.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying the challenge (64 hex digits).
pub const CHALLENGE_HEADER: &str = "peerchat-challenge";
/// Bytes of a challenge.
pub const CHALLENGE_BYTES: usize = 32;
const LABEL: &[u8] = b"peerchat local server proof v1\0";

fn mac(key_digest: &[u8; 32], challenge: &[u8; CHALLENGE_BYTES], addr: &str) -> Hmac<Sha256> {
    // HMAC accepts keys of any length: this cannot fail.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key_digest).expect("HMAC takes any key length");
    m.update(LABEL);
    m.update(challenge);
    m.update(addr.as_bytes());
    m
}

/// The proof for `challenge` from a server holding the key with digest `key_digest`,
/// reached at `addr` (`127.0.0.1:47831`), as hex.
pub fn prove(key_digest: &[u8; 32], challenge: &[u8; CHALLENGE_BYTES], addr: &str) -> String {
    hex(&mac(key_digest, challenge, addr).finalize().into_bytes())
}

/// Whether `proof` (hex) proves the key with digest `key_digest` (in constant time).
pub fn verify(key_digest: &[u8; 32], challenge: &[u8; CHALLENGE_BYTES], addr: &str, proof: &str) -> bool {
    let Some(bytes) = unhex(proof) else { return false };
    mac(key_digest, challenge, addr).verify_slice(&bytes).is_ok()
}

/// Reads a challenge from its header value.
pub fn parse_challenge(value: &str) -> Option<[u8; CHALLENGE_BYTES]> {
    unhex(value)?.try_into().ok()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || s.len() > 128 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PublishableKey;

    #[test]
    fn a_proof_verifies_only_for_its_key_challenge_and_address() {
        let key = PublishableKey::new("pk_local_1").digest();
        let other = PublishableKey::new("pk_local_2").digest();
        let c = [7u8; CHALLENGE_BYTES];
        let p = prove(&key, &c, "127.0.0.1:47831");
        assert!(verify(&key, &c, "127.0.0.1:47831", &p));
        assert!(!verify(&other, &c, "127.0.0.1:47831", &p), "another key");
        assert!(!verify(&key, &[8u8; CHALLENGE_BYTES], "127.0.0.1:47831", &p), "another challenge");
        assert!(!verify(&key, &c, "127.0.0.1:47832", &p), "relayed from another port");
        assert!(!verify(&key, &c, "127.0.0.1:47831", "zz"));
        assert!(!verify(&key, &c, "127.0.0.1:47831", ""));
    }

    #[test]
    fn challenges_are_64_hex_digits() {
        let c = [0xabu8; CHALLENGE_BYTES];
        assert_eq!(parse_challenge(&hex(&c)), Some(c));
        assert_eq!(parse_challenge("abcd"), None);
        assert_eq!(parse_challenge(&"g".repeat(64)), None);
        assert_eq!(parse_challenge("é"), None);
    }
}

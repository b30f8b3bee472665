//! Peer ids and request ids.

use serde::{Deserialize, Serialize};

/// Longest peer id allowed by the peer conventions, in bytes.
pub const MAX_PEER_ID_LEN: usize = 128;

/// Whether `id` is a valid peer id: 1 to 128 bytes of `[A-Za-z0-9_-]`.
pub fn is_valid_peer_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_PEER_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The optional `requestId` of a client frame: a string (at most 128 bytes) or an
/// unsigned integer, echoed back unchanged in `ack` and `error`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// A numeric id.
    Num(u64),
    /// A string id.
    Str(String),
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestId::Num(n) => write!(f, "{n}"),
            RequestId::Str(s) => f.write_str(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_id_charset_and_length() {
        assert!(is_valid_peer_id("abc-DEF_123"));
        assert!(!is_valid_peer_id(""));
        assert!(!is_valid_peer_id("a b"));
        assert!(!is_valid_peer_id("é"));
        assert!(is_valid_peer_id(&"a".repeat(128)));
        assert!(!is_valid_peer_id(&"a".repeat(129)));
    }
}

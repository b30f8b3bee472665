//! The publishable key: a type that never prints its value.

use sha2::{Digest, Sha256};

/// A publishable key. `Debug` and `Display` print a redacted form, so the key can be
/// held in structs that are logged without leaking it.
#[derive(Clone, PartialEq, Eq)]
pub struct PublishableKey(String);

impl PublishableKey {
    /// Wraps a key string.
    pub fn new(key: impl Into<String>) -> Self {
        PublishableKey(key.into())
    }

    /// The key itself. Call only where the value must leave the process (the wire).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the key: fixed-length, so comparisons do not leak the key's length.
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    /// A short, non-reversible id for logs and tokens (first 8 bytes of the digest, hex).
    pub fn fingerprint(&self) -> String {
        self.digest()[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for PublishableKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublishableKey(<redacted>)")
    }
}

impl std::fmt::Display for PublishableKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<redacted key {}>", self.fingerprint())
    }
}

impl<'de> serde::Deserialize<'de> for PublishableKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(PublishableKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let k = PublishableKey::new("pk_live_supersecret");
        assert!(!format!("{k:?}").contains("supersecret"));
        assert!(!format!("{k}").contains("supersecret"));
        assert_eq!(k.expose(), "pk_live_supersecret");
        assert_eq!(k.fingerprint().len(), 16);
    }
}

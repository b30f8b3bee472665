//! Resume tokens: `base64url(payload JSON) "." base64url(HMAC-SHA256(secret, payload))`.
//!
//! The payload carries the session (peer id, name, channels), the fingerprint of the key
//! it was issued to, the id of the server instance that issued it, and an expiry. A server
//! started with the same secret accepts the tokens of its predecessor, so a restart does
//! not change anyone's identity.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Longest token accepted, in bytes (a bound on work done for garbage input).
pub const MAX_TOKEN_LEN: usize = 8_192;

/// What a resume token vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenClaims {
    /// Peer id of the session.
    pub pid: String,
    /// Display name.
    pub name: String,
    /// Channels the session was subscribed to when the token was issued.
    pub ch: Vec<String>,
    /// Fingerprint of the key the session was opened with.
    pub kid: String,
    /// Id of the server instance that issued the token.
    pub iid: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Which of the session's tokens this is: every welcome issues the next one, and
    /// only the latest resumes a session this server holds (a copied token stops
    /// working once its owner resumed). 0 in tokens of older servers.
    #[serde(default)]
    pub n: u64,
}

/// Signs and verifies tokens with one secret.
#[derive(Clone)]
pub struct TokenSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(<redacted>)")
    }
}

impl TokenSigner {
    /// A signer for `secret`.
    pub fn new(secret: &[u8]) -> Self {
        TokenSigner { secret: secret.to_vec() }
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length.
        <HmacSha256 as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length")
    }

    /// Issues a token for `claims`.
    pub fn sign(&self, claims: &TokenClaims) -> String {
        let payload = B64.encode(serde_json::to_vec(claims).unwrap_or_default());
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        let sig = B64.encode(mac.finalize().into_bytes());
        format!("{payload}.{sig}")
    }

    /// Checks the signature (in constant time) and expiry; `None` for anything invalid.
    pub fn verify(&self, token: &str, now_unix: u64) -> Option<TokenClaims> {
        self.verify_signature(token).filter(|c| c.exp > now_unix)
    }

    /// Checks only the signature (in constant time); the caller decides about expiry.
    pub fn verify_signature(&self, token: &str) -> Option<TokenClaims> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let (payload, sig) = token.split_once('.')?;
        let sig = B64.decode(sig).ok()?;
        let mut mac = self.mac();
        mac.update(payload.as_bytes());
        mac.verify_slice(&sig).ok()?;
        serde_json::from_slice(&B64.decode(payload).ok()?).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> TokenClaims {
        TokenClaims {
            pid: "p".into(),
            name: "n".into(),
            ch: vec!["c".into()],
            kid: "k".into(),
            iid: "i".into(),
            exp,
            n: 3,
        }
    }

    #[test]
    fn round_trip_and_rejections() {
        let s = TokenSigner::new(b"secret-secret-secret");
        let t = s.sign(&claims(100));
        assert_eq!(s.verify(&t, 99), Some(claims(100)));
        assert_eq!(s.verify(&t, 100), None, "expired");
        assert_eq!(TokenSigner::new(b"another-secret-xx").verify(&t, 1), None);
        let (p, sig) = t.split_once('.').unwrap();
        let forged = format!("{}.{sig}", B64.encode(serde_json::to_vec(&claims(999)).unwrap()));
        assert_eq!(s.verify(&forged, 1), None);
        assert_eq!(s.verify(p, 1), None);
        assert_eq!(s.verify("", 1), None);
        assert_eq!(s.verify("a.b.c", 1), None);
        assert_eq!(s.verify(&"x".repeat(MAX_TOKEN_LEN + 1), 1), None);
    }
}

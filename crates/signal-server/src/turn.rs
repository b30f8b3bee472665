//! Time-limited TURN credentials in the "TURN REST API" form that coturn's
//! `use-auth-secret` understands: the user name is `EXPIRY:PEERID` (EXPIRY in seconds
//! since the Unix epoch) and the credential is `base64(HMAC-SHA1(secret, username))`.
//! The server and the TURN server share the secret; clients never see it, and the
//! credentials they get stop working at EXPIRY.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use peerchat_protocol::IceServer;
use serde::Deserialize;
use sha1::Sha1;

/// The `[turn]` table.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TurnSection {
    /// coturn's `static-auth-secret`.
    pub secret: String,
    /// `turn:` / `turns:` URLs of the TURN server.
    pub urls: Vec<String>,
    /// How long handed-out credentials stay valid.
    #[serde(default = "d_ttl")]
    pub ttl_secs: u64,
}

fn d_ttl() -> u64 {
    86_400
}

impl std::fmt::Debug for TurnSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnSection")
            .field("secret", &"<redacted>")
            .field("urls", &self.urls)
            .field("ttl_secs", &self.ttl_secs)
            .finish()
    }
}

/// Shortest credential lifetime accepted: an ICE restart or rebuild must be able to
/// allocate with the credentials a peer got at its last `welcome`.
pub const MIN_TTL_SECS: u64 = 60;

/// Issues TURN credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnIssuer {
    secret: Vec<u8>,
    urls: Vec<String>,
    ttl: Duration,
}

impl std::fmt::Debug for TurnIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnIssuer").field("urls", &self.urls).field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

impl TurnIssuer {
    /// Checks a `[turn]` table. Errors name the problem, never the secret.
    pub fn from_section(t: TurnSection) -> Result<TurnIssuer, String> {
        if t.secret.len() < 16 {
            return Err("[turn] secret must be at least 16 bytes".into());
        }
        if t.urls.is_empty() {
            return Err("[turn] urls must list at least one turn: or turns: URL".into());
        }
        if let Some(u) = t.urls.iter().find(|u| !(u.starts_with("turn:") || u.starts_with("turns:"))) {
            return Err(format!("[turn] url `{u}` is not a turn: or turns: URL"));
        }
        if t.ttl_secs < MIN_TTL_SECS {
            return Err(format!("[turn] ttl_secs must be at least {MIN_TTL_SECS}"));
        }
        Ok(TurnIssuer { secret: t.secret.into_bytes(), urls: t.urls, ttl: Duration::from_secs(t.ttl_secs) })
    }

    /// Credentials for `peer_id`, valid until `unix_now + ttl`.
    pub fn issue(&self, peer_id: &str, unix_now: Duration) -> IceServer {
        let username = format!("{}:{peer_id}", (unix_now + self.ttl).as_secs());
        let credential = credential(&self.secret, &username);
        IceServer { urls: self.urls.clone(), username: Some(username), credential: Some(credential) }
    }
}

/// `base64(HMAC-SHA1(secret, username))`.
pub fn credential(secret: &[u8], username: &str) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(username.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(secret: &str, urls: &[&str], ttl: u64) -> TurnSection {
        TurnSection { secret: secret.into(), urls: urls.iter().map(|u| u.to_string()).collect(), ttl_secs: ttl }
    }

    #[test]
    fn credentials_follow_the_turn_rest_form_coturn_checks() {
        let issuer = TurnIssuer::from_section(section("0123456789abcdef", &["turn:t.example:3478"], 600)).unwrap();
        let s = issuer.issue("peerA", Duration::from_secs(1_700_000_000));
        assert_eq!(s.username.as_deref(), Some("1700000600:peerA"));
        // Computed independently: printf '1700000600:peerA' | openssl dgst -sha1 -hmac 0123456789abcdef -binary | base64
        assert_eq!(s.credential.as_deref(), Some("1yVYaB+h0eF9pVnJqqNzB2qWi3w="));
        assert_eq!(s.urls, vec!["turn:t.example:3478".to_string()]);
    }

    #[test]
    fn a_bad_turn_table_is_refused_without_printing_the_secret() {
        for (t, why) in [
            (section("short", &["turn:x"], 600), "at least 16 bytes"),
            (section("0123456789abcdef", &[], 600), "at least one"),
            (section("0123456789abcdef", &["stun:x"], 600), "not a turn:"),
            (section("0123456789abcdef", &["turn:x"], 5), "ttl_secs"),
        ] {
            let e = TurnIssuer::from_section(t).unwrap_err();
            assert!(e.contains(why), "{e}");
            assert!(!e.contains("0123456789abcdef"));
        }
        let dbg = format!("{:?}", section("0123456789abcdef", &["turn:x"], 600));
        assert!(!dbg.contains("0123456789abcdef"), "{dbg}");
    }
}

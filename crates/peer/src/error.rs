//! Typed errors of the SDK. Every failure an app can act on has its own variant.

use peerchat_protocol::ErrorCode;

/// Errors of the peer, its signalling connection and server-routed requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// The server refused the key (HTTP 401 at the upgrade).
    #[error("the server refused the publishable key")]
    InvalidKey,
    /// The key does not allow this origin (HTTP 403 at the upgrade).
    #[error("the key does not allow this origin")]
    OriginNotAllowed,
    /// The URL is malformed or does not lead to a signalling endpoint.
    #[error("bad signalling URL: {0}")]
    BadUrl(String),
    /// `ws://` (unencrypted) to a host that is not this machine, without
    /// [`crate::TlsOptions::allow_plaintext`].
    #[error("refusing unencrypted ws:// to {0}: use wss://, or allow plaintext explicitly")]
    PlaintextRefused(String),
    /// The TLS handshake with the signalling server failed; retrying cannot help.
    #[error("TLS: {0}")]
    Tls(TlsFailure),
    /// The upgrade was refused with another HTTP status.
    #[error("the server refused the connection (HTTP {0})")]
    Refused(u16),
    /// The key was revoked while connected (close 4001).
    #[error("the publishable key was revoked")]
    KeyRevoked,
    /// The key's concurrent-connection limit is reached (close 4010).
    #[error("too many connections for this key")]
    TooManyConnections,
    /// This connection sent too many frames (close 4011). Not fatal: the SDK paces what
    /// it sends under the limits the server announces, and after a 4011 anyway it
    /// reconnects (and resumes) after its backoff.
    #[error("rate limited by the server")]
    RateLimited,
    /// An administrator disconnected this peer (close 4020).
    #[error("disconnected by an administrator")]
    AdminDisconnect,
    /// Another connection resumed this peer's session (close 1000 "resumed"); this one
    /// stops instead of fighting over the session.
    #[error("another connection took over this session")]
    SessionTakenOver,
    /// The server closed for repeated malformed frames (close 1008 or 1007).
    #[error("closed by the server for a protocol violation")]
    PolicyViolation,
    /// A frame was larger than the server accepts (close 1009).
    #[error("a message was too big for the server")]
    MessageTooBig,
    /// Reconnecting failed `attempts` times in a row.
    #[error("could not reconnect after {attempts} attempts")]
    ReconnectGaveUp { attempts: u32 },
    /// `send`/`send_to` before `join`, or after `leave`.
    #[error("not joined to a room")]
    NotJoined,
    /// `join` while already joined.
    #[error("already joined to a room")]
    AlreadyJoined,
    /// `send_to` addressed to this peer itself.
    #[error("cannot send to yourself")]
    SelfSend,
    /// Arguments the server (or the SDK) rejected.
    #[error("invalid arguments: {0}")]
    InvalidArgs(String),
    /// The key's message quota is used up; the message was not delivered.
    #[error("the key's message quota is used up")]
    OverMessageQuota,
    /// The key's signal quota is used up: no new connections until its period ends.
    #[error("the key's signalling quota is used up")]
    OverSignalQuota,
    /// No such peer in the room.
    #[error("unknown peer")]
    UnknownPeer,
    /// The peer is reconnecting and its queue is full.
    #[error("peer unavailable: {0}")]
    PeerUnavailable(String),
    /// The key may not join this room.
    #[error("the key may not join this room")]
    ChannelNotAuthorized,
    /// The room is full.
    #[error("the room is full")]
    ChannelFull,
    /// Too many joins, renames or leaves in a short time; nothing changed.
    #[error("too many room changes in a short time; try again in a moment")]
    SlowDown,
    /// Another error code from the server.
    #[error("server error {code}: {message}")]
    Server { code: String, message: String },
    /// The request got no answer in time.
    #[error("the server did not answer in time")]
    Timeout,
    /// The signalling connection dropped before the request was acknowledged; it may or
    /// may not have been delivered.
    #[error("connection lost before the server acknowledged the request")]
    ConnectionLost,
    /// Too many requests are waiting for a reconnect.
    #[error("too many requests waiting for the connection")]
    QueueFull,
    /// The peer was closed.
    #[error("the peer is closed")]
    Closed,
}

/// What went wrong in a TLS handshake with the signalling server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsFailure {
    /// The chain does not lead to a root the OS (or the configured CA file) trusts.
    #[error("the server's certificate is not signed by a trusted authority")]
    UntrustedCertificate,
    /// The certificate's validity ended.
    #[error("the server's certificate has expired")]
    Expired,
    /// The certificate's validity has not begun (or this machine's clock is wrong).
    #[error("the server's certificate is not valid yet")]
    NotValidYet,
    /// The certificate is for another host name.
    #[error("the server's certificate is for another host name")]
    WrongName,
    /// The certificate was revoked.
    #[error("the server's certificate was revoked")]
    Revoked,
    /// The extra CA certificates given to the SDK could not be read.
    #[error("the CA certificate file is not usable: {0}")]
    BadCaFile(String),
    /// No trusted roots could be loaded from the OS.
    #[error("no trusted certificates could be loaded from the system: {0}")]
    NoTrustStore(String),
    /// Another TLS failure, as rustls describes it.
    #[error("{0}")]
    Other(String),
}

/// Defines an error type's `kind()` (a stable snake_case name for each variant, for JSON
/// output and UIs) and `KINDS` (every name it returns) from one table, so that a list of
/// kinds cannot miss one. Used by the error types of the SDK, the chat and the app.
#[doc(hidden)]
#[macro_export]
macro_rules! error_kinds {
    ($ty:ty { $($pat:pat => $kind:literal),+ $(,)? }) => {
        impl $ty {
            /// Every name [`Self::kind`] returns.
            pub const KINDS: &'static [&'static str] = &[$($kind),+];

            /// A stable snake_case name, for JSON output and UIs.
            pub fn kind(&self) -> &'static str {
                match self {
                    $($pat => $kind),+
                }
            }
        }
    };
}

crate::error_kinds!(PeerError {
    PeerError::InvalidKey => "invalid_key",
    PeerError::OriginNotAllowed => "origin_not_allowed",
    PeerError::BadUrl(_) => "bad_url",
    PeerError::PlaintextRefused(_) => "plaintext_refused",
    PeerError::Tls(_) => "tls",
    PeerError::Refused(_) => "refused",
    PeerError::KeyRevoked => "key_revoked",
    PeerError::TooManyConnections => "too_many_connections",
    PeerError::RateLimited => "rate_limited",
    PeerError::AdminDisconnect => "admin_disconnect",
    PeerError::SessionTakenOver => "session_taken_over",
    PeerError::PolicyViolation => "policy_violation",
    PeerError::MessageTooBig => "message_too_big",
    PeerError::ReconnectGaveUp { .. } => "reconnect_gave_up",
    PeerError::NotJoined => "not_joined",
    PeerError::AlreadyJoined => "already_joined",
    PeerError::SelfSend => "self_send",
    PeerError::InvalidArgs(_) => "invalid_args",
    PeerError::OverMessageQuota => "over_message_quota",
    PeerError::UnknownPeer => "unknown_peer",
    PeerError::PeerUnavailable(_) => "peer_unavailable",
    PeerError::ChannelNotAuthorized => "channel_not_authorized",
    PeerError::ChannelFull => "channel_full",
    PeerError::SlowDown => "slow_down",
    PeerError::OverSignalQuota => "over_signal_quota",
    PeerError::Server { .. } => "server_error",
    PeerError::Timeout => "timeout",
    PeerError::ConnectionLost => "connection_lost",
    PeerError::QueueFull => "queue_full",
    PeerError::Closed => "closed",
});

impl PeerError {
    /// Maps an `error.code` from the server.
    pub fn from_server(code: ErrorCode, message: String) -> PeerError {
        match code {
            ErrorCode::InvalidArgs => PeerError::InvalidArgs(message),
            ErrorCode::NotSubscribed => PeerError::NotJoined,
            ErrorCode::UnknownPeer => PeerError::UnknownPeer,
            ErrorCode::SelfSend => PeerError::SelfSend,
            ErrorCode::PeerUnavailable => PeerError::PeerUnavailable(message),
            ErrorCode::OverMessageQuota => PeerError::OverMessageQuota,
            ErrorCode::ChannelNotAuthorized => PeerError::ChannelNotAuthorized,
            ErrorCode::ChannelFull => PeerError::ChannelFull,
            ErrorCode::SlowDown => PeerError::SlowDown,
            ErrorCode::OverSignalQuota => PeerError::OverSignalQuota,
            other => PeerError::Server { code: other.to_string(), message },
        }
    }

    /// Whether the peer cannot continue after this error (it closes).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            PeerError::InvalidKey
                | PeerError::OriginNotAllowed
                | PeerError::BadUrl(_)
                | PeerError::PlaintextRefused(_)
                | PeerError::Tls(_)
                | PeerError::Refused(_)
                | PeerError::KeyRevoked
                | PeerError::TooManyConnections
                | PeerError::AdminDisconnect
                | PeerError::SessionTakenOver
                | PeerError::PolicyViolation
                | PeerError::MessageTooBig
                | PeerError::ReconnectGaveUp { .. }
        )
    }

    /// The error a server close code stands for; `None` for closes after which the SDK
    /// reconnects (1001, 1013 and unknown codes). The server closes with 1000 only when
    /// another socket resumed the session.
    pub fn from_close(code: u16) -> Option<PeerError> {
        use peerchat_protocol::close;
        match code {
            close::NORMAL => Some(PeerError::SessionTakenOver),
            close::INVALID_KEY => Some(PeerError::KeyRevoked),
            close::OVER_CONNECTION_LIMIT => Some(PeerError::TooManyConnections),
            close::OVER_RATE => Some(PeerError::RateLimited),
            close::ADMIN_DISCONNECT => Some(PeerError::AdminDisconnect),
            close::POLICY | close::INVALID_PAYLOAD => Some(PeerError::PolicyViolation),
            close::TOO_BIG => Some(PeerError::MessageTooBig),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_map_to_fatal_errors() {
        for (code, kind) in [
            (4001, "key_revoked"),
            (4010, "too_many_connections"),
            (4020, "admin_disconnect"),
            (1008, "policy_violation"),
            (1009, "message_too_big"),
            (1000, "session_taken_over"),
        ] {
            let e = PeerError::from_close(code).unwrap();
            assert_eq!(e.kind(), kind);
            assert!(e.is_fatal());
        }
        for code in [1001, 1005, 1006, 1013] {
            assert_eq!(PeerError::from_close(code), None);
        }
        // 4011 is said, but the SDK reconnects after it.
        let throttled = PeerError::from_close(4011).unwrap();
        assert_eq!(throttled.kind(), "rate_limited");
        assert!(!throttled.is_fatal());
    }
}

//! Error codes carried by `error` frames and the WebSocket close codes of the protocol.

use serde::{Deserialize, Serialize};

/// `error.code`: why a client frame failed. The socket stays open after any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// Malformed JSON, binary frames, wrong or missing fields, unknown `type`.
    InvalidArgs,
    /// `publish`/`unsubscribe` for a channel the client has not subscribed to.
    NotSubscribed,
    /// The target peer does not exist or shares no channel with the sender.
    UnknownPeer,
    /// `send`/`signal` addressed to the sender itself.
    SelfSend,
    /// The target is in its grace period and its resume queue is full.
    PeerUnavailable,
    /// The key's message quota for the current period is used up; the frame was dropped.
    OverMessageQuota,
    /// `subscribe` to a channel outside the key's channel globs.
    ChannelNotAuthorized,
    /// `subscribe` to a channel that already holds the server's maximum of peers.
    ChannelFull,
    /// `subscribe`/`unsubscribe` (joins, renames, leaves) faster than the session's
    /// budget allows; nothing changed.
    SlowDown,
    /// The key's signal quota for the current period is used up; the signal was dropped.
    OverSignalQuota,
}

impl ErrorCode {
    /// The snake_case string used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgs => "invalid_args",
            ErrorCode::NotSubscribed => "not_subscribed",
            ErrorCode::UnknownPeer => "unknown_peer",
            ErrorCode::SelfSend => "self_send",
            ErrorCode::PeerUnavailable => "peer_unavailable",
            ErrorCode::OverMessageQuota => "over_message_quota",
            ErrorCode::ChannelNotAuthorized => "channel_not_authorized",
            ErrorCode::ChannelFull => "channel_full",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::OverSignalQuota => "over_signal_quota",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WebSocket close codes used by the protocol.
pub mod close {
    /// Normal closure (also used with reason "resumed" when a resume takes a socket over).
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down (after `going_away`).
    pub const GOING_AWAY: u16 = 1001;
    /// Invalid UTF-8 in a text frame.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// Policy: repeated malformed frames.
    pub const POLICY: u16 = 1008;
    /// A message larger than the maximum frame size.
    pub const TOO_BIG: u16 = 1009;
    /// The socket could not keep up with its outbound queue ("slow consumer"); its
    /// session ends.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The key was revoked while the socket was open.
    pub const INVALID_KEY: u16 = 4001;
    /// Reserved: channel not authorised.
    pub const CHANNEL_NOT_AUTHORIZED: u16 = 4003;
    /// Over the key's concurrent-connection limit.
    pub const OVER_CONNECTION_LIMIT: u16 = 4010;
    /// Over the per-connection message rate.
    pub const OVER_RATE: u16 = 4011;
    /// Disconnected by an administrator.
    pub const ADMIN_DISCONNECT: u16 = 4020;
}

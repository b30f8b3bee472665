//! What a chat session reports. The JSON form (`{"event": "peer-joined", "peerId": ...}`)
//! is the one `chat-cli --json` prints and the one the app's UI receives.

use peerchat_peer::{PathInfo, PeerState, Route, SignallingState};
use serde::Serialize;

/// How a message travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// Over a DataChannel, peer to peer.
    P2p,
    /// Routed by the signalling server.
    Server,
}

impl Via {
    /// The name it serialises as (`p2p`, `server`).
    pub fn as_str(self) -> &'static str {
        match self {
            Via::P2p => "p2p",
            Via::Server => "server",
        }
    }
}

/// What a received message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    /// A chat line (`{"type":"chat","id","text"}`).
    Chat,
    /// A `hello` carrying the sender's name (server-routed).
    Hello,
    /// Any other server-routed JSON; `text` holds it serialised.
    Data,
}

/// An event of a [`crate::ChatSession`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case", rename_all_fields = "camelCase")]
#[non_exhaustive]
pub enum ChatEvent {
    /// The server assigned this peer's id.
    Welcome { peer_id: String },
    /// A remote peer is in the room. `name` is how to show it: its name from presence,
    /// with ` #` and four characters of its id when someone else in the room (we
    /// included) has the same name.
    PeerJoined { peer_id: String, name: String },
    /// How a peer is shown changed: it renamed itself, or someone with the same name
    /// came or went (the id suffix appears or goes).
    PeerRenamed { peer_id: String, name: String },
    /// A remote peer's state changed (`idle`, `connecting`, `connected`, `reconnecting`,
    /// `closed`).
    StateChange { peer_id: String, from: PeerState, to: PeerState },
    /// Our chat channel to this peer is open.
    ChannelOpen { peer_id: String, label: &'static str },
    /// A message arrived. `name` is the sender's latest known name; `at_ms` the local
    /// receive time (milliseconds since the Unix epoch); `written_ms`, for a chat line
    /// that waited for us while we were away, when the sender wrote it (their clock).
    Message {
        from: String,
        name: String,
        via: Via,
        kind: MessageKind,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        text: String,
        at_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        written_ms: Option<u64>,
    },
    /// A remote peer left the room.
    PeerLeft { peer_id: String },
    /// The signalling connection changed state (`connecting`, `connected`,
    /// `reconnecting`, `closed`).
    Signalling { state: SignallingState },
    /// The network path to a connected peer: when it is first known, when the candidate
    /// pair changes, and when its first RTT is measured; always after the `connected`
    /// state change (and channel-open) it belongs to, and said again after every new
    /// `connected`: a state other than `connected` withdraws it. `route` is `direct`,
    /// `direct-through-nat` or `relayed`; the rest are [`PathInfo`]'s fields.
    Path {
        peer_id: String,
        route: Route,
        #[serde(flatten)]
        path: PathInfo,
    },
    /// A peer's safety number and where it stands (`unverified`, `verified`, or
    /// `changed`: a verified name shows another certificate, warn loudly).
    Security(crate::security::SecurityView),
    /// A peer is writing a line (reported at most once a second per peer; show it for
    /// [`crate::typing::SHOWN_FOR`] or until its next line).
    Typing { peer_id: String },
    /// A peer acknowledged our chat line `id` (peers that announced receipts).
    Delivered { peer_id: String, id: String },
    /// We offer a file to a peer (one transfer per peer): `name` is the file's name.
    FileSending { id: String, peer_id: String, name: String, size: u64 },
    /// A peer offers a file: accept or decline transfer `id`. `name` is the offered name
    /// made safe (no path, no control characters).
    FileOffer { id: String, peer_id: String, name: String, size: u64 },
    /// A transfer from before this process restarted was kept: it goes on once the peer
    /// named `peer_name` is back (as itself: the same certificate), from `bytes`.
    FileRestored {
        id: String,
        direction: crate::files::Direction,
        peer_name: String,
        name: String,
        size: u64,
        bytes: u64,
    },
    /// A transfer moved: bytes the receiver confirmed (sending) or wrote (receiving), the
    /// rate in bytes per second and the time left at that rate.
    FileProgress {
        id: String,
        peer_id: String,
        direction: crate::files::Direction,
        bytes: u64,
        size: u64,
        rate: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        eta_ms: Option<u64>,
    },
    /// A transfer ended verified: the SHA-256 of the whole file matched. The receiver
    /// has it at `path`.
    FileDone {
        id: String,
        peer_id: String,
        direction: crate::files::Direction,
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        path: Option<String>,
        sha256: String,
    },
    /// A transfer ended without a verified file (`kind` says why: declined, cancelled,
    /// stalled, hash_mismatch, ...). What arrived stays at `part`, never under the
    /// file's name.
    FileFailed {
        id: String,
        peer_id: String,
        direction: crate::files::Direction,
        kind: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        part: Option<String>,
    },
    /// Something failed. `fatal` errors end the session. `id` names the chat line that
    /// was not delivered, for kinds about one line (`not_delivered`, `overflow`, ...).
    Error {
        kind: String,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        peer_id: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        fatal: bool,
    },
}

/// What the chat itself reports as [`ChatEvent::Error`], besides the SDK's errors
/// ([`peerchat_peer::PeerError::KINDS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A line did not fit the queue of one peer's channel.
    Overflow,
    /// A line could not be sent on one peer's channel.
    SendFailed,
    /// No receipt came for a line from a peer that acknowledges lines.
    NotDelivered,
    /// A line from a peer was beyond the bounds.
    BadMessage,
    /// Our chat channel to a peer did not open.
    ChannelFailed,
}

peerchat_peer::error_kinds!(Problem {
    Problem::Overflow => "overflow",
    Problem::SendFailed => "send_failed",
    Problem::NotDelivered => "not_delivered",
    Problem::BadMessage => "bad_message",
    Problem::ChannelFailed => "channel_failed",
});

impl ChatEvent {
    pub(crate) fn error(kind: &str, message: impl Into<String>, peer_id: Option<&str>) -> ChatEvent {
        ChatEvent::Error {
            kind: kind.to_string(),
            message: message.into(),
            peer_id: peer_id.map(str::to_string),
            id: None,
            fatal: false,
        }
    }

    /// A chat line `id` that did not reach `peer_id`.
    pub(crate) fn undelivered(kind: &str, message: impl Into<String>, peer_id: &str, id: &str) -> ChatEvent {
        ChatEvent::Error {
            kind: kind.to_string(),
            message: message.into(),
            peer_id: Some(peer_id.to_string()),
            id: Some(id.to_string()),
            fatal: false,
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_serialise_as_the_chat_cli_json() {
        let ev = ChatEvent::PeerJoined { peer_id: "p1".into(), name: "bob".into() };
        assert_eq!(serde_json::to_value(&ev).unwrap(), json!({"event": "peer-joined", "peerId": "p1", "name": "bob"}));
        let ev = ChatEvent::Message {
            from: "p1".into(),
            name: "bob".into(),
            via: Via::P2p,
            kind: MessageKind::Chat,
            id: Some("x".into()),
            text: "hi".into(),
            at_ms: 5,
            written_ms: None,
        };
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            json!({"event": "message", "from": "p1", "name": "bob", "via": "p2p", "kind": "chat", "id": "x", "text": "hi", "atMs": 5})
        );
        let path = PathInfo {
            local: peerchat_peer::CandidateKind::Host,
            remote: peerchat_peer::CandidateKind::Relay,
            protocol: "udp".into(),
            local_address: "10.0.0.2:5000".into(),
            remote_address: "203.0.113.9:6000".into(),
            rtt: Some(std::time::Duration::from_millis(42)),
            bytes_sent: 10,
            bytes_received: 20,
        };
        let ev = ChatEvent::Path { peer_id: "p1".into(), route: path.route(), path };
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            json!({"event": "path", "peerId": "p1", "route": "relayed", "local": "host", "remote": "relay",
                   "protocol": "udp", "localAddress": "10.0.0.2:5000", "remoteAddress": "203.0.113.9:6000",
                   "rttMs": 42.0, "bytesSent": 10, "bytesReceived": 20})
        );
        let ev = ChatEvent::StateChange { peer_id: "p1".into(), from: PeerState::Connecting, to: PeerState::Connected };
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            json!({"event": "state-change", "peerId": "p1", "from": "connecting", "to": "connected"})
        );
        let ev = ChatEvent::Signalling { state: SignallingState::Reconnecting };
        assert_eq!(serde_json::to_value(&ev).unwrap(), json!({"event": "signalling", "state": "reconnecting"}));
        let ev = ChatEvent::error(Problem::Overflow.kind(), "full", Some("p2"));
        assert_eq!(
            serde_json::to_value(&ev).unwrap(),
            json!({"event": "error", "kind": "overflow", "message": "full", "peerId": "p2", "fatal": false})
        );
    }
}

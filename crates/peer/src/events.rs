//! What a [`crate::Peer`] reports to the app.

use tokio::sync::mpsc;

use crate::error::PeerError;
use crate::remote::{IncomingChannels, RemotePeer};

/// State of the signalling connection. Serialises as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignallingState {
    /// First connection attempt in progress.
    Connecting,
    /// Connected (the room is re-joined right after).
    Connected,
    /// The socket dropped; reconnecting with backoff. Peer connections keep working.
    Reconnecting,
    /// Closed for good (after `close()` or a fatal error).
    Closed,
}

impl SignallingState {
    /// Lower-case name, as in the chat-cli JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            SignallingState::Connecting => "connecting",
            SignallingState::Connected => "connected",
            SignallingState::Reconnecting => "reconnecting",
            SignallingState::Closed => "closed",
        }
    }
}

/// An event of a [`crate::Peer`].
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerEvent {
    /// The server assigned (or, after a resume, confirmed) this peer's id.
    Welcome { peer_id: String, resumed: bool },
    /// A remote peer is in the room (from a snapshot or a `joined` delta), with the
    /// channels it will open to us.
    PeerJoined(RemotePeer, IncomingChannels),
    /// A remote peer left the room (or its identity changed after a server restart).
    PeerLeft(RemotePeer),
    /// Data routed by the server (`send` or `publish` of another peer).
    Message { from: String, channel: Option<String>, data: serde_json::Value },
    /// The signalling connection changed state.
    Signalling(SignallingState),
    /// Something failed. Fatal errors ([`PeerError::is_fatal`]) end the peer.
    Error(PeerError),
}

/// The events of a [`crate::Peer`], in order, apart from the handle: one reader owns
/// them. Ends once the peer is closed and every event was read.
#[derive(Debug)]
pub struct PeerEvents {
    rx: mpsc::Receiver<PeerEvent>,
}

impl PeerEvents {
    pub(crate) fn new(rx: mpsc::Receiver<PeerEvent>) -> PeerEvents {
        PeerEvents { rx }
    }

    /// The next event; `None` once the peer is closed and every event was read.
    pub async fn next(&mut self) -> Option<PeerEvent> {
        self.rx.recv().await
    }
}

//! A remote peer in the room: its identity, its connection state, the native peer
//! connection of the moment, and the DataChannels it opens. One task per remote peer
//! ([`task`]) owns all of that; this handle only sends it commands and reads what it
//! publishes.

mod control_message;
mod recovery;
mod task;

use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::datachannel::{DataChannel, DataChannelOptions, Messages};
use crate::engine::{ChannelInit, NativePeerConnection};
use crate::path::PathInfo;
use crate::safety::PeerSecurity;
pub(crate) use task::{spawn, RemoteCmd, Spawn};

/// Connection state of a remote peer. Serialises as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PeerState {
    /// Known from presence; no connection yet (the polite side waits for an offer).
    Idle,
    /// First connection being negotiated.
    Connecting,
    /// The control channel is open: data flows peer to peer.
    Connected,
    /// The path broke; ICE restart or rebuild in progress.
    Reconnecting,
    /// Gone (left the room, or the local peer closed).
    Closed,
}

impl PeerState {
    /// Lower-case name, as in the chat-cli JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            PeerState::Idle => "idle",
            PeerState::Connecting => "connecting",
            PeerState::Connected => "connected",
            PeerState::Reconnecting => "reconnecting",
            PeerState::Closed => "closed",
        }
    }
}

/// Changes of a remote peer's path (see [`RemotePeer::path_updates`]).
pub struct PathUpdates(watch::Receiver<Option<PathInfo>>);

impl PathUpdates {
    /// Waits for the path to change and returns it (`Some(None)`: not connected now);
    /// `None` once the remote peer is gone.
    pub async fn next(&mut self) -> Option<Option<PathInfo>> {
        self.0.changed().await.ok()?;
        Some(self.0.borrow_and_update().clone())
    }
}

/// Changes of a remote peer's name (see [`RemotePeer::name_updates`]).
pub struct NameUpdates(watch::Receiver<String>);

impl NameUpdates {
    /// Waits for the name to change and returns it; `None` once the remote peer is gone.
    pub async fn next(&mut self) -> Option<String> {
        self.0.changed().await.ok()?;
        Some(self.0.borrow_and_update().clone())
    }
}

/// Changes of what protects the connection to a remote peer (see
/// [`RemotePeer::security_updates`]).
pub struct SecurityUpdates(watch::Receiver<Option<PeerSecurity>>);

impl SecurityUpdates {
    /// Waits for the fingerprints to change and returns them; `None` once the remote peer
    /// is gone.
    pub async fn next(&mut self) -> Option<PeerSecurity> {
        loop {
            self.0.changed().await.ok()?;
            if let Some(s) = self.0.borrow_and_update().clone() {
                return Some(s);
            }
        }
    }
}

/// A transition of a remote peer's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateChange {
    pub from: PeerState,
    pub to: PeerState,
}

/// Why a channel could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenChannelError {
    /// There is no connection to open it on (not yet, or no longer).
    #[error("no connection to this peer")]
    NotConnected,
    /// The remote peer is closed.
    #[error("the remote peer is closed")]
    Closed,
    /// The engine refused.
    #[error("{0}")]
    Engine(String),
}

pub(crate) struct Shared {
    pub id: String,
    pub polite: bool,
    pub name: watch::Sender<String>,
    pub state: watch::Receiver<PeerState>,
    pub changes: broadcast::Sender<StateChange>,
    pub pc: watch::Receiver<Option<NativePeerConnection>>,
    pub path: watch::Receiver<Option<PathInfo>>,
    pub security: watch::Receiver<Option<PeerSecurity>>,
    pub cmd: mpsc::Sender<RemoteCmd>,
}

/// The channels a remote peer opens to us, each with its stream of messages, handed out
/// once with [`crate::PeerEvent::PeerJoined`]. Dropping it closes the channels the peer
/// opens from then on, so a peer cannot make this side hold channels nobody reads.
#[derive(Debug)]
pub struct IncomingChannels(pub(crate) mpsc::Receiver<(DataChannel, Messages)>);

impl IncomingChannels {
    /// The next channel the other side opens; `None` once the remote peer is closed.
    pub async fn next(&mut self) -> Option<(DataChannel, Messages)> {
        self.0.recv().await
    }
}

/// A remote peer. Cheap to clone; all clones are the same peer.
#[derive(Clone)]
pub struct RemotePeer {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for RemotePeer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotePeer").field("id", &self.shared.id).field("state", &self.state()).finish()
    }
}

impl PartialEq for RemotePeer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// State changes of one remote peer, in order.
pub struct StateChanges {
    rx: broadcast::Receiver<StateChange>,
    state: watch::Receiver<PeerState>,
    last: PeerState,
}

impl StateChanges {
    /// The next transition; `None` after `Closed`. A reader that fell more than 256
    /// transitions behind gets one change from its last seen state to the current one.
    pub async fn next(&mut self) -> Option<StateChange> {
        if self.last == PeerState::Closed {
            return None;
        }
        let change = match self.rx.recv().await {
            Ok(c) => c,
            Err(broadcast::error::RecvError::Lagged(_)) => StateChange { from: self.last, to: *self.state.borrow() },
            Err(broadcast::error::RecvError::Closed) => StateChange { from: self.last, to: PeerState::Closed },
        };
        self.last = change.to;
        Some(change)
    }
}

impl RemotePeer {
    /// The remote peer's id.
    pub fn id(&self) -> &str {
        &self.shared.id
    }

    /// Its display name, from presence (the server checked it).
    pub fn name(&self) -> String {
        self.shared.name.borrow().clone()
    }

    /// Follows [`RemotePeer::name`] (a `joined` refresh with a new name).
    pub fn name_updates(&self) -> NameUpdates {
        NameUpdates(self.shared.name.subscribe())
    }

    /// Whether this side is the polite one of the pair (the remote id is greater).
    pub fn polite(&self) -> bool {
        self.shared.polite
    }

    /// The current state.
    pub fn state(&self) -> PeerState {
        *self.shared.state.borrow()
    }

    /// Transitions from now on.
    pub fn state_changes(&self) -> StateChanges {
        StateChanges { rx: self.shared.changes.subscribe(), state: self.shared.state.clone(), last: self.state() }
    }

    /// Waits until the peer reaches `state` (or closes; then false unless `state` is
    /// `Closed`).
    pub async fn wait_for(&self, state: PeerState) -> bool {
        let mut rx = self.shared.state.clone();
        loop {
            let now = *rx.borrow_and_update();
            if now == state {
                return true;
            }
            if now == PeerState::Closed || rx.changed().await.is_err() {
                return state == PeerState::Closed;
            }
        }
    }

    /// The path of the connection while connected: the selected candidate pair, RTT
    /// and bytes; `None` otherwise. Refreshed at every control ping (5 s by default).
    pub fn path(&self) -> Option<PathInfo> {
        self.shared.path.borrow().clone()
    }

    /// Follows [`RemotePeer::path`]: each call of [`PathUpdates::next`] waits for a change.
    pub fn path_updates(&self) -> PathUpdates {
        PathUpdates(self.shared.path.clone())
    }

    /// What protects the connection: our certificate's fingerprint and the other side's,
    /// as the descriptions carried them, and the [`crate::SafetyNumber`] of the pair;
    /// `None` until the first offer and answer are applied. It stays after the connection
    /// drops, and changes when a new connection brings another fingerprint. Two people
    /// who read the same number to each other know that nobody relaying the signalling
    /// replaced the fingerprints (and so could read their chat).
    pub fn security(&self) -> Option<PeerSecurity> {
        self.shared.security.borrow().clone()
    }

    /// Follows [`RemotePeer::security`]: each call of [`SecurityUpdates::next`] waits for
    /// a change.
    pub fn security_updates(&self) -> SecurityUpdates {
        SecurityUpdates(self.shared.security.clone())
    }

    /// The native peer connection of the moment. It is replaced when the connection is
    /// rebuilt: do not keep it.
    pub fn pc(&self) -> Option<NativePeerConnection> {
        self.shared.pc.borrow().clone()
    }

    /// Opens an in-band channel on the current connection; its messages arrive on the
    /// [`Messages`] stream that comes with it.
    pub async fn open_channel(
        &self,
        label: &str,
        init: ChannelInit,
        opts: DataChannelOptions,
    ) -> Result<(DataChannel, Messages), OpenChannelError> {
        let (tx, rx) = oneshot::channel();
        let cmd = RemoteCmd::OpenChannel { label: label.to_string(), init, opts, reply: tx };
        self.shared.cmd.send(cmd).await.map_err(|_| OpenChannelError::Closed)?;
        rx.await.map_err(|_| OpenChannelError::Closed)?
    }

    /// Forces an ICE restart (as if the path had failed). The impolite side of the pair
    /// sends the restart offer; called on the polite side, this probes the path on the
    /// `control` channel and waits for the other side's offer (rebuilding if neither a
    /// pong nor an offer comes within `ice_restart_timeout`).
    pub async fn restart_ice(&self) {
        let _ = self.shared.cmd.send(RemoteCmd::RestartIce).await;
    }

    /// Forces a rebuild of the connection with a new generation.
    pub async fn rebuild(&self) {
        let _ = self.shared.cmd.send(RemoteCmd::Rebuild).await;
    }

    pub(crate) fn set_name(&self, name: &str) {
        self.shared.name.send_if_modified(|n| {
            if n != name {
                *n = name.to_string();
                true
            } else {
                false
            }
        });
    }

    pub(crate) async fn close(&self) {
        let _ = self.shared.cmd.send(RemoteCmd::Close).await;
        self.wait_for(PeerState::Closed).await;
    }
}

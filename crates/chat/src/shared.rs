//! The state a session's tasks share ([`Shared`], behind one mutex never held across an
//! `.await`) and what every task needs to act ([`Inner`]: the peer, the event queue, the
//! cancellation token and task trackers).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};

use peerchat_peer::{DataChannel, Peer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::event::ChatEvent;
use crate::names::Names;
use crate::receipts::Receipts;
use crate::seen::Seen;
use crate::trust::TrustStore;

pub(crate) struct Shared {
    /// Our open "messages" channel to each peer.
    pub(crate) outs: HashMap<String, DataChannel>,
    /// Remote peers in the room, with the names presence gave them.
    pub(crate) names: Names,
    pub(crate) seen: Seen,
    /// Peers that left (bounded: the oldest are forgotten).
    pub(crate) left: Seen,
    /// Lines sent peer to peer that wait for an ack.
    pub(crate) receipts: Receipts,
    /// Peers that acknowledge chat lines (announced in `hello`, or seen acking).
    pub(crate) acks_from: HashSet<String>,
    /// The latest fingerprints of each remote peer in the room.
    pub(crate) security: HashMap<String, peerchat_peer::PeerSecurity>,
    /// File transfers under way, both ways, by id (at most `files.max_transfers`).
    pub(crate) transfers: HashMap<String, crate::files::Handle>,
    /// The typing notes' limits, both ways.
    pub(crate) typing: crate::typing::Typing,
}

impl Shared {
    pub(crate) fn new(me: &str) -> Shared {
        Shared {
            outs: HashMap::new(),
            names: Names::new(me),
            seen: Seen::default(),
            left: Seen::new(crate::seen::DEPARTED),
            receipts: Receipts::default(),
            acks_from: HashSet::new(),
            security: HashMap::new(),
            transfers: HashMap::new(),
            typing: crate::typing::Typing::default(),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) peer: Peer,
    pub(crate) room: String,
    pub(crate) name: String,
    pub(crate) state: Mutex<Shared>,
    pub(crate) tx: mpsc::Sender<ChatEvent>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tasks: TaskTracker,
    pub(crate) sends: TaskTracker,
    pub(crate) counter: AtomicU64,
    pub(crate) fallback: bool,
    pub(crate) trust: Arc<TrustStore>,
    pub(crate) files: crate::files::FilesConfig,
    /// Wakes the receipts task when a line starts waiting for its ack.
    pub(crate) receipts_changed: tokio::sync::Notify,
    /// Every remote peer each time it becomes `connected` (file transfers waiting for a
    /// peer that restarted look for it here).
    pub(crate) arrivals: tokio::sync::broadcast::Sender<peerchat_peer::RemotePeer>,
    /// The runtime the session started on: `send_line` may be called from any thread.
    pub(crate) runtime: tokio::runtime::Handle,
}

impl Inner {
    /// The shared state; never held across an `.await`.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reports an event, waiting for room in the queue unless the session is ending.
    pub(crate) async fn emit(&self, ev: ChatEvent) {
        tokio::select! {
            _ = self.tx.send(ev) => {}
            _ = self.cancel.cancelled() => {}
        }
    }

    /// Whether line `id` from peer `from` is new (ids are the sender's: another peer
    /// cannot hide a line by using its id first).
    pub(crate) fn first_sight(&self, from: &str, id: &str) -> bool {
        let mut g = self.lock();
        g.typing.line_from(from, tokio::time::Instant::now());
        g.seen.first_sight(&format!("{from}\n{id}"))
    }

    pub(crate) fn name_of(&self, peer_id: &str) -> String {
        self.lock().names.shown(peer_id)
    }

    /// Sends `wire` on our open channel to `peer`, if there is one, without waiting.
    pub(crate) fn send_soon(&self, peer: &str, wire: String) {
        let dc = self.lock().outs.get(peer).filter(|dc| dc.is_open()).cloned();
        if let Some(dc) = dc {
            self.tasks.spawn(async move {
                let _ = dc.send(wire).await;
            });
        }
    }
}

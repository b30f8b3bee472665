//! [`ChatSession`]: one person in one room. A driver task turns the peer's events into
//! [`ChatEvent`]s; one watcher per remote peer re-opens the chat channel on every
//! transition to `connected` (see [`crate::remote`]). Everything stops on
//! [`ChatSession::leave`] (a `CancellationToken` and `TaskTracker`s, bounded waits).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use peerchat_peer::peer_message::PeerMessage;
use peerchat_peer::{DataChannel, DataChannelError, Peer, PeerError, PeerEvent, PeerOptions};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::event::{now_ms, ChatEvent, MessageKind, Via};
use crate::names::Names;
use crate::receipts::{Receipts, DEADLINE};
use crate::seen::Seen;
use crate::trust::{TrustError, TrustStore};

/// Longest chat line accepted, in bytes of UTF-8. The chat JSON around it stays well under
/// both the DataChannel's 64 KiB message limit and the server's frame limit.
pub const MAX_TEXT_BYTES: usize = 16 * 1024;
/// Longest chat id accepted from a peer, in bytes (ours are about 30).
pub const MAX_ID_BYTES: usize = 128;

/// Whether a chat line from a peer is within bounds; why not otherwise.
pub(crate) fn check_line(id: &str, text: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_BYTES {
        return Err(format!("its id is empty or longer than {MAX_ID_BYTES} bytes"));
    }
    if text.len() > MAX_TEXT_BYTES {
        return Err(format!("it is {} bytes; at most {MAX_TEXT_BYTES} are accepted", text.len()));
    }
    Ok(())
}

/// Events buffered for a slow reader before the session waits for it.
const EVENT_QUEUE: usize = 1024;
/// Bound on each step of leaving (queued sends, `unsubscribe`, close).
const LEAVE_STEP: Duration = Duration::from_secs(5);

/// What a session needs.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    pub options: PeerOptions,
    pub room: String,
    pub name: String,
    /// How long the first connection and join may take (default 20 s).
    pub join_wait: Duration,
    /// Send to peers without an open channel through the server (default off: P2P only,
    /// as chat-cli's contract says).
    pub server_fallback: bool,
    /// The peers the person verified (shared by an app's sessions; in memory by default).
    pub trust: Arc<TrustStore>,
}

impl ChatConfig {
    pub fn new(options: PeerOptions, room: impl Into<String>, name: impl Into<String>) -> ChatConfig {
        ChatConfig {
            options,
            room: room.into(),
            name: name.into(),
            join_wait: Duration::from_secs(20),
            server_fallback: false,
            trust: Arc::new(TrustStore::in_memory()),
        }
    }
}

/// Why a session could not start or a line was not sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChatError {
    #[error("could not reach the signalling server within {0:?}")]
    Unreachable(Duration),
    #[error(transparent)]
    Peer(#[from] PeerError),
    #[error("no peer is connected; the line was not sent")]
    NoPeers,
    #[error("an empty line is not sent")]
    Empty,
    #[error("the line is {len} bytes; at most {max} are sent")]
    TooLong { len: usize, max: usize },
    #[error("the session has ended")]
    Ended,
    #[error("{0} lines still wait for delivery receipts; wait before sending more")]
    Backlog(usize),
    #[error("no safety number is known for {0} yet: wait until you are connected")]
    NoSafetyNumber(String),
    #[error(transparent)]
    Trust(#[from] TrustError),
}

impl ChatError {
    /// A stable snake_case name, for JSON output and UIs.
    pub fn kind(&self) -> &'static str {
        match self {
            ChatError::Unreachable(_) => "unreachable",
            ChatError::Peer(e) => e.kind(),
            ChatError::NoPeers => "no_peers",
            ChatError::Empty => "empty",
            ChatError::TooLong { .. } => "too_long",
            ChatError::Ended => "ended",
            ChatError::Backlog(_) => "backlog",
            ChatError::NoSafetyNumber(_) => "no_safety_number",
            ChatError::Trust(_) => "trust",
        }
    }
}

/// Where a line went: peer ids reached over a DataChannel, through the server, and
/// peers it waits for (they acknowledge lines, and their channel is being re-opened: the
/// line goes out when it opens, or is reported `not_delivered`). Serialises as the app's
/// UI receives it (`{"id","p2p","server","queued"}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sent {
    pub id: String,
    pub p2p: Vec<String>,
    pub server: Vec<String>,
    pub queued: Vec<String>,
}

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
}

impl Shared {
    fn new(me: &str) -> Shared {
        Shared {
            outs: HashMap::new(),
            names: Names::new(me),
            seen: Seen::default(),
            left: Seen::new(crate::seen::DEPARTED),
            receipts: Receipts::default(),
            acks_from: HashSet::new(),
            security: HashMap::new(),
        }
    }
}

pub(crate) struct Inner {
    pub(crate) peer: Peer,
    name: String,
    state: Mutex<Shared>,
    tx: mpsc::Sender<ChatEvent>,
    pub(crate) cancel: CancellationToken,
    pub(crate) tasks: TaskTracker,
    sends: TaskTracker,
    counter: AtomicU64,
    fallback: bool,
    pub(crate) trust: Arc<TrustStore>,
    /// Wakes the receipts task when a line starts waiting for its ack.
    pub(crate) receipts_changed: tokio::sync::Notify,
    /// The runtime the session started on: `send_line` may be called from any thread.
    runtime: tokio::runtime::Handle,
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

    pub(crate) fn first_sight(&self, id: &str) -> bool {
        self.lock().seen.first_sight(id)
    }

    pub(crate) fn name_of(&self, peer_id: &str) -> String {
        self.lock().names.shown(peer_id)
    }
}

/// One person in one room. Cheap to clone.
#[derive(Clone)]
pub struct ChatSession {
    pub(crate) inner: Arc<Inner>,
}

/// The session's events, in order. Ends after the session ends.
pub struct ChatEvents {
    rx: mpsc::Receiver<ChatEvent>,
    ended: CancellationToken,
}

impl ChatEvents {
    pub async fn next(&mut self) -> Option<ChatEvent> {
        tokio::select! {
            biased;
            ev = self.rx.recv() => ev,
            _ = self.ended.cancelled() => self.rx.try_recv().ok(),
        }
    }
}

impl ChatSession {
    /// Connects, joins `room` as `name`, and starts following the room.
    pub async fn start(config: ChatConfig) -> Result<(ChatSession, ChatEvents), ChatError> {
        let peer = Peer::new(config.options);
        match tokio::time::timeout(config.join_wait, peer.join(&config.room, &config.name)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                peer.close().await;
                return Err(e.into());
            }
            Err(_) => {
                peer.close().await;
                return Err(ChatError::Unreachable(config.join_wait));
            }
        }
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        let inner = Arc::new(Inner {
            peer,
            state: Mutex::new(Shared::new(&config.name)),
            name: config.name,
            tx,
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            sends: TaskTracker::new(),
            counter: AtomicU64::new(0),
            fallback: config.server_fallback,
            trust: config.trust,
            receipts_changed: tokio::sync::Notify::new(),
            runtime: tokio::runtime::Handle::current(),
        });
        let ended = CancellationToken::new();
        let (driver, done) = (inner.clone(), ended.clone());
        inner.tasks.spawn(async move {
            drive(driver).await;
            done.cancel();
        });
        inner.tasks.spawn(crate::remote::drive_receipts(inner.clone()));
        Ok((ChatSession { inner }, ChatEvents { rx, ended }))
    }

    /// Our peer id (it changes if the server restarted without resuming us).
    pub fn peer_id(&self) -> String {
        self.inner.peer.peer_id().unwrap_or_default()
    }

    /// The underlying SDK peer (for its remote peers and connections).
    pub fn peer(&self) -> &Peer {
        &self.inner.peer
    }

    /// Sends one chat line to every peer in the room: over our open channel to it, or,
    /// with `server_fallback`, through the server. Delivery failures for single peers
    /// arrive later as [`ChatEvent::Error`] (`overflow`, `send_failed`, and
    /// `not_delivered` when a peer that acknowledges lines did not within 10 s); their
    /// acks arrive as [`ChatEvent::Delivered`]. Callable from any thread, inside a
    /// runtime or not.
    pub fn send_line(&self, text: &str) -> Result<Sent, ChatError> {
        let inner = &self.inner;
        if inner.cancel.is_cancelled() {
            return Err(ChatError::Ended);
        }
        if text.trim().is_empty() {
            return Err(ChatError::Empty);
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(ChatError::TooLong { len: text.len(), max: MAX_TEXT_BYTES });
        }
        let (p2p, server, queued): (Vec<(String, DataChannel)>, Vec<String>, Vec<String>) = {
            let g = inner.lock();
            let p2p: Vec<_> =
                g.outs.iter().filter(|(_, dc)| dc.is_open()).map(|(p, dc)| (p.clone(), dc.clone())).collect();
            let rest = g.names.ids().filter(|p| !p2p.iter().any(|(q, _)| q == *p)).cloned();
            let (server, queued) = if inner.fallback {
                (rest.collect(), Vec::new())
            } else {
                (Vec::new(), rest.filter(|p| g.acks_from.contains(p)).collect())
            };
            (p2p, server, queued)
        };
        if p2p.is_empty() && server.is_empty() && queued.is_empty() {
            return Err(ChatError::NoPeers);
        }
        let n = inner.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("{}-{n}", self.peer_id());
        let chat = PeerMessage::Chat { id: id.clone(), text: text.to_string() };
        let wire = chat.to_json();
        {
            // Every copy is tracked or none: a full table refuses the whole line.
            let mut g = inner.lock();
            let now = tokio::time::Instant::now();
            let acking: Vec<&String> = p2p.iter().map(|(p, _)| p).filter(|p| g.acks_from.contains(*p)).collect();
            if g.receipts.len() + acking.len() + queued.len() > crate::receipts::MAX_PENDING {
                return Err(ChatError::Backlog(g.receipts.len()));
            }
            for p in acking.into_iter().chain(&queued) {
                let _ = g.receipts.track(p, &id, &wire, now);
            }
        }
        inner.receipts_changed.notify_one();
        let p2p_ids = p2p.iter().map(|(p, _)| p.clone()).collect();
        let sent = Sent { id: id.clone(), p2p: p2p_ids, server: server.clone(), queued };
        for (peer_id, dc) in p2p {
            let (inner, wire, id) = (self.inner.clone(), wire.clone(), id.clone());
            let task = async move {
                let kind = match dc.send(wire).await {
                    Ok(()) => return,
                    Err(DataChannelError::Overflow(_)) => "overflow",
                    Err(_) => "send_failed",
                };
                // Reported here, so the receipts no longer wait for it.
                inner.lock().receipts.ack(&peer_id, &id);
                let msg = format!("a line was not delivered to {peer_id}");
                inner.emit(ChatEvent::undelivered(kind, msg, &peer_id, &id)).await;
            };
            self.inner.sends.spawn_on(task, &self.inner.runtime);
        }
        // The server path carries the same chat JSON as a value (built only when needed;
        // serialising a struct of strings cannot fail).
        let value = if server.is_empty() { Value::Null } else { serde_json::to_value(&chat).unwrap_or(Value::Null) };
        for peer_id in server {
            let (inner, value) = (self.inner.clone(), value.clone());
            let task = async move {
                if let Err(e) = inner.peer.send_to(&peer_id, &value).await {
                    let msg = format!("a line was not delivered to {peer_id} through the server: {e}");
                    inner.emit(ChatEvent::error(e.kind(), msg, Some(&peer_id))).await;
                }
            };
            self.inner.sends.spawn_on(task, &self.inner.runtime);
        }
        Ok(sent)
    }

    /// Leaves the room cleanly: queued sends get a moment to finish, then `unsubscribe`
    /// (the others see us leave at once) and close. Every step is bounded.
    pub async fn leave(&self) {
        let inner = &self.inner;
        inner.sends.close();
        let _ = tokio::time::timeout(LEAVE_STEP, inner.sends.wait()).await;
        // Lines still waiting for receipts get their chance (resends go on meanwhile);
        // what is left is reported before the events end.
        let settled = tokio::time::timeout(LEAVE_STEP.min(DEADLINE), async {
            while !inner.lock().receipts.is_empty() && !inner.cancel.is_cancelled() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        if settled.await.is_err() {
            let left = inner.lock().receipts.drain();
            for (peer, id) in left {
                let msg = format!("a line was not delivered to {peer}: the session ended before its receipt");
                inner.emit(ChatEvent::undelivered("not_delivered", msg, &peer, &id)).await;
            }
        }
        if !inner.cancel.is_cancelled() {
            let _ = tokio::time::timeout(LEAVE_STEP, inner.peer.leave()).await;
        }
        inner.cancel.cancel();
        let outs: Vec<DataChannel> = inner.lock().outs.drain().map(|(_, dc)| dc).collect();
        for dc in outs {
            dc.close().await;
        }
        let _ = tokio::time::timeout(LEAVE_STEP, inner.peer.close()).await;
        inner.tasks.close();
        let _ = tokio::time::timeout(LEAVE_STEP, inner.tasks.wait()).await;
    }
}

/// Turns the peer's events into chat events until the peer ends or the session leaves.
async fn drive(inner: Arc<Inner>) {
    loop {
        let ev = tokio::select! {
            ev = inner.peer.next_event() => ev,
            _ = inner.cancel.cancelled() => return,
        };
        let Some(ev) = ev else { return };
        if !on_event(&inner, ev).await {
            return;
        }
    }
}

/// Handles one peer event; false once the session cannot go on.
async fn on_event(inner: &Arc<Inner>, ev: PeerEvent) -> bool {
    match ev {
        PeerEvent::Welcome { peer_id, .. } => inner.emit(ChatEvent::Welcome { peer_id }).await,
        PeerEvent::PeerJoined(r) => {
            let id = r.id().to_string();
            let (name, renamed) = {
                let mut g = inner.lock();
                let renamed = g.names.set(&id, &r.name());
                g.left.remove(&id);
                (g.names.shown(&id), renamed)
            };
            inner.emit(ChatEvent::PeerJoined { peer_id: id.clone(), name }).await;
            crate::remote::renamed(inner, renamed).await;
            let hello = inner.clone();
            inner.tasks.spawn(async move {
                let greeting = PeerMessage::Hello { name: hello.name.clone(), receipts: true };
                // A struct of strings and a bool: serialising it cannot fail.
                let data = serde_json::to_value(&greeting).unwrap_or(Value::Null);
                if let Err(e) = hello.peer.send_to(&id, &data).await {
                    hello.emit(ChatEvent::error(e.kind(), format!("hello to {id} failed: {e}"), Some(&id))).await;
                }
            });
            crate::remote::watch(inner.clone(), r);
        }
        PeerEvent::PeerLeft(r) => {
            let id = r.id().to_string();
            let (dc, undelivered, renamed) = {
                let mut g = inner.lock();
                let renamed = g.names.remove(&id);
                g.security.remove(&id);
                g.left.first_sight(&id);
                g.acks_from.remove(&id);
                (g.outs.remove(&id), g.receipts.peer_gone(&id), renamed)
            };
            if let Some(dc) = dc {
                inner.tasks.spawn(async move { dc.close().await });
            }
            for line in undelivered {
                let msg = format!("a line was not delivered to {id}: they left before acknowledging it");
                inner.emit(ChatEvent::undelivered("not_delivered", msg, &id, &line)).await;
            }
            inner.emit(ChatEvent::PeerLeft { peer_id: id }).await;
            crate::remote::renamed(inner, renamed).await;
        }
        PeerEvent::Message { from, data, .. } => on_server_message(inner, from, data).await,
        PeerEvent::Signalling(state) => inner.emit(ChatEvent::Signalling { state }).await,
        PeerEvent::Error(e) => {
            let fatal = e.is_fatal();
            let ev =
                ChatEvent::Error { kind: e.kind().to_string(), message: e.to_string(), peer_id: None, id: None, fatal };
            inner.emit(ev).await;
            if fatal {
                return false;
            }
        }
        _ => {}
    }
    true
}

async fn on_server_message(inner: &Arc<Inner>, from: String, data: Value) {
    let ty = data.get("type").and_then(Value::as_str);
    let (kind, id, text) = match ty {
        // The name in a hello is not used: presence carries the name the server checked.
        Some("hello") => {
            let mut g = inner.lock();
            if data.get("receipts") == Some(&Value::Bool(true)) && !g.left.contains(&from) {
                g.acks_from.insert(from.clone());
            }
            (MessageKind::Hello, None, data.to_string())
        }
        Some("chat") => match serde_json::from_value::<PeerMessage>(data.clone()).ok() {
            Some(PeerMessage::Chat { id, text }) => {
                if let Err(why) = check_line(&id, &text) {
                    let msg = format!("a chat line from {from} was refused: {why}");
                    inner.emit(ChatEvent::error("bad_message", msg, Some(&from))).await;
                    return;
                }
                if !inner.first_sight(&id) {
                    return;
                }
                (MessageKind::Chat, Some(id), text)
            }
            _ => (MessageKind::Data, None, data.to_string()),
        },
        _ => (MessageKind::Data, None, data.to_string()),
    };
    let name = inner.name_of(&from);
    inner.emit(ChatEvent::Message { from, name, via: Via::Server, kind, id, text, at_ms: now_ms() }).await;
}

//! [`ChatSession`]: one person in one room, the handle apps hold, and [`ChatEvents`], the
//! separate stream of what happens. A driver task turns the peer's events into
//! [`ChatEvent`]s ([`crate::driver`]); one watcher per remote peer re-opens the chat
//! channel on every transition to `connected` ([`crate::remote`]); a receipts task sends
//! unacknowledged lines again ([`crate::receipts::task`]). Everything stops on
//! [`ChatSession::leave`] (a `CancellationToken` and `TaskTracker`s, bounded waits).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use peerchat_peer::{DataChannel, DataChannelError, Peer};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::ChatConfig;
use crate::error::ChatError;
use crate::event::{ChatEvent, Problem};
use crate::receipts::DEADLINE;
use crate::shared::{Inner, Shared};
use crate::wire::{ChatMessage, MAX_TEXT_BYTES};

/// Events buffered for a slow reader before the session waits for it.
const EVENT_QUEUE: usize = 1024;
/// Connected peers announced to transfers waiting for one (a lagging listener misses old
/// ones, never new ones).
const ARRIVALS: usize = 64;
/// Bound on each step of leaving (queued sends, `unsubscribe`, close).
const LEAVE_STEP: Duration = Duration::from_secs(5);

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
        let (peer, events) = Peer::new(config.options);
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
            room: config.room,
            name: config.name,
            tx,
            cancel: CancellationToken::new(),
            tasks: TaskTracker::new(),
            sends: TaskTracker::new(),
            counter: AtomicU64::new(0),
            fallback: config.server_fallback,
            trust: config.trust,
            files: config.files,
            receipts_changed: tokio::sync::Notify::new(),
            arrivals: tokio::sync::broadcast::channel(ARRIVALS).0,
            runtime: tokio::runtime::Handle::current(),
        });
        // Before the driver meets the room's peers: restored transfers wait for theirs.
        let restored = crate::files::restore(&inner).await;
        let ended = CancellationToken::new();
        let (driver, done) = (inner.clone(), ended.clone());
        inner.tasks.spawn(async move {
            crate::driver::drive(driver, events, restored).await;
            done.cancel();
        });
        inner.tasks.spawn(crate::receipts::task::drive(inner.clone()));
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
        self.send_line_as(&self.next_line_id(), text)
    }

    /// [`ChatSession::send_line`] with the id given (from
    /// [`ChatSession::next_line_id`]), for a caller that keeps the line before it goes out.
    pub fn send_line_as(&self, id: &str, text: &str) -> Result<Sent, ChatError> {
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
        let id = id.to_string();
        let chat = ChatMessage::Chat { id: id.clone(), text: text.to_string(), at: None };
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
                    Err(DataChannelError::Overflow(_)) => Problem::Overflow.kind(),
                    Err(_) => Problem::SendFailed.kind(),
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
        let value = if server.is_empty() { Value::Null } else { chat.to_value() };
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

    /// A new id for a line of ours, unique to this session (for a line kept for someone
    /// away and sent later with [`ChatSession::deliver`]).
    pub fn next_line_id(&self) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}-{n}", self.peer_id())
    }

    /// Sends line `id`, written at `at_ms`, to `peer_id` alone: a line that waited for
    /// this peer while it was away. Tracked like any line: sent on the peer's chat
    /// channel as soon as it is open, again until acknowledged, then
    /// [`ChatEvent::Delivered`]; or `not_delivered` after 10 s.
    pub fn deliver(&self, peer_id: &str, id: &str, text: &str, at_ms: u64) -> Result<(), ChatError> {
        let inner = &self.inner;
        if inner.cancel.is_cancelled() {
            return Err(ChatError::Ended);
        }
        if text.len() > MAX_TEXT_BYTES {
            return Err(ChatError::TooLong { len: text.len(), max: MAX_TEXT_BYTES });
        }
        let wire = ChatMessage::Chat { id: id.to_string(), text: text.to_string(), at: Some(at_ms) }.to_json();
        {
            let mut g = inner.lock();
            if !g.names.contains(peer_id) {
                return Err(ChatError::UnknownPeer(peer_id.to_string()));
            }
            let now = tokio::time::Instant::now();
            g.receipts.track(peer_id, id, &wire, now).map_err(|_| ChatError::Backlog(g.receipts.len()))?;
            g.receipts.kick(peer_id, now);
        }
        inner.receipts_changed.notify_one();
        Ok(())
    }

    /// Whether our chat channel to `peer_id` is open.
    pub fn channel_open(&self, peer_id: &str) -> bool {
        self.inner.lock().outs.get(peer_id).is_some_and(|dc| dc.is_open())
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
                inner.emit(ChatEvent::undelivered(Problem::NotDelivered.kind(), msg, &peer, &id)).await;
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

//! Following one remote peer: its state changes (re-opening our chat channel on every
//! transition to `connected`), its name, its fingerprints, and the channels it opens to
//! us.

use std::sync::Arc;
use std::time::Duration;

use peerchat_peer::{
    ChannelInit, DataChannel, DataChannelOptions, IncomingChannels, Message, Messages, PeerState, RemotePeer,
    StateChanges,
};

use crate::event::{now_ms, ChatEvent, MessageKind, Problem, Via};
use crate::path_report::PathReport;
use crate::shared::Inner;
use crate::wire::{check_line, ChatMessage, LABEL};

/// How long a new channel may take to open.
const OPEN_WAIT: Duration = Duration::from_secs(10);
/// How long after our channel closed under a `connected` peer we wait before rebuilding.
const CLOSE_SETTLE: Duration = Duration::from_millis(500);

/// Reports peers whose shown name changed (each with its safety number again: trust is
/// kept by name).
pub(crate) async fn renamed(inner: &Arc<Inner>, changed: Vec<(String, String)>) {
    for (peer_id, name) in changed {
        inner.emit(ChatEvent::PeerRenamed { peer_id: peer_id.clone(), name }).await;
        crate::security::report(inner, &peer_id).await;
    }
}

/// Follows the name presence gives `r` (a peer renaming itself).
async fn follow_name(inner: &Arc<Inner>, r: &RemotePeer) {
    let mut updates = r.name_updates();
    while let Some(name) = updates.next().await {
        let changed = {
            let mut g = inner.lock();
            if !g.names.contains(r.id()) || g.names.raw(r.id()) == Some(name.as_str()) {
                continue;
            }
            let mut changed = g.names.set(r.id(), &name);
            changed.push((r.id().to_string(), g.names.shown(r.id())));
            changed
        };
        renamed(inner, changed).await;
    }
}

/// Starts the watchers of `r` (its state, its name, its fingerprints, its channels); they end with the session or the remote peer.
pub(crate) fn watch(inner: Arc<Inner>, r: RemotePeer, mut channels: IncomingChannels) {
    let (i, rp) = (inner.clone(), r.clone());
    inner.tasks.spawn(async move {
        tokio::select! {
            _ = follow(&i, &rp) => {}
            _ = i.cancel.cancelled() => {}
        }
    });
    let (i, rp) = (inner.clone(), r.clone());
    inner.tasks.spawn(async move {
        tokio::select! {
            _ = crate::security::follow(&i, &rp) => {}
            _ = follow_name(&i, &rp) => {}
            _ = i.cancel.cancelled() => {}
        }
    });
    let i = inner.clone();
    inner.tasks.spawn(async move {
        loop {
            let incoming = tokio::select! {
                c = channels.next() => c,
                _ = i.cancel.cancelled() => return,
            };
            let Some((dc, mut messages)) = incoming else { return };
            // File transfers have channels of their own.
            if dc.label() == peerchat_files::LABEL {
                crate::files::incoming_channel(&i, r.id(), dc, messages);
                continue;
            }
            // Only the chat channel is read: any other label is closed at once, so a peer
            // cannot make this side hold channels (and their buffers) it never reads.
            if dc.label() != LABEL {
                tracing::warn!(peer = %r.id(), label = %dc.label().chars().take(64).collect::<String>(), "unexpected channel closed");
                i.tasks.spawn(async move { dc.close().await });
                continue;
            }
            let (i2, from) = (i.clone(), r.id().to_string());
            i.tasks.spawn(async move {
                tokio::select! {
                    _ = read_channel(&i2, &from, &mut messages) => {}
                    _ = i2.cancel.cancelled() => {}
                }
            });
        }
    });
}

/// Reports the state changes and the path in one order: a path is said only after the
/// `connected` it belongs to (and its channel-open), and again after every new one (see
/// [`PathReport`]).
async fn follow(inner: &Arc<Inner>, r: &RemotePeer) {
    let mut changes = r.state_changes();
    let mut updates = r.path_updates();
    let mut report = PathReport::default();
    let mut last = PeerState::Idle;
    let now = r.state();
    if now != PeerState::Idle {
        on_change(inner, r, last, now).await;
        report.state(now == PeerState::Connected);
        last = now;
    }
    loop {
        if let Some(path) = report.path(r.path().as_ref()) {
            inner.emit(ChatEvent::Path { peer_id: r.id().to_string(), route: path.route(), path }).await;
        }
        tokio::select! {
            c = changes.next() => {
                let Some(c) = c else { return };
                if c.to == last {
                    continue;
                }
                on_change(inner, r, last, c.to).await;
                report.state(c.to == PeerState::Connected);
                last = c.to;
            }
            p = updates.next() => if p.is_none() { return },
        }
    }
}

async fn on_change(inner: &Arc<Inner>, r: &RemotePeer, from: PeerState, to: PeerState) {
    let peer_id = r.id().to_string();
    inner.emit(ChatEvent::StateChange { peer_id: peer_id.clone(), from, to }).await;
    if to != PeerState::Connected {
        return;
    }
    let _ = inner.arrivals.send(r.clone());
    // The previous channel is closed only once the new one exists: closing first frees its
    // stream id while the association may still be resetting that stream, and the engine
    // can then hand the same id to the new channel, which never opens.
    let old = inner.lock().outs.remove(&peer_id);
    tracing::debug!(peer = %peer_id, "opening the chat channel");
    // Subscribed before the channel is asked for, so no transition is missed.
    let mut left = r.state_changes();
    let opening = r.open_channel(LABEL, ChannelInit::unreliable(), DataChannelOptions::default()).await;
    if let Some(old) = old {
        old.close().await;
    }
    let failed = match opening {
        // Nothing arrives on our own channel (each side writes on its own): its
        // stream is not kept.
        Ok((dc, _)) => {
            let opened = tokio::select! {
                res = tokio::time::timeout(OPEN_WAIT, dc.opened()) => Some(matches!(res, Ok(Ok(())))),
                _ = left_connected(r, &mut left) => None,
            };
            tracing::debug!(peer = %peer_id, ?opened, "chat channel wait ended");
            match opened {
                Some(true) => {
                    {
                        let mut g = inner.lock();
                        g.outs.insert(peer_id.clone(), dc.clone());
                        // Lines that waited for this channel go out now.
                        g.receipts.kick(&peer_id, tokio::time::Instant::now());
                    }
                    inner.receipts_changed.notify_one();
                    inner.emit(ChatEvent::ChannelOpen { peer_id, label: LABEL }).await;
                    watch_close(inner, r, dc);
                    return;
                }
                // The SDK is repairing the connection (a channel that does not open makes
                // it rebuild): the next `connected` opens a new channel, so this one is
                // dropped without an error; the state change already tells the user.
                None => {
                    dc.close().await;
                    return;
                }
                Some(false) => {
                    dc.close().await;
                    format!("the channel to {peer_id} did not open")
                }
            }
        }
        Err(e) => format!("cannot open a channel to {peer_id}: {e}"),
    };
    inner.emit(ChatEvent::error(Problem::ChannelFailed.kind(), failed, Some(&peer_id))).await;
}

/// Rebuilds the connection if our open chat channel closes while the peer stays
/// `connected` and we did not close it: the other side never closes our channel, so the
/// engine dropped it (seen after ICE restarts, when a stream reset hits a reused stream
/// id). A fresh connection brings a new `connected` and with it a new channel; lines sent
/// meanwhile are sent again by the receipts.
fn watch_close(inner: &Arc<Inner>, r: &RemotePeer, dc: DataChannel) {
    let (i, r) = (inner.clone(), r.clone());
    inner.tasks.spawn(async move {
        tokio::select! {
            _ = dc.closed() => {}
            _ = i.cancel.cancelled() => return,
        }
        if dc.closed_here() {
            return;
        }
        // A connection being replaced closes its channels too; give the SDK a moment to
        // report that, and act only if this channel is still the one in use.
        tokio::select! {
            _ = tokio::time::sleep(CLOSE_SETTLE) => {}
            _ = i.cancel.cancelled() => return,
        }
        let still_ours = i.lock().outs.get(r.id()).is_some_and(|d| d.is_closed());
        if !still_ours || r.state() != PeerState::Connected {
            return;
        }
        tracing::warn!(peer = %r.id(), "the chat channel closed under a connected peer; rebuilding the connection");
        r.rebuild().await;
    });
}

/// Returns once `r` is no longer `connected`.
async fn left_connected(r: &RemotePeer, changes: &mut StateChanges) {
    if r.state() != PeerState::Connected {
        return;
    }
    while let Some(c) = changes.next().await {
        if c.to != PeerState::Connected {
            return;
        }
    }
}

async fn read_channel(inner: &Arc<Inner>, from: &str, messages: &mut Messages) {
    while let Some(msg) = messages.recv().await {
        let Message::Text(t) = msg else { continue };
        let (id, text, written_ms) = match ChatMessage::parse(&t) {
            Some(ChatMessage::Chat { id, text, at }) => (id, text, at),
            Some(ChatMessage::Ack { id }) => {
                let settled = {
                    let mut g = inner.lock();
                    g.acks_from.insert(from.to_string());
                    g.receipts.ack(from, &id)
                };
                if settled {
                    inner.emit(ChatEvent::Delivered { peer_id: from.to_string(), id }).await;
                }
                continue;
            }
            Some(ChatMessage::Typing) => {
                let report = inner.lock().typing.may_report(from, tokio::time::Instant::now());
                if report {
                    inner.emit(ChatEvent::Typing { peer_id: from.to_string() }).await;
                }
                continue;
            }
            _ => continue,
        };
        if let Err(why) = check_line(&id, &text) {
            let msg = format!("a chat line from {from} was refused: {why}");
            inner.emit(ChatEvent::error(Problem::BadMessage.kind(), msg, Some(from))).await;
            continue;
        }
        // Every copy is acknowledged: the ack of an earlier one may have been lost.
        inner.send_soon(from, ChatMessage::Ack { id: id.clone() }.to_json());
        if inner.first_sight(from, &id) {
            let name = inner.name_of(from);
            let ev = ChatEvent::Message {
                from: from.to_string(),
                name,
                via: Via::P2p,
                kind: MessageKind::Chat,
                id: Some(id),
                text,
                at_ms: now_ms(),
                written_ms,
            };
            inner.emit(ev).await;
        }
    }
}

//! Following one remote peer: its state changes (re-opening our chat channel on every
//! transition to `connected`) and the channels it opens to us.

use std::sync::Arc;
use std::time::Duration;

use peerchat_peer::peer_message::PeerMessage;
use peerchat_peer::{ChannelInit, DataChannel, DataChannelOptions, Message, PeerState, RemotePeer};

use crate::event::{now_ms, ChatEvent, MessageKind, Via};
use crate::session::Inner;
use crate::LABEL;

/// How long a new channel may take to open.
const OPEN_WAIT: Duration = Duration::from_secs(10);

/// Starts the two watchers of `r`; they end with the session or the remote peer.
pub(crate) fn watch(inner: Arc<Inner>, r: RemotePeer) {
    let (i, rp) = (inner.clone(), r.clone());
    inner.tasks.spawn(async move {
        tokio::select! {
            _ = follow_states(&i, &rp) => {}
            _ = i.cancel.cancelled() => {}
        }
    });
    let i = inner.clone();
    inner.tasks.spawn(async move {
        loop {
            let dc = tokio::select! {
                dc = r.next_channel() => dc,
                _ = i.cancel.cancelled() => return,
            };
            let Some(dc) = dc else { return };
            let (i2, from) = (i.clone(), r.id().to_string());
            i.tasks.spawn(async move {
                tokio::select! {
                    _ = read_channel(&i2, &from, &dc) => {}
                    _ = i2.cancel.cancelled() => {}
                }
            });
        }
    });
}

async fn follow_states(inner: &Arc<Inner>, r: &RemotePeer) {
    let mut changes = r.state_changes();
    let mut last = PeerState::Idle;
    let now = r.state();
    if now != PeerState::Idle {
        on_change(inner, r, last, now).await;
        last = now;
    }
    while let Some(c) = changes.next().await {
        if c.to == last {
            continue;
        }
        on_change(inner, r, last, c.to).await;
        last = c.to;
    }
}

async fn on_change(inner: &Arc<Inner>, r: &RemotePeer, from: PeerState, to: PeerState) {
    let peer_id = r.id().to_string();
    inner.emit(ChatEvent::StateChange { peer_id: peer_id.clone(), from: from.as_str(), to: to.as_str() }).await;
    if to != PeerState::Connected {
        return;
    }
    let old = inner.lock().outs.remove(&peer_id);
    if let Some(old) = old {
        old.close().await;
    }
    let failed = match r.open_channel(LABEL, ChannelInit::unreliable(), DataChannelOptions::default()).await {
        Ok(dc) => match tokio::time::timeout(OPEN_WAIT, dc.opened()).await {
            Ok(Ok(())) => {
                inner.lock().outs.insert(peer_id.clone(), dc);
                inner.emit(ChatEvent::ChannelOpen { peer_id, label: LABEL }).await;
                return;
            }
            _ => {
                dc.close().await;
                format!("the channel to {peer_id} did not open")
            }
        },
        Err(e) => format!("cannot open a channel to {peer_id}: {e}"),
    };
    inner.emit(ChatEvent::error("channel_failed", failed, Some(&peer_id))).await;
}

async fn read_channel(inner: &Arc<Inner>, from: &str, dc: &DataChannel) {
    while let Some(msg) = dc.recv().await {
        let Message::Text(t) = msg else { continue };
        let Some(PeerMessage::Chat { id, text }) = PeerMessage::parse(&t) else { continue };
        if inner.first_sight(&id) {
            let name = inner.name_of(from);
            let ev = ChatEvent::Message {
                from: from.to_string(),
                name,
                via: Via::P2p,
                kind: MessageKind::Chat,
                id: Some(id),
                text,
                at_ms: now_ms(),
            };
            inner.emit(ev).await;
        }
    }
}

//! The session's driver: turns the peer's events into chat events (presence, hello,
//! server-routed lines, signalling state, errors) until the peer ends or the session
//! leaves.

use std::sync::Arc;

use peerchat_peer::{PeerEvent, PeerEvents};
use serde_json::Value;

use crate::event::{now_ms, ChatEvent, MessageKind, Problem, Via};
use crate::shared::Inner;
use crate::wire::{check_line, ChatMessage};

/// Turns the peer's events into chat events until the peer ends or the session leaves.
/// `after_welcome` (what the session took back from before a restart) is said right
/// after the first `welcome`, which always comes first.
pub(crate) async fn drive(inner: Arc<Inner>, mut events: PeerEvents, mut after_welcome: Vec<ChatEvent>) {
    loop {
        let ev = tokio::select! {
            ev = events.next() => ev,
            _ = inner.cancel.cancelled() => return,
        };
        let Some(ev) = ev else { return };
        let welcome = matches!(ev, PeerEvent::Welcome { .. });
        if !on_event(&inner, ev).await {
            return;
        }
        if welcome {
            for e in after_welcome.drain(..) {
                inner.emit(e).await;
            }
        }
    }
}

/// Handles one peer event; false once the session cannot go on.
async fn on_event(inner: &Arc<Inner>, ev: PeerEvent) -> bool {
    match ev {
        PeerEvent::Welcome { peer_id, .. } => inner.emit(ChatEvent::Welcome { peer_id }).await,
        PeerEvent::PeerJoined(r, channels) => {
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
                let data = ChatMessage::Hello { name: hello.name.clone(), receipts: true }.to_value();
                if let Err(e) = hello.peer.send_to(&id, &data).await {
                    hello.emit(ChatEvent::error(e.kind(), format!("hello to {id} failed: {e}"), Some(&id))).await;
                }
            });
            crate::remote::watch(inner.clone(), r, channels);
        }
        PeerEvent::PeerLeft(r) => {
            let id = r.id().to_string();
            let (dc, undelivered, renamed) = {
                let mut g = inner.lock();
                let renamed = g.names.remove(&id);
                g.security.remove(&id);
                g.typing.forget(&id);
                g.left.first_sight(&id);
                g.acks_from.remove(&id);
                (g.outs.remove(&id), g.receipts.peer_gone(&id), renamed)
            };
            if let Some(dc) = dc {
                inner.tasks.spawn(async move { dc.close().await });
            }
            for line in undelivered {
                let msg = format!("a line was not delivered to {id}: they left before acknowledging it");
                inner.emit(ChatEvent::undelivered(Problem::NotDelivered.kind(), msg, &id, &line)).await;
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
    let (kind, id, text, written_ms) = match ChatMessage::from_value(data.clone()) {
        // The name in a hello is not used: presence carries the name the server checked.
        Some(ChatMessage::Hello { receipts, .. }) => {
            let mut g = inner.lock();
            if receipts && !g.left.contains(&from) {
                g.acks_from.insert(from.clone());
            }
            (MessageKind::Hello, None, data.to_string(), None)
        }
        Some(ChatMessage::Chat { id, text, at }) => {
            if let Err(why) = check_line(&id, &text) {
                let msg = format!("a chat line from {from} was refused: {why}");
                inner.emit(ChatEvent::error(Problem::BadMessage.kind(), msg, Some(&from))).await;
                return;
            }
            if !inner.first_sight(&from, &id) {
                return;
            }
            (MessageKind::Chat, Some(id), text, at)
        }
        _ => (MessageKind::Data, None, data.to_string(), None),
    };
    let name = inner.name_of(&from);
    let ev = ChatEvent::Message { from, name, via: Via::Server, kind, id, text, at_ms: now_ms(), written_ms };
    inner.emit(ev).await;
}

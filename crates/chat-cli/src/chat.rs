//! The chat session: the seed's reconnect-aware DataChannel pattern on the peer SDK.
//!
//! * On every transition of a remote peer to `connected`, its previous "messages"
//!   channel is closed and a fresh one is opened (unordered, no retransmits), wrapped in
//!   the backpressure-aware DataChannel (1 MiB buffered, 256 queued sends).
//! * The channels the other side opens are read too (each side sends on its own).
//! * On `peer-joined`, a `hello` with our name goes through the server.
//! * Each stdin line goes to every peer with an open channel as chat JSON; a line that
//!   reaches nobody, or that a full queue refuses, is reported as an `error` event.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use peerchat_peer::peer_message::PeerMessage;
use peerchat_peer::{
    ChannelInit, DataChannel, DataChannelError, DataChannelOptions, Message, Peer, PeerError, PeerEvent, PeerOptions,
    PeerState, PublishableKey, RemotePeer,
};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use tokio::task::JoinSet;

use crate::output::Out;
use crate::Args;

const LABEL: &str = "messages";
/// How long the first connection and join may take.
const JOIN_WAIT: Duration = Duration::from_secs(20);
/// How long a new channel may take to open.
const OPEN_WAIT: Duration = Duration::from_secs(10);
/// Chat ids remembered for de-duplication.
const SEEN_IDS: usize = 10_000;

#[derive(Default)]
struct Shared {
    /// Our open "messages" channel to each peer.
    outs: HashMap<String, DataChannel>,
    names: HashMap<String, String>,
    seen: HashSet<String>,
    seen_order: VecDeque<String>,
}

type State = Arc<Mutex<Shared>>;

fn lock(s: &State) -> std::sync::MutexGuard<'_, Shared> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records a chat id; false if it was seen before.
fn first_sight(s: &State, id: &str) -> bool {
    let mut g = lock(s);
    if !g.seen.insert(id.to_string()) {
        return false;
    }
    g.seen_order.push_back(id.to_string());
    if g.seen_order.len() > SEEN_IDS {
        if let Some(old) = g.seen_order.pop_front() {
            g.seen.remove(&old);
        }
    }
    true
}

fn exit_code(e: &PeerError) -> u8 {
    match e {
        PeerError::BadUrl(_) => 2,
        _ => 1,
    }
}

pub async fn run(args: Args) -> Result<(), u8> {
    let out = Out { json: args.json };
    let opts = PeerOptions::new(args.url.clone(), PublishableKey::new(args.key.clone()));
    let peer = Arc::new(Peer::new(opts));
    let state: State = Arc::default();
    match tokio::time::timeout(JOIN_WAIT, peer.join(&args.room, &args.name)).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            out.error(e.kind(), &e.to_string());
            eprintln!("chat-cli: {e}");
            return Err(exit_code(&e));
        }
        Err(_) => {
            let msg = format!("could not reach the signalling server at {} within {JOIN_WAIT:?}", args.url);
            out.error("unreachable", &msg);
            eprintln!("chat-cli: {msg}");
            return Err(1);
        }
    }
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut sends = JoinSet::new();
    let mut counter: u64 = 0;
    let me = peer.peer_id().unwrap_or_default();
    loop {
        tokio::select! {
            line = stdin.next_line() => match line {
                Ok(Some(text)) => {
                    counter += 1;
                    send_line(&out, &state, &mut sends, &format!("{me}-{counter}"), text);
                }
                Ok(None) | Err(_) => break,
            },
            ev = peer.next_event() => match ev {
                None => return Err(1),
                Some(ev) => if let Some(code) = on_event(&out, &peer, &state, &args.name, ev) {
                    return Err(code);
                }
            },
            Some(_) = sends.join_next(), if !sends.is_empty() => {}
        }
    }
    // End of input: let queued sends finish, then leave cleanly.
    let _ = tokio::time::timeout(Duration::from_secs(5), async { while sends.join_next().await.is_some() {} }).await;
    // Bounded: a leave that cannot reach the server must not keep the process alive.
    let _ = tokio::time::timeout(Duration::from_secs(5), peer.leave()).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), peer.close()).await;
    Ok(())
}

fn send_line(out: &Out, state: &State, sends: &mut JoinSet<()>, id: &str, text: String) {
    let targets: Vec<(String, DataChannel)> =
        lock(state).outs.iter().filter(|(_, dc)| dc.is_open()).map(|(p, dc)| (p.clone(), dc.clone())).collect();
    if targets.is_empty() {
        out.error("no_peers", "no peer is connected; the line was not sent");
        return;
    }
    let chat = PeerMessage::Chat { id: id.to_string(), text }.to_json();
    for (peer_id, dc) in targets {
        let chat = chat.clone();
        let out = *out;
        sends.spawn(async move {
            match dc.send(chat).await {
                Ok(()) => {}
                Err(DataChannelError::Overflow(e)) => {
                    out.error("overflow", &format!("not delivered to {peer_id}: {e}"));
                }
                Err(e) => out.error("send_failed", &format!("not delivered to {peer_id}: {e}")),
            }
        });
    }
}

/// Handles one peer event; `Some(code)` ends the program.
fn on_event(out: &Out, peer: &Arc<Peer>, state: &State, my_name: &str, ev: PeerEvent) -> Option<u8> {
    match ev {
        PeerEvent::Welcome { peer_id, .. } => out.emit("welcome", json!({ "peerId": peer_id })),
        PeerEvent::PeerJoined(r) => {
            lock(state).names.insert(r.id().to_string(), r.name());
            out.emit("peer-joined", json!({ "peerId": r.id(), "name": r.name() }));
            let (p, id, name, o) = (peer.clone(), r.id().to_string(), my_name.to_string(), *out);
            tokio::spawn(async move {
                if let Err(e) = p.send_to(&id, &json!({ "type": "hello", "name": name })).await {
                    o.error(e.kind(), &format!("hello to {id} failed: {e}"));
                }
            });
            watch_remote(*out, state.clone(), r);
        }
        PeerEvent::PeerLeft(r) => {
            if let Some(dc) = lock(state).outs.remove(r.id()) {
                tokio::spawn(async move { dc.close().await });
            }
            out.emit("peer-left", json!({ "peerId": r.id() }));
        }
        PeerEvent::Message { from, data, .. } => {
            let name = data.get("name").and_then(Value::as_str);
            if data.get("type").and_then(Value::as_str) == Some("hello") {
                if let Some(n) = name {
                    lock(state).names.insert(from.clone(), n.to_string());
                }
            }
            let text = match data.get("type").and_then(Value::as_str) {
                Some("chat") => data.get("text").and_then(Value::as_str).unwrap_or("").to_string(),
                _ => data.to_string(),
            };
            let name = lock(state).names.get(&from).cloned().unwrap_or_default();
            out.emit("message", json!({ "from": from, "name": name, "via": "server", "text": text }));
        }
        PeerEvent::Signalling(s) => out.emit("signalling", json!({ "state": s.as_str() })),
        PeerEvent::Error(e) => {
            out.error(e.kind(), &e.to_string());
            if e.is_fatal() {
                eprintln!("chat-cli: {e}");
                return Some(1);
            }
        }
        _ => {}
    }
    None
}

/// Follows one remote peer: state changes (re-opening our channel on every `connected`)
/// and the channels it opens.
fn watch_remote(out: Out, state: State, r: RemotePeer) {
    let rp = r.clone();
    let st = state.clone();
    tokio::spawn(async move {
        let mut changes = rp.state_changes();
        let mut last = PeerState::Idle;
        let now = rp.state();
        if now != PeerState::Idle {
            on_change(&out, &st, &rp, last, now).await;
            last = now;
        }
        while let Some(c) = changes.next().await {
            if c.to == last {
                continue;
            }
            on_change(&out, &st, &rp, last, c.to).await;
            last = c.to;
        }
    });
    tokio::spawn(async move {
        while let Some(dc) = r.next_channel().await {
            let (out, state, from) = (out, state.clone(), r.id().to_string());
            tokio::spawn(read_channel(out, state, from, dc));
        }
    });
}

async fn on_change(out: &Out, state: &State, r: &RemotePeer, from: PeerState, to: PeerState) {
    out.emit("state-change", json!({ "peerId": r.id(), "from": from.as_str(), "to": to.as_str() }));
    if to != PeerState::Connected {
        return;
    }
    let old = lock(state).outs.remove(r.id());
    if let Some(old) = old {
        old.close().await;
    }
    match r.open_channel(LABEL, ChannelInit::unreliable(), DataChannelOptions::default()).await {
        Ok(dc) => match tokio::time::timeout(OPEN_WAIT, dc.opened()).await {
            Ok(Ok(())) => {
                lock(state).outs.insert(r.id().to_string(), dc);
                out.emit("channel-open", json!({ "peerId": r.id(), "label": LABEL }));
            }
            _ => {
                out.error("channel_failed", &format!("the channel to {} did not open", r.id()));
                dc.close().await;
            }
        },
        Err(e) => out.error("channel_failed", &format!("cannot open a channel to {}: {e}", r.id())),
    }
}

async fn read_channel(out: Out, state: State, from: String, dc: DataChannel) {
    while let Some(msg) = dc.recv().await {
        let Message::Text(t) = msg else { continue };
        if let Some(PeerMessage::Chat { id, text }) = PeerMessage::parse(&t) {
            if first_sight(&state, &id) {
                let name = lock(&state).names.get(&from).cloned().unwrap_or_default();
                out.emit("message", json!({ "from": from, "name": name, "via": "p2p", "text": text }));
            }
        }
    }
}

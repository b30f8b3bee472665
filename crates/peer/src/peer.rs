//! [`Peer`]: the app's handle (cheap to clone), its separate stream of events
//! ([`PeerEvents`]), and the core task that owns the room's remote peers.
//!
//! The core task is the only owner of the map of remote peers. It reacts to signalling
//! events (welcome, presence, relayed signals and messages) and to the app's commands,
//! and reports [`PeerEvent`]s on a bounded queue. The room and this peer's id are the
//! signalling task's; the handle and the core read the id from it.

use std::collections::HashMap;

use peerchat_protocol::signal::SignalPayload;
use peerchat_protocol::{PresenceEntry, RawValue};
use tokio::sync::{mpsc, oneshot};

use crate::engine::ConnectionConfig;
use crate::error::PeerError;
use crate::events::{PeerEvent, PeerEvents};
use crate::options::{IceServer, PeerOptions};
use crate::remote::{self, RemoteCmd, RemotePeer};
use crate::signalling::{Outbound, SigEvent, Signalling};

/// Events waiting for the app; the core waits when the app does not keep up.
const EVENT_QUEUE: usize = 1024;
/// How long a peer that a snapshot no longer lists, but whose connection is healthy, may
/// take to reappear (it is reconnecting to a restarted server too) before it counts as
/// gone. Matches the server's default grace period.
const RECONCILE_GRACE: std::time::Duration = std::time::Duration::from_secs(30);

enum CoreCmd {
    Remotes(oneshot::Sender<Vec<RemotePeer>>),
    /// The app left the room: every remote peer leaves with it.
    Left(oneshot::Sender<()>),
    Close(oneshot::Sender<()>),
}

/// A peer in a room: signalling plus one native connection per remote peer. Cheap to
/// clone; all clones are the same peer.
#[derive(Clone)]
pub struct Peer {
    sig: Signalling,
    cmd: mpsc::Sender<CoreCmd>,
    fingerprint: Option<crate::safety::Fingerprint>,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer").field("id", &self.peer_id()).finish()
    }
}

impl Peer {
    /// Creates a peer and the stream of its events. Nothing connects until
    /// [`Peer::join`]. Must be called inside a Tokio runtime. Read the events: the peer
    /// waits for a reader that falls 1,024 events behind.
    pub fn new(opts: PeerOptions) -> (Peer, PeerEvents) {
        let (sig_tx, sig_rx) = mpsc::channel(EVENT_QUEUE);
        let sig = Signalling::spawn(opts.clone(), sig_tx);
        let (ev_tx, ev_rx) = mpsc::channel(EVENT_QUEUE);
        let (cmd_tx, cmd_rx) = mpsc::channel(16);
        let certificate = opts.certificate.clone().or_else(|| match crate::engine::Certificate::generate() {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "no certificate for this peer; each connection makes its own");
                None
            }
        });
        let fingerprint = certificate.as_ref().map(|c| c.fingerprint().clone());
        let core = Core {
            sig: sig.clone(),
            events: ev_tx,
            remotes: HashMap::new(),
            unconfirmed: HashMap::new(),
            cfg: ConnectionConfig {
                ice_servers: opts.ice_servers.clone(),
                policy: opts.ice_transport_policy,
                settings: opts.engine.clone(),
                certificate,
            },
            extra_ice: opts.ice_servers.clone(),
        };
        tokio::spawn(core.run(sig_rx, cmd_rx));
        (Peer { sig, cmd: cmd_tx, fingerprint }, PeerEvents::new(ev_rx))
    }

    /// The fingerprint of the certificate this peer presents (the local half of every
    /// safety number).
    pub fn fingerprint(&self) -> Option<&crate::safety::Fingerprint> {
        self.fingerprint.as_ref()
    }

    /// Connects (if needed) and joins `channel` as `name`. Returns this peer's id.
    pub async fn join(&self, channel: &str, name: &str) -> Result<String, PeerError> {
        self.sig.join(channel.to_string(), name.to_string()).await
    }

    /// Leaves the room (others see this peer leave at once) and closes the connection to
    /// every remote peer (each gets a `PeerLeft`). The peer can join again.
    pub async fn leave(&self) -> Result<(), PeerError> {
        let result = self.sig.leave().await;
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(CoreCmd::Left(tx)).await.is_ok() {
            let _ = rx.await;
        }
        result
    }

    /// This peer's id once joined.
    pub fn peer_id(&self) -> Option<String> {
        self.sig.peer_id()
    }

    /// Sends `data` to everyone else in the room through the server.
    pub async fn send(&self, data: &serde_json::Value) -> Result<(), PeerError> {
        self.sig.request(Outbound::Publish(raw(data)?)).await
    }

    /// Sends `data` to one peer through the server.
    pub async fn send_to(&self, peer_id: &str, data: &serde_json::Value) -> Result<(), PeerError> {
        if !peerchat_protocol::is_valid_peer_id(peer_id) {
            return Err(PeerError::InvalidArgs("not a valid peer id".into()));
        }
        self.sig.request(Outbound::Send { to: peer_id.to_string(), data: raw(data)? }).await
    }

    /// The remote peers in the room now.
    pub async fn remotes(&self) -> Vec<RemotePeer> {
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(CoreCmd::Remotes(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Leaves, closes every peer connection and the signalling socket. Terminal.
    pub async fn close(&self) {
        self.sig.close().await;
        let (tx, rx) = oneshot::channel();
        if self.cmd.send(CoreCmd::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

fn raw(data: &serde_json::Value) -> Result<Box<RawValue>, PeerError> {
    serde_json::value::to_raw_value(data).map_err(|e| PeerError::InvalidArgs(e.to_string()))
}

struct Core {
    sig: Signalling,
    events: mpsc::Sender<PeerEvent>,
    remotes: HashMap<String, RemotePeer>,
    /// Remote peers missing from the last snapshot, kept while their connection is
    /// healthy, until this deadline.
    unconfirmed: HashMap<String, tokio::time::Instant>,
    cfg: ConnectionConfig,
    extra_ice: Vec<IceServer>,
}

impl Core {
    async fn emit(&self, e: PeerEvent) {
        let _ = self.events.send(e).await;
    }

    async fn run(mut self, mut sig: mpsc::Receiver<SigEvent>, mut cmds: mpsc::Receiver<CoreCmd>) {
        loop {
            let deadline = self.unconfirmed.values().min().copied();
            tokio::select! {
                _ = sleep_opt(deadline) => self.expire_unconfirmed().await,
                ev = sig.recv() => match ev {
                    Some(ev) => self.on_sig(ev).await,
                    None => break,
                },
                cmd = cmds.recv() => match cmd {
                    Some(CoreCmd::Remotes(reply)) => { let _ = reply.send(self.remotes.values().cloned().collect()); }
                    Some(CoreCmd::Left(reply)) => {
                        self.drop_all(true).await;
                        let _ = reply.send(());
                    }
                    Some(CoreCmd::Close(reply)) => {
                        self.drop_all(false).await;
                        let _ = reply.send(());
                        break;
                    }
                    None => break,
                },
            }
        }
        self.drop_all(false).await;
        // A command whose sender got its slot before the loop ended may still be on its
        // way; dropping the receiver would strand it (and its caller) in the channel.
        // After `close`, `recv` waits for such sends and then ends.
        cmds.close();
        while let Some(cmd) = cmds.recv().await {
            match cmd {
                CoreCmd::Remotes(reply) => drop(reply.send(Vec::new())),
                CoreCmd::Left(reply) | CoreCmd::Close(reply) => drop(reply.send(())),
            }
        }
    }

    /// Closes every remote peer; with `announce`, the app gets `PeerLeft` for each.
    async fn drop_all(&mut self, announce: bool) {
        self.unconfirmed.clear();
        for (_, r) in self.remotes.drain() {
            r.close().await;
            if announce {
                let _ = self.events.send(PeerEvent::PeerLeft(r)).await;
            }
        }
    }

    async fn on_sig(&mut self, ev: SigEvent) {
        match ev {
            SigEvent::State(s) => self.emit(PeerEvent::Signalling(s)).await,
            SigEvent::Welcome { peer_id, resumed, new_identity, ice_servers } => {
                let mut servers = self.extra_ice.clone();
                servers.extend(ice_servers);
                self.cfg.ice_servers = servers;
                if new_identity {
                    // A new identity: every pair changes, so every remote peer is new too.
                    tracing::info!("signalling session not resumed; reconciling remote peers");
                    self.drop_all(true).await;
                }
                self.emit(PeerEvent::Welcome { peer_id, resumed }).await;
            }
            SigEvent::Presence { joined, left, snapshot } => self.on_presence(joined, left, snapshot).await,
            SigEvent::Message { from, channel, data } => {
                let data = serde_json::from_str(data.get()).unwrap_or(serde_json::Value::Null);
                self.emit(PeerEvent::Message { from, channel, data }).await;
            }
            SigEvent::Signal { from, data } => match SignalPayload::parse(data.get()) {
                Ok(p) => match self.remotes.get(&from) {
                    Some(r) => {
                        let _ = r.shared.cmd.send(RemoteCmd::Signal(p)).await;
                    }
                    None => tracing::debug!(from = %from, "signal from an unknown peer dropped"),
                },
                Err(e) => tracing::warn!(from = %from, error = %e, "malformed signal dropped"),
            },
            SigEvent::Warning(e) => self.emit(PeerEvent::Error(e)).await,
            SigEvent::Fatal(e) => {
                self.drop_all(true).await;
                self.emit(PeerEvent::Error(e)).await;
            }
        }
    }

    async fn on_presence(&mut self, joined: Vec<PresenceEntry>, left: Vec<String>, snapshot: bool) {
        let Some(me) = self.sig.peer_id() else { return };
        if snapshot {
            // Missing from the snapshot: gone, unless its connection is healthy; then it
            // may be reconnecting to a restarted server and gets RECONCILE_GRACE to reappear.
            let listed: std::collections::HashSet<&str> = joined.iter().map(|e| e.peer_id.as_str()).collect();
            let missing: Vec<RemotePeer> =
                self.remotes.values().filter(|r| !listed.contains(r.id())).cloned().collect();
            let deadline = tokio::time::Instant::now() + RECONCILE_GRACE;
            for r in missing {
                if r.state() == crate::remote::PeerState::Connected {
                    self.unconfirmed.entry(r.id().to_string()).or_insert(deadline);
                } else {
                    self.remove(r.id()).await;
                }
            }
        }
        for e in joined {
            if e.peer_id == me || !peerchat_protocol::is_valid_peer_id(&e.peer_id) {
                continue;
            }
            self.unconfirmed.remove(&e.peer_id);
            match self.remotes.get(&e.peer_id) {
                Some(r) => r.set_name(&e.name),
                None => {
                    let (r, channels) = remote::spawn(remote::Spawn {
                        me: me.clone(),
                        id: e.peer_id.clone(),
                        name: e.name.clone(),
                        sig: self.sig.clone(),
                        cfg: self.cfg.clone(),
                    });
                    self.remotes.insert(e.peer_id, r.clone());
                    self.emit(PeerEvent::PeerJoined(r, channels)).await;
                }
            }
        }
        for id in left {
            self.remove(&id).await;
        }
    }

    async fn expire_unconfirmed(&mut self) {
        let now = tokio::time::Instant::now();
        let due: Vec<String> = self.unconfirmed.iter().filter(|(_, d)| **d <= now).map(|(k, _)| k.clone()).collect();
        for id in due {
            tracing::info!(peer = %id, "peer did not reappear after a snapshot; it left");
            self.remove(&id).await;
        }
    }

    async fn remove(&mut self, id: &str) {
        self.unconfirmed.remove(id);
        if let Some(r) = self.remotes.remove(id) {
            r.close().await;
            self.emit(PeerEvent::PeerLeft(r)).await;
        }
    }
}

async fn sleep_opt(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

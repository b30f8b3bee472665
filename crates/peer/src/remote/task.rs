//! The task that owns one remote peer's connection: perfect negotiation with
//! generations, queued candidates, the negotiated `control` channel with its pings, and
//! recovery (ICE restart, then rebuild). Engine callbacks reach it as messages.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::control_message::{CONTROL_ID, CONTROL_LABEL};
use peerchat_protocol::signal::{IceCandidate, SessionDescription, SignalBody, SignalPayload};
use peerchat_protocol::{ClientFrame, RawValue};
use tokio::sync::{broadcast, mpsc, oneshot, watch, Mutex};
use tokio::time::{sleep_until, Instant};

use super::{OpenChannelError, PeerState, RemotePeer, Shared, StateChange};
use crate::datachannel::{DataChannel, DataChannelOptions};
use crate::engine::{
    ChannelEvent, ChannelInit, Connection, ConnectionConfig, EngineEvent, LinkState, NativePeerConnection, RawChannel,
};
use crate::signalling::Signalling;

mod budget;
mod control;
mod negotiation;
mod path;

/// Candidates held until the remote description is set.
const MAX_PENDING_CANDIDATES: usize = 256;
/// Channels the other side opened that the app has not taken yet.
const INCOMING_CHANNELS: usize = 64;
/// How long to wait for the other side's rebuild after its connection closed.
const AWAIT_REMOTE_REBUILD: Duration = Duration::from_secs(3);
/// How long the control ping sent after a repaired path may take to be answered. An
/// SCTP association that backed off its retransmission timer during an outage can take
/// many seconds to move data again; rebuilding is faster.
const PROBE_WAIT: Duration = Duration::from_secs(3);
/// Interval between copies of a probe ping, and how many copies follow the first.
const PROBE_RESEND: Duration = Duration::from_millis(5);
const PROBE_COPIES: u8 = 20;
/// How long an app channel may take to open before the connection is rebuilt. After an
/// ICE restart the engine occasionally fails a new channel's open handshake (it closes or
/// never opens; seen about once in eight recoveries from a frozen peer); a fresh
/// connection does not.
const CHANNEL_OPEN_DEADLINE: Duration = Duration::from_secs(5);

pub(crate) enum RemoteCmd {
    Signal(SignalPayload),
    OpenChannel {
        label: String,
        init: ChannelInit,
        opts: DataChannelOptions,
        reply: oneshot::Sender<Result<DataChannel, OpenChannelError>>,
    },
    RestartIce,
    Rebuild,
    /// A channel opened on connection `gen` did not open in time.
    ChannelStuck {
        gen: u64,
    },
    Close,
}

enum Control {
    Open,
    Text(String),
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recovery {
    /// Waiting for the first connection (or a rebuilt one) to come up.
    Connect,
    /// ICE restart in progress.
    IceRestart,
    /// The other side's connection closed; give it time to rebuild.
    AwaitRemote,
    /// ICE is back; waiting for the answer to a control ping sent since.
    Probe,
}

pub(crate) struct Spawn {
    pub me: String,
    pub id: String,
    pub name: String,
    pub sig: Signalling,
    pub cfg: ConnectionConfig,
}

/// Starts the task for one remote peer and returns its handle.
pub(crate) fn spawn(s: Spawn) -> RemotePeer {
    let polite = s.me.as_bytes() < s.id.as_bytes();
    let (cmd_tx, cmd_rx) = mpsc::channel(64);
    let self_cmd = cmd_tx.downgrade();
    let (state_tx, state_rx) = watch::channel(PeerState::Idle);
    let (pc_tx, pc_rx) = watch::channel(None);
    let (path_tx, path_rx) = watch::channel(None);
    let (security_tx, security_rx) = watch::channel(None);
    let (changes, _) = broadcast::channel(256);
    let (incoming_tx, incoming_rx) = mpsc::channel(INCOMING_CHANNELS);
    let (name_tx, _) = watch::channel(s.name);
    let shared = Arc::new(Shared {
        id: s.id.clone(),
        polite,
        name: name_tx,
        state: state_rx,
        changes: changes.clone(),
        pc: pc_rx,
        path: path_rx,
        security: security_rx,
        cmd: cmd_tx,
        incoming: Mutex::new(incoming_rx),
    });
    let (engine_tx, engine_rx) = mpsc::unbounded_channel();
    let (control_tx, control_rx) = mpsc::channel(64);
    let task = Task {
        id: s.id,
        polite,
        sig: s.sig,
        cfg: s.cfg,
        gen: 0,
        highest_gen: 0,
        conn: None,
        control: None,
        control_open: false,
        pending: VecDeque::new(),
        making_offer: false,
        state: PeerState::Idle,
        state_tx,
        changes,
        pc_tx,
        path_tx,
        security_tx,
        last_ping: None,
        incoming_tx,
        engine_tx,
        control_tx,
        last_control: Instant::now(),
        recovery: None,
        probe: None,
        probe_resend: None,
        self_cmd,
        offers: budget::OfferBudget::new(Instant::now()),
        deferred_offer: None,
    };
    tokio::spawn(task.run(cmd_rx, engine_rx, control_rx));
    RemotePeer { shared }
}

struct Task {
    id: String,
    polite: bool,
    sig: Signalling,
    cfg: ConnectionConfig,
    gen: u64,
    highest_gen: u64,
    conn: Option<Connection>,
    control: Option<RawChannel>,
    control_open: bool,
    pending: VecDeque<(u64, IceCandidate)>,
    making_offer: bool,
    state: PeerState,
    state_tx: watch::Sender<PeerState>,
    changes: broadcast::Sender<StateChange>,
    pc_tx: watch::Sender<Option<NativePeerConnection>>,
    /// The path while connected (see `path.rs`).
    path_tx: watch::Sender<Option<crate::path::PathInfo>>,
    /// The fingerprints of the latest connection whose descriptions are both applied.
    security_tx: watch::Sender<Option<crate::safety::PeerSecurity>>,
    /// `t` of the latest routine control ping, and when it left (for the RTT).
    last_ping: Option<(u64, Instant)>,
    incoming_tx: mpsc::Sender<DataChannel>,
    engine_tx: mpsc::UnboundedSender<(u64, EngineEvent)>,
    control_tx: mpsc::Sender<(u64, Control)>,
    last_control: Instant,
    recovery: Option<(Recovery, Instant)>,
    /// `t` of the control ping whose pong proves a repaired path carries data both ways.
    probe: Option<u64>,
    /// When the probe's ping is sent again, and how many more times.
    probe_resend: Option<(Instant, u8)>,
    /// Commands to this task itself (from watchers it spawns); weak, so the task ends
    /// when every handle is gone.
    self_cmd: mpsc::WeakSender<RemoteCmd>,
    /// How many more of the other side's offers we act on (see `budget.rs`), and the
    /// newest one waiting for the budget.
    offers: budget::OfferBudget,
    deferred_offer: Option<(u64, SessionDescription)>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Task {
    async fn run(
        mut self,
        mut cmds: mpsc::Receiver<RemoteCmd>,
        mut engine: mpsc::UnboundedReceiver<(u64, EngineEvent)>,
        mut control: mpsc::Receiver<(u64, Control)>,
    ) {
        if !self.polite {
            self.rebuild().await;
        }
        let mut ping = tokio::time::interval(self.cfg.settings.control_ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.recovery.map(|(_, d)| d);
            let resend = self.probe_resend.map(|(at, _)| at);
            let deferred = self.deferred_offer.as_ref().and_then(|_| self.offers.next_at());
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None | Some(RemoteCmd::Close) => break,
                    Some(cmd) => self.on_cmd(cmd).await,
                },
                Some((gen, ev)) = engine.recv() => if gen == self.gen { self.on_engine(ev).await },
                Some((gen, ev)) = control.recv() => if gen == self.gen { self.on_control(ev).await },
                _ = ping.tick() => self.on_tick().await,
                _ = sleep_opt(deadline) => self.on_deadline().await,
                _ = sleep_opt(resend) => self.on_probe_resend().await,
                _ = sleep_opt(deferred) => self.on_deferred_offer().await,
            }
            self.follow_path().await;
            self.follow_security();
        }
        self.close_conn().await;
        self.path_tx.send_replace(None);
        self.set_state(PeerState::Closed);
        // Commands already on their way get an answer rather than being stranded in the
        // channel (after `close`, `recv` waits for sends in flight, then ends).
        cmds.close();
        while let Some(cmd) = cmds.recv().await {
            if let RemoteCmd::OpenChannel { reply, .. } = cmd {
                let _ = reply.send(Err(OpenChannelError::Closed));
            }
        }
    }

    fn set_state(&mut self, to: PeerState) {
        if self.state == to {
            return;
        }
        let from = self.state;
        self.state = to;
        tracing::debug!(peer = %self.id, from = from.as_str(), to = to.as_str(), "state");
        let _ = self.state_tx.send(to);
        let _ = self.changes.send(StateChange { from, to });
    }

    fn send_signal(&self, body: SignalBody) {
        let payload = SignalPayload { gen: self.gen, body };
        let Ok(data) = RawValue::from_string(payload.to_json()) else { return };
        let frame = ClientFrame::Signal { to: self.id.clone(), data, request_id: None };
        if let Err(e) = self.sig.fire(frame) {
            tracing::warn!(peer = %self.id, error = %e, "signal not sent");
        }
    }

    async fn close_conn(&mut self) {
        if let Some(c) = self.conn.take() {
            c.close().await;
        }
        self.control = None;
        self.control_open = false;
        self.making_offer = false;
        self.probe = None;
        let _ = self.pc_tx.send(None);
    }

    /// Replaces the connection with a fresh one of generation `gen`, with its control
    /// channel.
    async fn new_conn(&mut self, gen: u64) -> bool {
        self.close_conn().await;
        self.gen = gen;
        self.highest_gen = self.highest_gen.max(gen);
        self.pending.retain(|(g, _)| *g >= gen);
        let conn = match Connection::new(&self.cfg, gen, self.engine_tx.clone()).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(peer = %self.id, error = %e, "cannot create a peer connection");
                return false;
            }
        };
        let init = ChannelInit { ordered: true, max_retransmits: None, negotiated: Some(CONTROL_ID) };
        let control = match conn.create_channel(CONTROL_LABEL, init).await {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(peer = %self.id, error = %e, "cannot create the control channel");
                conn.close().await;
                return false;
            }
        };
        let tx = self.control_tx.clone();
        let reader = control.clone();
        tokio::spawn(async move {
            while let Some(ev) = reader.next_event().await {
                let msg = match ev {
                    ChannelEvent::Open => Control::Open,
                    ChannelEvent::Text(t) => Control::Text(t),
                    ChannelEvent::Closed => break,
                    _ => continue,
                };
                if tx.send((gen, msg)).await.is_err() {
                    return;
                }
            }
            let _ = tx.send((gen, Control::Closed)).await;
        });
        let _ = self.pc_tx.send(Some(conn.native()));
        self.conn = Some(conn);
        self.control = Some(control);
        self.last_control = Instant::now();
        let to = if self.state == PeerState::Idle || self.state == PeerState::Connecting {
            PeerState::Connecting
        } else {
            PeerState::Reconnecting
        };
        self.set_state(to);
        true
    }

    /// Rebuilds the connection with a new generation and offers on it.
    async fn rebuild(&mut self) {
        let gen = self.highest_gen.saturating_add(1);
        tracing::info!(peer = %self.id, gen, "building peer connection");
        if self.new_conn(gen).await {
            self.offer(false).await;
        }
        self.recovery = Some((Recovery::Connect, Instant::now() + self.cfg.settings.connect_timeout));
    }

    async fn offer(&mut self, ice_restart: bool) {
        let Some(conn) = &self.conn else { return };
        self.making_offer = true;
        let result = conn.offer(ice_restart).await;
        self.making_offer = false;
        match result {
            Ok(desc) => self.send_signal(SignalBody::Description(desc)),
            Err(e) => tracing::warn!(peer = %self.id, error = %e, "offer failed"),
        }
    }

    /// Starts an ICE restart. The impolite side (the pair's first offerer) makes the
    /// restart offer; the polite side probes the path at once (a pong means it works and
    /// the peer is `connected` again), waits for that offer, and rebuilds if neither comes.
    /// Keeping the offerer fixed keeps the DTLS roles, and with them the parity of the
    /// stream ids of channels opened afterwards: the engine re-derives them from the
    /// latest offer/answer, and a flip makes new channels collide and never open.
    async fn restart_ice(&mut self) {
        if self.conn.is_none() {
            return self.rebuild().await;
        }
        tracing::info!(peer = %self.id, gen = self.gen, polite = self.polite, "ICE restart");
        if let Some(conn) = &self.conn {
            conn.unsettled();
        }
        if self.state == PeerState::Connected {
            self.set_state(PeerState::Reconnecting);
        }
        if !self.polite {
            self.offer(true).await;
        } else if self.control_open {
            // The restart offer comes from the other side once it sees the path fail too.
            // Meanwhile a pong proves the path still works (a forced restart, or a failure
            // that healed), and `connected` comes back without waiting for the next ping.
            self.start_probe().await;
        }
        self.recovery = Some((Recovery::IceRestart, Instant::now() + self.cfg.settings.ice_restart_timeout));
    }

    async fn on_cmd(&mut self, cmd: RemoteCmd) {
        match cmd {
            RemoteCmd::Signal(p) => self.on_signal(p).await,
            RemoteCmd::OpenChannel { label, init, opts, reply } => {
                let result = match &self.conn {
                    None => Err(OpenChannelError::NotConnected),
                    Some(conn) => match conn.create_channel(&label, ChannelInit { negotiated: None, ..init }).await {
                        Ok(raw) => Ok(DataChannel::wrap(raw, opts, conn.max_message_size().await, false).await),
                        Err(e) => Err(OpenChannelError::Engine(e.0)),
                    },
                };
                match &result {
                    Ok(dc) => {
                        tracing::debug!(peer = %self.id, gen = self.gen, label = dc.label(), "channel opening");
                        self.watch_open(dc.clone());
                    }
                    Err(e) => tracing::debug!(peer = %self.id, gen = self.gen, error = %e, "channel not opened"),
                }
                let _ = reply.send(result);
            }
            RemoteCmd::RestartIce => self.restart_ice().await,
            RemoteCmd::Rebuild => self.rebuild().await,
            RemoteCmd::ChannelStuck { gen } => {
                tracing::debug!(peer = %self.id, gen, now = self.gen, state = self.state.as_str(), "channel stuck");
                if gen == self.gen && self.state == PeerState::Connected {
                    tracing::warn!(peer = %self.id, gen, "a new channel did not open; rebuilding the connection");
                    self.rebuild().await;
                }
            }
            RemoteCmd::Close => {}
        }
    }

    async fn on_engine(&mut self, ev: EngineEvent) {
        match ev {
            EngineEvent::Candidate(c) => self.send_signal(SignalBody::Candidate(Some(c))),
            EngineEvent::GatheringComplete => {}
            EngineEvent::Link(LinkState::Connected) => self.mark_connected().await,
            EngineEvent::Link(LinkState::Disconnected | LinkState::Failed) => {
                if matches!(self.recovery, None | Some((Recovery::AwaitRemote, _))) {
                    self.restart_ice().await;
                }
            }
            EngineEvent::Link(_) => {}
            EngineEvent::RemoteChannel(raw) => {
                let max = match &self.conn {
                    Some(c) => c.max_message_size().await,
                    None => 65_536,
                };
                let dc = DataChannel::wrap(raw, DataChannelOptions::default(), max, true).await;
                if let Err(e) = self.incoming_tx.try_send(dc) {
                    tracing::warn!(peer = %self.id, "incoming channel not taken by the app; closing it");
                    let dc = match e {
                        mpsc::error::TrySendError::Full(dc) | mpsc::error::TrySendError::Closed(dc) => dc,
                    };
                    tokio::spawn(async move { dc.close().await });
                }
            }
        }
    }

    /// Moves to `connected`, unless an offer of ours still waits for its answer: apps
    /// open channels on that transition, and a channel created while the negotiation is
    /// in flight can be lost if that offer is rolled back.
    async fn mark_connected(&mut self) {
        if !self.control_open {
            return;
        }
        if let Some(conn) = &self.conn {
            if self.making_offer || conn.has_local_offer().await {
                return;
            }
        }
        if self.state == PeerState::Reconnecting {
            if self.probe.is_none() {
                self.probe_path().await;
            }
            return;
        }
        self.connected();
    }

    fn connected(&mut self) {
        if let Some(conn) = &self.conn {
            conn.settled();
        }
        self.recovery = None;
        self.probe = None;
        self.last_control = Instant::now();
        self.set_state(PeerState::Connected);
    }

    /// Rebuilds the connection if `dc` does not open in time on this generation.
    fn watch_open(&self, dc: DataChannel) {
        let (gen, tx) = (self.gen, self.self_cmd.clone());
        tokio::spawn(async move {
            let stuck = match tokio::time::timeout(CHANNEL_OPEN_DEADLINE, dc.opened()).await {
                Ok(Ok(())) => false,
                // Closed before opening: by the engine (a failed open), or by the app.
                Ok(Err(_)) => dc.open_failed(),
                Err(_) => !dc.closed_here(),
            };
            if stuck {
                tracing::debug!(gen, label = dc.label(), "channel did not open");
                if let Some(tx) = tx.upgrade() {
                    let _ = tx.send(RemoteCmd::ChannelStuck { gen }).await;
                }
            }
        });
    }

    async fn on_deadline(&mut self) {
        let Some((kind, _)) = self.recovery.take() else { return };
        tracing::info!(peer = %self.id, ?kind, "recovery timed out; rebuilding the connection");
        self.rebuild().await;
    }
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => std::future::pending().await,
    }
}

//! The task that owns one remote peer's connection: perfect negotiation with
//! generations, queued candidates, the negotiated `control` channel with its pings, and
//! the I/O of recovery, whose decisions are [`Recovery`]'s (ICE restart, probes,
//! rebuild, timeouts; sans-IO, in `recovery.rs`). Engine callbacks reach it as messages.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::control_message::{ControlMessage, CONTROL_ID, CONTROL_LABEL};
use super::recovery::{Action, Input, Recovery, Timeouts};
use peerchat_protocol::signal::{IceCandidate, SessionDescription, SignalBody, SignalPayload};
use peerchat_protocol::{ClientFrame, RawValue};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::{sleep_until, Instant};

use super::{IncomingChannels, OpenChannelError, PeerState, RemotePeer, Shared, StateChange};
use crate::datachannel::{DataChannel, DataChannelOptions, Messages};
use crate::engine::{
    ChannelEvent, ChannelInit, Connection, ConnectionConfig, EngineEvent, LinkState, NativePeerConnection, RawChannel,
};
use crate::signalling::Signalling;

mod budget;
mod control;
mod events;
mod negotiation;
mod path;

/// Candidates held until the remote description is set.
const MAX_PENDING_CANDIDATES: usize = 256;
/// Channels the other side opened that the app has not taken yet.
const INCOMING_CHANNELS: usize = 64;
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
        reply: oneshot::Sender<Result<(DataChannel, Messages), OpenChannelError>>,
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

pub(crate) struct Spawn {
    pub me: String,
    pub id: String,
    pub name: String,
    pub sig: Signalling,
    pub cfg: ConnectionConfig,
}

/// Starts the task for one remote peer and returns its handle and the channels it opens.
pub(crate) fn spawn(s: Spawn) -> (RemotePeer, IncomingChannels) {
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
    });
    let (engine_tx, engine_rx) = mpsc::unbounded_channel();
    let (control_tx, control_rx) = mpsc::channel(64);
    let settings = &s.cfg.settings;
    let timeouts = Timeouts {
        connect: settings.connect_timeout,
        ice_restart: settings.ice_restart_timeout,
        dead_after: settings.control_dead_after,
    };
    let task = Task {
        rec: Recovery::new(polite, timeouts, Instant::now()),
        id: s.id,
        polite,
        sig: s.sig,
        cfg: s.cfg,
        gen: 0,
        highest_gen: 0,
        conn: None,
        control: None,
        pending: VecDeque::new(),
        making_offer: false,
        state_tx,
        changes,
        pc_tx,
        path_tx,
        security_tx,
        last_ping: None,
        incoming_tx,
        engine_tx,
        control_tx,
        self_cmd,
        offers: budget::OfferBudget::new(Instant::now()),
        deferred_offer: None,
    };
    tokio::spawn(task.run(cmd_rx, engine_rx, control_rx));
    (RemotePeer { shared }, IncomingChannels(incoming_rx))
}

struct Task {
    /// What recovery decides (and the state it publishes).
    rec: Recovery,
    id: String,
    polite: bool,
    sig: Signalling,
    cfg: ConnectionConfig,
    gen: u64,
    highest_gen: u64,
    conn: Option<Connection>,
    control: Option<RawChannel>,
    pending: VecDeque<(u64, IceCandidate)>,
    making_offer: bool,
    state_tx: watch::Sender<PeerState>,
    changes: broadcast::Sender<StateChange>,
    pc_tx: watch::Sender<Option<NativePeerConnection>>,
    /// The path while connected (see `path.rs`).
    path_tx: watch::Sender<Option<crate::path::PathInfo>>,
    /// The fingerprints of the latest connection whose descriptions are both applied.
    security_tx: watch::Sender<Option<crate::safety::PeerSecurity>>,
    /// `t` of the latest routine control ping, and when it left (for the RTT).
    last_ping: Option<(u64, Instant)>,
    incoming_tx: mpsc::Sender<(DataChannel, Messages)>,
    engine_tx: mpsc::UnboundedSender<(u64, EngineEvent)>,
    control_tx: mpsc::Sender<(u64, Control)>,
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
        self.feed(Input::Start).await;
        let mut ping = tokio::time::interval(self.cfg.settings.control_ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deadline = self.rec.next_timeout();
            let deferred = self.deferred_offer.as_ref().and_then(|_| self.offers.next_at());
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    None | Some(RemoteCmd::Close) => break,
                    Some(cmd) => self.on_cmd(cmd).await,
                },
                Some((gen, ev)) = engine.recv() => if gen == self.gen { self.on_engine(ev).await },
                Some((gen, ev)) = control.recv() => if gen == self.gen { self.on_control(ev).await },
                _ = ping.tick() => self.feed(Input::Tick).await,
                _ = sleep_opt(deadline) => {
                    let due = self.rec.on_timeout(Instant::now());
                    self.apply(due).await;
                }
                _ = sleep_opt(deferred) => self.on_deferred_offer().await,
            }
            self.follow_path().await;
            self.follow_security();
        }
        self.close_conn().await;
        self.path_tx.send_replace(None);
        let closed = self.rec.close();
        self.apply(closed).await;
        // Commands already on their way get an answer rather than being stranded in the
        // channel (after `close`, `recv` waits for sends in flight, then ends).
        cmds.close();
        while let Some(cmd) = cmds.recv().await {
            if let RemoteCmd::OpenChannel { reply, .. } = cmd {
                let _ = reply.send(Err(OpenChannelError::Closed));
            }
        }
    }

    /// Tells recovery what happened, and does what it decides.
    async fn feed(&mut self, input: Input) {
        let actions = self.rec.handle(input, Instant::now());
        self.apply(actions).await;
    }

    async fn apply(&mut self, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::State(to) => self.publish_state(to),
                Action::Rebuild => self.rebuild().await,
                Action::OfferIceRestart => {
                    tracing::info!(peer = %self.id, gen = self.gen, "ICE restart");
                    self.offer(true).await;
                }
                Action::Probe(t) => self.send_control(ControlMessage::Ping { t }).await,
                Action::RoutinePing => {
                    self.send_routine_ping().await;
                    self.refresh_path().await;
                }
                Action::Unsettled => {
                    if let Some(conn) = &self.conn {
                        conn.unsettled();
                    }
                }
                Action::Settled => {
                    if let Some(conn) = &self.conn {
                        conn.settled();
                    }
                    self.offers.refund();
                }
            }
        }
    }

    /// Whether an offer of ours waits for its answer.
    async fn offer_pending(&self) -> bool {
        match &self.conn {
            Some(conn) => self.making_offer || conn.has_local_offer().await,
            None => false,
        }
    }

    fn publish_state(&mut self, to: PeerState) {
        let from = *self.state_tx.borrow();
        if from == to {
            return;
        }
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
        self.making_offer = false;
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
        true
    }

    /// Replaces the connection with one of a new generation and offers on it.
    async fn rebuild(&mut self) {
        let gen = self.highest_gen.saturating_add(1);
        tracing::info!(peer = %self.id, gen, "building peer connection");
        if self.new_conn(gen).await {
            self.offer(false).await;
        } else {
            self.rec.connection_failed();
        }
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
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => sleep_until(d).await,
        None => std::future::pending().await,
    }
}

//! The signalling client: one task owns the WebSocket, reconnects with backoff and
//! `resume`, re-joins the room after every `welcome`, matches `ack`/`error` replies to
//! requests, and turns server frames into [`SigEvent`]s for the peer's core task. It is
//! the one owner of the room and of this peer's id (which it publishes for the handles
//! to read); every command goes through one path ([`Task::on_command`]) whether the
//! socket is up or not.

mod pacer;
mod session;
pub(crate) mod socket;
pub mod transport;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use peerchat_protocol::{ClientFrame, PresenceEntry, RawValue};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep_until, Instant};

use crate::error::PeerError;
use crate::events::SignallingState;
use crate::options::{IceServer, PeerOptions};
use socket::{ConnectError, Socket};
use transport::Dialer;

/// Requests that may wait for a reconnect.
const MAX_QUEUED: usize = 256;
/// Requests that may wait for the pacer on a live connection (at 90 frames/s, 45 s of
/// them): a big room's offers and candidates fit, and signals are not dropped.
const MAX_OUTBOX: usize = 4096;
/// How long the server has to send `welcome` after the upgrade.
const WELCOME_WAIT: Duration = Duration::from_secs(10);

/// What the signalling task tells the core.
#[derive(Debug)]
pub(crate) enum SigEvent {
    State(SignallingState),
    Welcome {
        peer_id: String,
        resumed: bool,
        /// This peer had another id before (a reconnect that was not resumed).
        new_identity: bool,
        ice_servers: Vec<IceServer>,
    },
    /// Presence for the joined room; `snapshot` lists every other member.
    Presence {
        joined: Vec<PresenceEntry>,
        left: Vec<String>,
        snapshot: bool,
    },
    Message {
        from: String,
        channel: Option<String>,
        data: Box<RawValue>,
    },
    Signal {
        from: String,
        data: Box<RawValue>,
    },
    /// Something went wrong that the task recovers from (it reconnects).
    Warning(PeerError),
    /// The signalling connection is over for good.
    Fatal(PeerError),
}

type Reply<T> = oneshot::Sender<Result<T, PeerError>>;

pub(crate) enum SigCmd {
    Join { channel: String, name: String, reply: Reply<String> },
    Leave { reply: Reply<()> },
    Request { out: Outbound, reply: Option<Reply<()>> },
    Close { reply: oneshot::Sender<()> },
}

/// What a request sends; the task fills in what it owns (the room, the id checks).
pub(crate) enum Outbound {
    /// `publish` to the joined room.
    Publish(Box<RawValue>),
    /// `send` to one peer (never to ourselves).
    Send { to: String, data: Box<RawValue> },
    /// Any other frame, as it is (signals).
    Frame(ClientFrame),
}

/// What the socket must do after a command, if it is up.
enum Step {
    Nothing,
    Subscribe,
    Leave(Reply<()>),
    Close(oneshot::Sender<()>),
}

/// Handle to the signalling task.
#[derive(Clone)]
pub(crate) struct Signalling {
    tx: mpsc::Sender<SigCmd>,
    /// This peer's id, as the task last learnt it from a `welcome`.
    me: watch::Receiver<Option<String>>,
}

impl Signalling {
    pub fn spawn(opts: PeerOptions, events: mpsc::Sender<SigEvent>) -> Signalling {
        let (tx, rx) = mpsc::channel(MAX_QUEUED);
        let (me_tx, me) = watch::channel(None);
        let task = Task {
            dialer: Dialer::new(opts.tls.clone()),
            opts,
            events,
            rx,
            room: None,
            token: None,
            me: me_tx,
            next_req: 1,
            pending: HashMap::new(),
            queued: VecDeque::new(),
            join_reply: None,
            expect_snapshot: false,
        };
        tokio::spawn(task.run());
        Signalling { tx, me }
    }

    /// This peer's id once a `welcome` gave one (a reconnect that was not resumed brings
    /// a new one).
    pub fn peer_id(&self) -> Option<String> {
        self.me.borrow().clone()
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> SigCmd) -> Result<T, PeerError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.map_err(|_| PeerError::Closed)?;
        rx.await.map_err(|_| PeerError::Closed)?
    }

    pub async fn join(&self, channel: String, name: String) -> Result<String, PeerError> {
        self.call(|reply| SigCmd::Join { channel, name, reply }).await
    }

    pub async fn leave(&self) -> Result<(), PeerError> {
        self.call(|reply| SigCmd::Leave { reply }).await
    }

    /// Sends a request and waits for its `ack`.
    pub async fn request(&self, out: Outbound) -> Result<(), PeerError> {
        self.call(|reply| SigCmd::Request { out, reply: Some(reply) }).await
    }

    /// Sends a frame without waiting for an answer (signals). Never blocks the caller.
    pub fn fire(&self, frame: ClientFrame) -> Result<(), PeerError> {
        self.tx.try_send(SigCmd::Request { out: Outbound::Frame(frame), reply: None }).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => PeerError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => PeerError::Closed,
        })
    }

    pub async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(SigCmd::Close { reply: tx }).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// How a connected session ended.
enum End {
    Lost,
    /// Closed with 4011 (too many frames): a reconnect after the backoff.
    Throttled,
    GoingAway(u64),
    Fatal(PeerError),
    Closed,
}

struct Task {
    opts: PeerOptions,
    dialer: Dialer,
    events: mpsc::Sender<SigEvent>,
    rx: mpsc::Receiver<SigCmd>,
    /// The room and the name in it, from `join` until `leave`: the one copy.
    room: Option<(String, String)>,
    token: Option<String>,
    /// This peer's id (the one copy; the handles read it).
    me: watch::Sender<Option<String>>,
    next_req: u64,
    pending: HashMap<u64, (Reply<()>, Instant)>,
    queued: VecDeque<(ClientFrame, Option<Reply<()>>)>,
    join_reply: Option<(u64, Reply<String>)>,
    expect_snapshot: bool,
}

impl Task {
    async fn emit(&self, e: SigEvent) {
        let _ = self.events.send(e).await;
    }

    async fn run(mut self) {
        let mut attempt: u32 = 0;
        let mut connected_once = false;
        loop {
            if self.room.is_none() && self.queued.is_empty() {
                // Nothing to do until the app joins.
                match self.rx.recv().await {
                    None => return,
                    Some(cmd) => {
                        if self.idle_command(cmd) {
                            return;
                        }
                        continue;
                    }
                }
            }
            let state = if connected_once { SignallingState::Reconnecting } else { SignallingState::Connecting };
            self.emit(SigEvent::State(state)).await;
            let connect = Socket::connect(
                &self.dialer,
                &self.opts.url,
                &self.opts.key,
                self.token.as_deref(),
                self.opts.origin.as_deref(),
            );
            let result = tokio::time::timeout(WELCOME_WAIT, connect)
                .await
                .unwrap_or_else(|_| Err(ConnectError::Retry("timeout".into())));
            let end = match result {
                Ok(sock) => {
                    let end = self.session(sock, &mut attempt).await;
                    connected_once = true;
                    end
                }
                Err(ConnectError::Fatal(e)) => End::Fatal(e),
                Err(ConnectError::Retry(e)) => {
                    tracing::debug!(error = %e, "signalling connect failed");
                    End::Lost
                }
            };
            self.fail_pending(PeerError::ConnectionLost);
            let wait = match end {
                End::Closed => return self.finish(SignallingState::Closed, None).await,
                End::Fatal(e) => return self.finish(SignallingState::Closed, Some(e)).await,
                End::GoingAway(ms) => Duration::from_millis(ms),
                End::Lost | End::Throttled => {
                    if matches!(end, End::Throttled) {
                        tracing::warn!("the server closed for sending too fast (4011); reconnecting after the backoff");
                        self.emit(SigEvent::Warning(PeerError::RateLimited)).await;
                    }
                    attempt += 1;
                    match &self.opts.reconnect {
                        Some(p) if attempt <= p.max_attempts => crate::backoff::next_delay(p, attempt),
                        _ => {
                            let e = PeerError::ReconnectGaveUp { attempts: attempt };
                            return self.finish(SignallingState::Closed, Some(e)).await;
                        }
                    }
                }
            };
            self.emit(SigEvent::State(SignallingState::Reconnecting)).await;
            if self.wait_commands(Instant::now() + wait).await {
                return self.finish(SignallingState::Closed, None).await;
            }
        }
    }

    async fn finish(mut self, state: SignallingState, error: Option<PeerError>) {
        let e = error.clone().unwrap_or(PeerError::Closed);
        self.fail_pending(e.clone());
        for (_, reply) in self.queued.drain(..) {
            if let Some(r) = reply {
                let _ = r.send(Err(e.clone()));
            }
        }
        if let Some((_, r)) = self.join_reply.take() {
            let _ = r.send(Err(e.clone()));
        }
        if let Some(err) = error {
            self.emit(SigEvent::Fatal(err)).await;
        }
        self.emit(SigEvent::State(state)).await;
        // Answer whatever still arrives until every handle is gone.
        self.rx.close();
        while let Some(cmd) = self.rx.recv().await {
            reject(cmd, e.clone());
        }
    }

    /// Handles a command while not connected. True when the task must end.
    fn idle_command(&mut self, cmd: SigCmd) -> bool {
        match self.on_command(cmd, MAX_QUEUED) {
            // The room is joined once the socket is up.
            Step::Nothing | Step::Subscribe => false,
            Step::Leave(reply) => {
                self.room = None;
                let _ = reply.send(Ok(()));
                false
            }
            Step::Close(reply) => {
                let _ = reply.send(());
                true
            }
        }
    }

    /// The one path of every command: what it changes in the task's state, and what
    /// the socket must do if it is up. Requests wait in `queued`, at most `room_for`.
    fn on_command(&mut self, cmd: SigCmd, room_for: usize) -> Step {
        match cmd {
            SigCmd::Join { channel, name, reply } => {
                if self.room.is_some() {
                    let _ = reply.send(Err(PeerError::AlreadyJoined));
                    return Step::Nothing;
                }
                self.room = Some((channel, name));
                self.join_reply = Some((0, reply));
                Step::Subscribe
            }
            SigCmd::Leave { reply } => Step::Leave(reply),
            SigCmd::Request { out, reply } => {
                let queued = self.resolve(out).and_then(|frame| {
                    if self.queued.len() >= room_for {
                        return Err(PeerError::QueueFull);
                    }
                    Ok(frame)
                });
                match queued {
                    Ok(frame) => self.queued.push_back((frame, reply)),
                    Err(e) => {
                        if let Some(r) = reply {
                            let _ = r.send(Err(e));
                        }
                    }
                }
                Step::Nothing
            }
            SigCmd::Close { reply } => Step::Close(reply),
        }
    }

    /// The frame a request sends, given the room and the id this task holds.
    fn resolve(&self, out: Outbound) -> Result<ClientFrame, PeerError> {
        let Some((channel, _)) = &self.room else { return Err(PeerError::NotJoined) };
        Ok(match out {
            Outbound::Publish(data) => ClientFrame::Publish { channel: channel.clone(), data, request_id: None },
            Outbound::Send { to, .. } if self.me.borrow().as_deref() == Some(to.as_str()) => {
                return Err(PeerError::SelfSend)
            }
            Outbound::Send { to, data } => ClientFrame::Send { to, data, request_id: None },
            Outbound::Frame(frame) => frame,
        })
    }

    /// Waits until `until` while queueing commands. True if the peer was closed.
    async fn wait_commands(&mut self, until: Instant) -> bool {
        loop {
            tokio::select! {
                _ = sleep_until(until) => return false,
                cmd = self.rx.recv() => match cmd {
                    None => return true,
                    Some(cmd) => if self.idle_command(cmd) { return true },
                }
            }
        }
    }

    fn fail_pending(&mut self, e: PeerError) {
        for (_, (reply, _)) in self.pending.drain() {
            let _ = reply.send(Err(e.clone()));
        }
    }

    fn take_req(&mut self) -> u64 {
        let id = self.next_req;
        self.next_req += 1;
        id
    }
}

fn reject(cmd: SigCmd, e: PeerError) {
    match cmd {
        SigCmd::Join { reply, .. } => {
            let _ = reply.send(Err(e));
        }
        SigCmd::Leave { reply } => {
            let _ = reply.send(Err(e));
        }
        SigCmd::Request { reply: Some(r), .. } => {
            let _ = r.send(Err(e));
        }
        SigCmd::Request { reply: None, .. } => {}
        SigCmd::Close { reply } => {
            let _ = reply.send(());
        }
    }
}

//! The signalling client: one task owns the WebSocket, reconnects with backoff and
//! `resume`, re-joins the room after every `welcome`, matches `ack`/`error` replies to
//! requests, and turns server frames into [`SigEvent`]s for the peer's core task.

mod pacer;
pub(crate) mod socket;
pub mod transport;

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use peerchat_protocol::{ClientFrame, PresenceEntry, RawValue, RequestId, ServerFrame};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};

use crate::error::PeerError;
use crate::events::SignallingState;
use crate::options::{IceServer, PeerOptions};
use pacer::Pacer;
use socket::{ConnectError, Read, Socket};
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
    Request { frame: ClientFrame, reply: Option<Reply<()>> },
    Close { reply: oneshot::Sender<()> },
}

/// Handle to the signalling task.
#[derive(Clone)]
pub(crate) struct Signalling {
    tx: mpsc::Sender<SigCmd>,
}

impl Signalling {
    pub fn spawn(opts: PeerOptions, events: mpsc::Sender<SigEvent>) -> Signalling {
        let (tx, rx) = mpsc::channel(MAX_QUEUED);
        let task = Task {
            dialer: Dialer::new(opts.tls.clone()),
            opts,
            events,
            rx,
            room: None,
            token: None,
            peer_id: None,
            next_req: 1,
            pending: HashMap::new(),
            queued: VecDeque::new(),
            join_reply: None,
            expect_snapshot: false,
        };
        tokio::spawn(task.run());
        Signalling { tx }
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

    /// Sends a frame and waits for its `ack`.
    pub async fn request(&self, frame: ClientFrame) -> Result<(), PeerError> {
        self.call(|reply| SigCmd::Request { frame, reply: Some(reply) }).await
    }

    /// Sends a frame without waiting for an answer (signals). Never blocks the caller.
    pub fn fire(&self, frame: ClientFrame) -> Result<(), PeerError> {
        self.tx.try_send(SigCmd::Request { frame, reply: None }).map_err(|e| match e {
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
    room: Option<(String, String)>,
    token: Option<String>,
    peer_id: Option<String>,
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
        match cmd {
            SigCmd::Join { channel, name, reply } => {
                if self.room.is_some() {
                    let _ = reply.send(Err(PeerError::AlreadyJoined));
                } else {
                    self.room = Some((channel, name));
                    self.join_reply = Some((0, reply));
                }
            }
            SigCmd::Leave { reply } => {
                self.room = None;
                let _ = reply.send(Ok(()));
            }
            SigCmd::Request { frame, reply } => {
                if self.room.is_none() {
                    if let Some(r) = reply {
                        let _ = r.send(Err(PeerError::NotJoined));
                    }
                } else if self.queued.len() >= MAX_QUEUED {
                    if let Some(r) = reply {
                        let _ = r.send(Err(PeerError::QueueFull));
                    }
                } else {
                    self.queued.push_back((frame, reply));
                }
            }
            SigCmd::Close { reply } => {
                let _ = reply.send(());
                return true;
            }
        }
        false
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

    async fn send(&mut self, sock: &mut Socket, mut frame: ClientFrame, reply: Option<Reply<()>>) -> bool {
        if let Some(r) = reply {
            let id = self.take_req();
            set_request_id(&mut frame, RequestId::Num(id));
            self.pending.insert(id, (r, Instant::now() + self.opts.request_timeout));
        }
        sock.send(&frame).await.is_ok()
    }

    async fn subscribe(&mut self, sock: &mut Socket) -> bool {
        let Some((channel, name)) = self.room.clone() else { return true };
        let id = self.take_req();
        if let Some((_, r)) = self.join_reply.take() {
            self.join_reply = Some((id, r));
        }
        let frame = ClientFrame::Subscribe { channel, name, request_id: Some(RequestId::Num(id)) };
        sock.send(&frame).await.is_ok()
    }

    /// Runs one connected session: welcome, re-join, then frames until it ends.
    async fn session(&mut self, mut sock: Socket, attempt: &mut u32) -> End {
        let welcome = loop {
            match tokio::time::timeout(WELCOME_WAIT, sock.read()).await {
                Ok(Read::Frame(ServerFrame::Welcome(w))) => break w,
                Ok(Read::Closed(code)) => return close_end(code),
                Ok(_) => continue,
                Err(_) => return End::Lost,
            }
        };
        *attempt = 0;
        self.token = Some(welcome.resume_token.clone());
        self.peer_id = Some(welcome.peer_id.clone());
        self.expect_snapshot = welcome.resumed;
        let ice = welcome
            .ice_servers
            .iter()
            .map(|s| IceServer { urls: s.urls.clone(), username: s.username.clone(), credential: s.credential.clone() })
            .collect();
        self.emit(SigEvent::Welcome { peer_id: welcome.peer_id.clone(), resumed: welcome.resumed, ice_servers: ice })
            .await;
        self.emit(SigEvent::State(SignallingState::Connected)).await;
        // Every frame from here on goes out under the limits the server announced.
        let mut pacer = Pacer::new(welcome.limits, Instant::now());
        pacer.take(Instant::now());
        if !self.subscribe(&mut sock).await {
            return End::Lost;
        }
        let mut last_seen = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let slot = pacer.next_slot(Instant::now());
            if slot.is_none() {
                // Requests that waited for this connection go first, in order.
                if let Some((frame, reply)) = self.queued.pop_front() {
                    pacer.take(Instant::now());
                    if !self.send(&mut sock, frame, reply).await {
                        return End::Lost;
                    }
                    continue;
                }
            }
            tokio::select! {
                _ = sleep_until_opt(slot), if slot.is_some() => {}
                read = sock.read() => {
                    last_seen = Instant::now();
                    match read {
                        Read::Frame(f) => if let Some(end) = self.on_frame(f).await { return end },
                        Read::Unknown | Read::Activity => {}
                        Read::Closed(code) => return close_end(code),
                    }
                }
                // Requests join the paced outbox; when it is full, commands wait in
                // their own bounded queue, and their callers with them.
                cmd = self.rx.recv(), if self.queued.len() < MAX_OUTBOX => match cmd {
                    None => { sock.close().await; return End::Closed }
                    Some(SigCmd::Close { reply }) => {
                        pacer.take(Instant::now());
                        self.unsubscribe(&mut sock).await;
                        sock.close().await;
                        let _ = reply.send(());
                        return End::Closed;
                    }
                    Some(SigCmd::Join { channel, name, reply }) => {
                        if self.room.is_some() {
                            let _ = reply.send(Err(PeerError::AlreadyJoined));
                        } else {
                            self.room = Some((channel, name));
                            self.join_reply = Some((0, reply));
                            pacer.take(Instant::now());
                            if !self.subscribe(&mut sock).await { return End::Lost }
                        }
                    }
                    Some(SigCmd::Leave { reply }) => {
                        pacer.take(Instant::now());
                        self.unsubscribe(&mut sock).await;
                        let _ = reply.send(Ok(()));
                    }
                    Some(SigCmd::Request { frame, reply }) => {
                        if self.room.is_none() {
                            if let Some(r) = reply { let _ = r.send(Err(PeerError::NotJoined)); }
                        } else {
                            self.queued.push_back((frame, reply));
                        }
                    }
                },
                _ = tick.tick() => {
                    if last_seen.elapsed() >= self.opts.inactivity_timeout {
                        tracing::info!("signalling socket silent too long; reconnecting");
                        return End::Lost;
                    }
                    let now = Instant::now();
                    let expired: Vec<u64> = self.pending.iter().filter(|(_, (_, d))| *d <= now).map(|(id, _)| *id).collect();
                    for id in expired {
                        if let Some((r, _)) = self.pending.remove(&id) { let _ = r.send(Err(PeerError::Timeout)); }
                    }
                }
            }
        }
    }

    async fn unsubscribe(&mut self, sock: &mut Socket) {
        if let Some((channel, _)) = self.room.take() {
            // The protocol asks for a requestId on every (un)subscribe; the ack that
            // answers it is not waited for (the socket closes next).
            let request_id = Some(RequestId::Num(self.take_req()));
            let _ = sock.send(&ClientFrame::Unsubscribe { channel, request_id }).await;
        }
    }

    async fn on_frame(&mut self, frame: ServerFrame) -> Option<End> {
        match frame {
            ServerFrame::Ack { request_id, resume_token } => {
                if let Some(t) = resume_token {
                    self.token = Some(t);
                }
                let RequestId::Num(id) = request_id else { return None };
                if let Some((jid, _)) = &self.join_reply {
                    if *jid == id {
                        let (_, r) = self.join_reply.take().expect("checked");
                        let _ = r.send(Ok(self.peer_id.clone().unwrap_or_default()));
                        return None;
                    }
                }
                if let Some((r, _)) = self.pending.remove(&id) {
                    let _ = r.send(Ok(()));
                }
            }
            ServerFrame::Error { code, message, request_id } => {
                let err = PeerError::from_server(code, message.clone());
                match request_id {
                    Some(RequestId::Num(id)) => {
                        if self.join_reply.as_ref().is_some_and(|(j, _)| *j == id) {
                            let (_, r) = self.join_reply.take().expect("checked");
                            self.room = None;
                            let _ = r.send(Err(err));
                        } else if let Some((r, _)) = self.pending.remove(&id) {
                            let _ = r.send(Err(err));
                        }
                    }
                    _ => tracing::warn!(%code, %message, "server error"),
                }
            }
            ServerFrame::Presence { channel, joined, left, resume_token } => {
                if self.room.as_ref().is_none_or(|(c, _)| *c != channel) {
                    return None;
                }
                let snapshot = resume_token.is_some() || std::mem::take(&mut self.expect_snapshot);
                if let Some(t) = resume_token {
                    self.token = Some(t);
                }
                self.emit(SigEvent::Presence { joined, left, snapshot }).await;
            }
            ServerFrame::Message { from, channel, data } => self.emit(SigEvent::Message { from, channel, data }).await,
            ServerFrame::Signal { from, data } => self.emit(SigEvent::Signal { from, data }).await,
            ServerFrame::GoingAway { retry_after_ms } => return Some(End::GoingAway(retry_after_ms)),
            ServerFrame::Welcome(_) | ServerFrame::Pong { .. } => {}
            _ => {}
        }
        None
    }
}

fn close_end(code: u16) -> End {
    match PeerError::from_close(code) {
        // Closed for sending too fast (a server with stricter limits than it announced,
        // or none announced): reconnect after the backoff, and say so.
        Some(PeerError::RateLimited) => End::Throttled,
        Some(e) => End::Fatal(e),
        None => End::Lost,
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at).await,
        None => std::future::pending().await,
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

fn set_request_id(frame: &mut ClientFrame, id: RequestId) {
    match frame {
        ClientFrame::Subscribe { request_id, .. }
        | ClientFrame::Unsubscribe { request_id, .. }
        | ClientFrame::Publish { request_id, .. }
        | ClientFrame::Send { request_id, .. }
        | ClientFrame::Signal { request_id, .. } => *request_id = Some(id),
        _ => {}
    }
}

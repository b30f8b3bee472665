//! Sessions, channels and connections, and the rules that tie them: connect and resume,
//! grace periods, delivery with bounded queues, and the end of a session.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use peerchat_protocol::{close, ErrorCode, PresenceEntry, RequestId, ServerFrame, Welcome};
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::keys::KeyTable;
use super::{Command, ConnId, ConnectRequest, Connected};
use crate::config::Config;
use crate::rate::FixedWindow;
use crate::token::{TokenClaims, TokenSigner};

/// Close code for a connection whose outbound queue overflowed ("try again later").
/// Its session is kept for the grace period, with the undelivered frames queued.
pub const SLOW_CONSUMER: u16 = 1013;

/// Counts for operators and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub connections: usize,
    pub sessions: usize,
    pub channels: usize,
    pub sessions_in_grace: usize,
}

pub(super) struct Session {
    pub name: String,
    pub kid: Arc<str>,
    pub channels: BTreeSet<String>,
    pub conn: Option<ConnId>,
    pub grace_until: Option<Instant>,
    pub pending: VecDeque<Utf8Bytes>,
}

pub(super) struct Conn {
    pub peer: Arc<str>,
    pub kid: Arc<str>,
    pub out: tokio::sync::mpsc::Sender<Utf8Bytes>,
    pub control: Arc<super::ConnControl>,
}

pub(super) struct KeyUse {
    pub live: usize,
    pub quota: FixedWindow,
}

pub(crate) struct State {
    pub cfg: Arc<Config>,
    pub keys: KeyTable,
    pub signer: TokenSigner,
    pub instance: String,
    pub next_conn: ConnId,
    pub conns: HashMap<ConnId, Conn>,
    pub sessions: HashMap<Arc<str>, Session>,
    pub channels: HashMap<String, BTreeSet<Arc<str>>>,
    pub key_use: HashMap<Arc<str>, KeyUse>,
    pub timers: BTreeSet<(Instant, Arc<str>)>,
    pub now: Instant,
    pub unix: Duration,
}

pub(super) fn random_id(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl State {
    pub fn new(cfg: Arc<Config>, keys: KeyTable) -> State {
        State {
            signer: TokenSigner::new(&cfg.secret),
            cfg,
            keys,
            instance: random_id(9),
            next_conn: 1,
            conns: HashMap::new(),
            sessions: HashMap::new(),
            channels: HashMap::new(),
            key_use: HashMap::new(),
            timers: BTreeSet::new(),
            now: Instant::now(),
            unix: Duration::ZERO,
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.first().map(|(t, _)| *t)
    }

    pub fn handle(&mut self, cmd: Command, now: Instant, unix: Duration) {
        self.now = now;
        self.unix = unix;
        self.expire(now);
        match cmd {
            Command::Connect(req, reply) => {
                let _ = reply.send(self.connect(req));
            }
            Command::Frame(conn, frame) => self.on_frame(conn, frame),
            Command::Disconnected { conn, peer, ends_session, unsent } => {
                self.on_disconnected(conn, peer, ends_session, unsent)
            }
            Command::SetKeys(keys, reply) => {
                let removed = self.keys.replace(&keys);
                for k in &keys {
                    let id: Arc<str> = k.key.fingerprint().into();
                    if let Some(u) = self.key_use.get_mut(&id) {
                        u.quota.set_limits(k.messages_per_period, Duration::from_secs(k.period_secs));
                    }
                }
                let victims: Vec<ConnId> = self
                    .conns
                    .iter()
                    .filter(|(_, c)| removed.contains(&c.kid))
                    .map(|(id, _)| *id)
                    .collect();
                for id in &victims {
                    self.kill(*id, close::INVALID_KEY, "key revoked", true);
                }
                let _ = reply.send(victims.len());
            }
            Command::Disconnect(peer, reply) => {
                let conn = self.sessions.get(peer.as_str()).map(|s| s.conn);
                let found = match conn {
                    Some(Some(c)) => {
                        self.kill(c, close::ADMIN_DISCONNECT, "disconnected by an administrator", true);
                        true
                    }
                    Some(None) => {
                        self.end_session(&Arc::from(peer.as_str()));
                        true
                    }
                    None => false,
                };
                let _ = reply.send(found);
            }
            Command::Stats(reply) => {
                let _ = reply.send(Stats {
                    connections: self.conns.len(),
                    sessions: self.sessions.len(),
                    channels: self.channels.len(),
                    sessions_in_grace: self.sessions.values().filter(|s| s.conn.is_none()).count(),
                });
            }
        }
    }

    /// Ends sessions whose grace period is over.
    pub fn expire(&mut self, now: Instant) {
        while let Some((t, peer)) = self.timers.first().cloned() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            let due = self.sessions.get(&peer).is_some_and(|s| s.conn.is_none() && s.grace_until == Some(t));
            if due {
                tracing::debug!(peer = %peer, "grace period over");
                self.end_session(&peer);
            }
        }
    }

    fn connect(&mut self, req: ConnectRequest) -> Result<Connected, u16> {
        let kid = req.key.id.clone();
        let Some(key) = self.keys.by_id(&kid) else {
            return Err(close::INVALID_KEY);
        };
        let limits = &key.config;
        let usage = self.key_use.entry(kid.clone()).or_insert_with(|| KeyUse {
            live: 0,
            quota: FixedWindow::new(limits.messages_per_period, Duration::from_secs(limits.period_secs)),
        });
        if usage.live >= limits.max_connections {
            return Err(close::OVER_CONNECTION_LIMIT);
        }
        usage.live += 1;
        let conn = self.next_conn;
        self.next_conn += 1;
        let claims = req
            .resume
            .as_deref()
            .and_then(|t| self.signer.verify(t, self.unix.as_secs()))
            .filter(|c| *c.kid == *kid);
        let (peer, resumed) = match claims {
            Some(c) if self.sessions.contains_key(c.pid.as_str()) => {
                let peer: Arc<str> = c.pid.as_str().into();
                let s = self.sessions.get_mut(&peer).expect("checked above");
                if let Some(old) = s.conn.take() {
                    self.kill(old, close::NORMAL, "resumed", false);
                }
                (peer, true)
            }
            Some(c) if c.iid != self.instance => (self.restore(c, &key), true),
            _ => (self.new_session(kid.clone()), false),
        };
        let session = self.sessions.get_mut(&peer).expect("session exists");
        session.conn = Some(conn);
        session.grace_until = None;
        let pending: Vec<Utf8Bytes> = session.pending.drain(..).collect();
        let channels: Vec<String> = session.channels.iter().cloned().collect();
        self.conns.insert(
            conn,
            Conn { peer: peer.clone(), kid, out: req.out, control: req.control },
        );
        let welcome = ServerFrame::Welcome(Welcome {
            peer_id: peer.to_string(),
            resume_token: self.token_for(&peer),
            resumed,
            server_time: self.unix.as_millis() as u64,
            max_message_size: self.cfg.max_frame_bytes,
            ice_servers: self.cfg.ice_servers.clone(),
        });
        self.push(conn, &welcome);
        for ch in channels {
            self.push(conn, &self.snapshot(&ch, &peer));
        }
        for text in pending {
            self.push_text(conn, text);
        }
        tracing::info!(conn, peer = %peer, resumed, "connected");
        Ok(Connected { conn, peer_id: peer, resumed })
    }

    fn new_session(&mut self, kid: Arc<str>) -> Arc<str> {
        let peer: Arc<str> = random_id(12).into();
        self.sessions.insert(
            peer.clone(),
            Session {
                name: String::new(),
                kid,
                channels: BTreeSet::new(),
                conn: None,
                grace_until: None,
                pending: VecDeque::new(),
            },
        );
        peer
    }

    /// Rebuilds a session from a token issued by an earlier server instance.
    fn restore(&mut self, c: TokenClaims, key: &super::keys::KeyEntry) -> Arc<str> {
        let peer: Arc<str> = c.pid.as_str().into();
        self.sessions.insert(
            peer.clone(),
            Session {
                name: c.name.clone(),
                kid: key.id.clone(),
                channels: BTreeSet::new(),
                conn: None,
                grace_until: None,
                pending: VecDeque::new(),
            },
        );
        for ch in c.ch.iter().take(self.cfg.max_channels_per_peer) {
            let room = self.channels.get(ch).map_or(0, |m| m.len());
            if key.allows_channel(ch) && room < self.cfg.max_peers_per_channel {
                self.join_channel(&peer, ch);
            }
        }
        tracing::info!(peer = %peer, "session restored from a resume token");
        peer
    }

    pub fn token_for(&self, peer: &Arc<str>) -> String {
        let s = &self.sessions[peer];
        self.signer.sign(&TokenClaims {
            pid: peer.to_string(),
            name: s.name.clone(),
            ch: s.channels.iter().cloned().collect(),
            kid: s.kid.to_string(),
            iid: self.instance.clone(),
            exp: (self.unix + self.cfg.resume_token_ttl).as_secs(),
        })
    }

    /// Adds `peer` to `channel` and tells the other members.
    pub fn join_channel(&mut self, peer: &Arc<str>, channel: &str) {
        let name = self.sessions[peer].name.clone();
        if let Some(s) = self.sessions.get_mut(peer) {
            s.channels.insert(channel.to_string());
        }
        self.channels.entry(channel.to_string()).or_default().insert(peer.clone());
        let delta = ServerFrame::Presence {
            channel: channel.to_string(),
            joined: vec![PresenceEntry { peer_id: peer.to_string(), name }],
            left: vec![],
        };
        self.broadcast(channel, peer, &delta);
    }

    /// Removes `peer` from `channel` and tells the other members.
    pub fn leave_channel(&mut self, peer: &Arc<str>, channel: &str) {
        if let Some(s) = self.sessions.get_mut(peer) {
            s.channels.remove(channel);
        }
        if let Some(members) = self.channels.get_mut(channel) {
            members.remove(peer);
            if members.is_empty() {
                self.channels.remove(channel);
                return;
            }
        }
        let delta = ServerFrame::Presence {
            channel: channel.to_string(),
            joined: vec![],
            left: vec![peer.to_string()],
        };
        self.broadcast(channel, peer, &delta);
    }

    pub fn snapshot(&self, channel: &str, me: &str) -> ServerFrame {
        let joined = self
            .channels
            .get(channel)
            .into_iter()
            .flatten()
            .filter(|p| &***p != me)
            .map(|p| PresenceEntry { peer_id: p.to_string(), name: self.sessions[p].name.clone() })
            .collect();
        ServerFrame::Presence { channel: channel.to_string(), joined, left: vec![] }
    }

    /// Sends a frame to every member of `channel` but `except`. Returns the members
    /// it could not be delivered to.
    pub fn broadcast(&mut self, channel: &str, except: &str, frame: &ServerFrame) -> Vec<Arc<str>> {
        let text = Utf8Bytes::from(frame.to_json());
        let members: Vec<Arc<str>> = self
            .channels
            .get(channel)
            .into_iter()
            .flatten()
            .filter(|p| &***p != except)
            .cloned()
            .collect();
        members.into_iter().filter(|m| !self.deliver(m, text.clone())).collect()
    }

    /// Delivers to a live connection, or queues for a session in its grace period.
    /// False when the peer's resume queue is full (the caller reports `peer_unavailable`).
    pub fn deliver(&mut self, peer: &Arc<str>, text: Utf8Bytes) -> bool {
        let Some(s) = self.sessions.get_mut(peer) else { return false };
        match s.conn {
            Some(conn) => {
                self.push_text(conn, text);
                true
            }
            None if s.pending.len() < self.cfg.resume_queue => {
                s.pending.push_back(text);
                true
            }
            None => false,
        }
    }

    pub fn push(&mut self, conn: ConnId, frame: &ServerFrame) {
        self.push_text(conn, Utf8Bytes::from(frame.to_json()));
    }

    /// Hands a frame to a connection's outbound queue. A connection that cannot keep up
    /// (or whose task has just ended) is detached; the frame waits in its session.
    pub fn push_text(&mut self, conn: ConnId, text: Utf8Bytes) {
        let Some(c) = self.conns.get(&conn) else { return };
        match c.out.try_send(text) {
            Ok(()) => {}
            Err(TrySendError::Full(text)) | Err(TrySendError::Closed(text)) => {
                let peer = c.peer.clone();
                tracing::warn!(conn, peer = %peer, "outbound queue full or closed; detaching connection");
                self.kill(conn, SLOW_CONSUMER, "slow consumer", false);
                if let Some(s) = self.sessions.get_mut(&peer) {
                    s.pending.push_back(text);
                }
            }
        }
    }

    pub fn error(&mut self, conn: ConnId, code: ErrorCode, message: impl Into<String>, request_id: Option<RequestId>) {
        let frame = ServerFrame::Error { code, message: message.into(), request_id };
        self.push(conn, &frame);
    }

    pub fn ack(&mut self, conn: ConnId, request_id: Option<RequestId>) {
        if let Some(request_id) = request_id {
            self.push(conn, &ServerFrame::Ack { request_id });
        }
    }

    /// Closes a connection from the hub's side and detaches it at once.
    pub fn kill(&mut self, conn: ConnId, code: u16, reason: &'static str, ends_session: bool) {
        if let Some(c) = self.conns.get(&conn) {
            c.control.close(code, reason);
        }
        self.detach(conn, ends_session);
    }

    fn detach(&mut self, conn: ConnId, ends_session: bool) {
        let Some(c) = self.conns.remove(&conn) else { return };
        if let Some(u) = self.key_use.get_mut(&c.kid) {
            u.live = u.live.saturating_sub(1);
        }
        let owns = self.sessions.get(&c.peer).is_some_and(|s| s.conn == Some(conn));
        if !owns {
            return;
        }
        if ends_session || self.cfg.grace_period.is_zero() {
            self.end_session(&c.peer);
        } else if let Some(s) = self.sessions.get_mut(&c.peer) {
            let until = self.now + self.cfg.grace_period;
            s.conn = None;
            s.grace_until = Some(until);
            self.timers.insert((until, c.peer.clone()));
            tracing::debug!(conn, peer = %c.peer, "session in grace period");
        }
    }

    fn on_disconnected(&mut self, conn: ConnId, peer: Arc<str>, ends_session: bool, unsent: Vec<Utf8Bytes>) {
        self.detach(conn, ends_session);
        match self.sessions.get(&peer).map(|s| s.conn) {
            Some(Some(live)) => unsent.into_iter().for_each(|t| self.push_text(live, t)),
            Some(None) => {
                let s = self.sessions.get_mut(&peer).expect("checked");
                for t in unsent.into_iter().rev() {
                    s.pending.push_front(t);
                }
            }
            None if !unsent.is_empty() => {
                tracing::debug!(conn, frames = unsent.len(), "session ended with frames unsent");
            }
            None => {}
        }
    }

    /// Ends a session: leaves every channel (others see `left`) and forgets it.
    pub fn end_session(&mut self, peer: &Arc<str>) {
        let Some(s) = self.sessions.get(peer) else { return };
        let channels: Vec<String> = s.channels.iter().cloned().collect();
        let conn = s.conn;
        for ch in channels {
            self.leave_channel(peer, &ch);
        }
        self.sessions.remove(peer);
        if let Some(conn) = conn {
            self.detach(conn, true);
        }
        tracing::info!(peer = %peer, "session ended");
    }
}

/// Channel membership check shared by the frame handlers.
pub(super) fn shares_channel(a: &Session, b: &Session) -> bool {
    a.channels.iter().any(|c| b.channels.contains(c))
}

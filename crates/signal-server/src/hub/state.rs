//! The hub's state and its dispatch: one [`State`] owns every session, connection,
//! channel and per-key counter. Methods take the time from the caller (the hub loop),
//! so the rules are testable on a paused clock.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::keys::KeyTable;
use super::{Command, ConnId, Outbound};
use crate::config::Config;
use crate::quota::Quota;
use crate::token::TokenSigner;

/// Close code for a connection whose outbound queue overflowed ("try again later").
/// The session ends with it: the client reconnects as a new peer.
pub const SLOW_CONSUMER: u16 = peerchat_protocol::close::TRY_AGAIN_LATER;

/// How long a takeover waits for the old socket to hand back its unsent frames.
pub(super) const HANDOVER_WAIT: Duration = Duration::from_secs(2);

/// Counts for operators and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub connections: usize,
    pub sessions: usize,
    pub channels: usize,
    pub sessions_in_grace: usize,
    /// Peers of other instances this one knows of.
    pub remote_peers: usize,
    /// Live instances of the cluster, this one included (0 without a cluster).
    pub instances: usize,
}

/// A peer's identity and membership, which outlives any one socket.
pub(super) struct Session {
    pub name: String,
    pub kid: Arc<str>,
    pub channels: BTreeSet<String>,
    /// The socket that currently serves the session.
    pub conn: Option<ConnId>,
    /// A socket that resumed the session and waits for the old one to hand over.
    pub handover: Option<Handover>,
    pub grace_until: Option<Instant>,
    /// App frames waiting for a resume.
    pub pending: VecDeque<Outbound>,
    /// Budget of joins, renames and leaves: each one sends presence to whole rooms.
    pub room_changes: crate::rate::TokenBucket,
    /// Version of the session's record in the cluster (grows with every change).
    pub ver: u64,
    /// Another instance took the session over: where it goes, and the socket whose
    /// unsent frames must come back first.
    pub moving_to: Option<(String, Option<ConnId>)>,
    /// The instance this session was adopted from, until it has handed over the frames
    /// it queued. Kept whatever happens to the sockets meanwhile (a second resume, a
    /// drop), so those frames are never refused as late.
    pub awaiting_from: Option<String>,
    /// The number of the session's latest token (see `TokenClaims::n`).
    pub token_n: u64,
    /// When the connected socket gets a fresh token (half the token lifetime after the
    /// last one), so a session held for longer than the lifetime can still resume.
    pub refresh_at: Option<Instant>,
}

impl Session {
    /// Whether a resume's new socket may get its welcome: the old sockets and the old
    /// owner have handed back what they held.
    pub fn handed_back(&self) -> bool {
        self.awaiting_from.is_none() && self.handover.as_ref().is_none_or(|h| h.awaiting.is_empty())
    }
}

/// A resume that took over a live socket, waiting for that socket's unsent frames.
pub(super) struct Handover {
    /// The new socket; it gets its welcome when the hand-back is complete.
    pub conn: ConnId,
    /// When to give up waiting and welcome the new socket anyway.
    pub deadline: Instant,
    /// Old sockets whose hand-back has not arrived yet.
    pub awaiting: Vec<ConnId>,
    /// Frames the new socket sent before its welcome, handled right after it.
    pub early_frames: Vec<peerchat_protocol::ClientFrame>,
}

/// Most frames a resuming socket may send before its welcome; more are refused.
pub(super) const MAX_EARLY_FRAMES: usize = 64;

/// A registered socket.
pub(super) struct Conn {
    pub peer: Arc<str>,
    pub kid: Arc<str>,
    pub out: crate::outbox::Sender,
    pub control: Arc<super::ConnControl>,
}

/// Sessions (connected or in their grace period) and message quota of one key.
pub(super) struct KeyUse {
    pub sessions: usize,
    pub quota: Quota,
    pub signals: Quota,
}

impl KeyUse {
    /// The quota of `kind`.
    pub fn quota_of(&mut self, kind: crate::cluster::QuotaKind) -> &mut Quota {
        match kind {
            crate::cluster::QuotaKind::Messages => &mut self.quota,
            crate::cluster::QuotaKind::Signals => &mut self.signals,
        }
    }
}

pub(crate) struct State {
    pub(super) cfg: Arc<Config>,
    pub(super) keys: KeyTable,
    pub(super) signer: TokenSigner,
    /// Random id of this server process, written into the tokens it issues.
    pub(super) instance: String,
    pub(super) next_conn: ConnId,
    pub(super) conns: HashMap<ConnId, Conn>,
    pub(super) sessions: HashMap<Arc<str>, Session>,
    pub(super) channels: HashMap<String, BTreeSet<Arc<str>>>,
    pub(super) key_use: HashMap<Arc<str>, KeyUse>,
    /// Grace expiries and handover deadlines, by time.
    pub(super) timers: BTreeSet<(Instant, Arc<str>)>,
    pub(super) now: Instant,
    pub(super) unix: Duration,
    /// The other instances, when running as one of several.
    pub(super) cluster: Option<super::cluster::Cluster>,
}

pub(super) fn random_id(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut b = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl State {
    /// A state for instance `instance`; `link` joins it to a cluster.
    pub fn new(cfg: Arc<Config>, keys: KeyTable, instance: String, link: Option<crate::cluster::ClusterLink>) -> State {
        State {
            signer: TokenSigner::new(&cfg.secret),
            cluster: link.map(super::cluster::Cluster::new),
            cfg,
            keys,
            instance,
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
        let cluster = self.cluster.as_ref().and_then(|c| c.next_deadline());
        self.timers.first().map(|(t, _)| *t).into_iter().chain(cluster).min()
    }

    /// A deadline passed: time moves on (the wall clock too: tokens issued now carry it).
    pub fn tick(&mut self, now: Instant, unix: Duration) {
        self.unix = unix;
        self.expire(now);
    }

    /// Handles what the cluster reports.
    pub fn cluster_in(&mut self, m: crate::cluster::ClusterIn, now: Instant, unix: Duration) {
        self.now = now;
        self.unix = unix;
        self.expire(now);
        self.on_cluster(m);
        self.flush_cluster();
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
                let _ = reply.send(self.set_keys(keys));
            }
            Command::Disconnect(peer, reply) => {
                let _ = reply.send(self.admin_disconnect(&peer));
            }
            Command::Stats(reply) => {
                let _ = reply.send(Stats {
                    remote_peers: self.cluster.as_ref().map_or(0, |c| c.remote.len()),
                    instances: self.cluster.as_ref().map_or(0, |c| c.alive.len()),
                    connections: self.conns.len(),
                    sessions: self.sessions.len(),
                    channels: self.channels.len(),
                    sessions_in_grace: self.sessions.values().filter(|s| s.grace_until.is_some()).count(),
                });
            }
        }
        self.flush_cluster();
    }

    /// Ends sessions whose grace period is over and completes overdue handovers.
    pub fn expire(&mut self, now: Instant) {
        self.now = now;
        while let Some((t, peer)) = self.timers.first().cloned() {
            if t > now {
                break;
            }
            self.timers.pop_first();
            let Some(s) = self.sessions.get(&peer) else {
                continue;
            };
            if s.moving_to.is_some() {
                continue;
            }
            if s.conn.is_none() && s.grace_until == Some(t) {
                tracing::debug!(peer = %peer, "grace period over");
                self.end_session(&peer);
            } else if let Some(conn) = s.conn.filter(|_| s.refresh_at == Some(t)) {
                let token = self.token_for(&peer);
                self.push(conn, &peerchat_protocol::ServerFrame::ResumeToken { resume_token: token });
                self.schedule_refresh(&peer);
            } else if let Some(h) = s.handover.as_ref().filter(|h| h.deadline == t) {
                tracing::warn!(peer = %peer, "old socket did not hand over in time");
                let new = h.conn;
                self.finish_connect(new, &peer, true);
            }
        }
        self.cluster_expire(now);
        self.flush_cluster();
    }

    fn set_keys(&mut self, keys: Vec<crate::config::KeyConfig>) -> usize {
        let removed = self.keys.replace(&keys);
        for k in &keys {
            let id: Arc<str> = k.key.fingerprint().into();
            if let Some(u) = self.key_use.get_mut(&id) {
                u.quota.set_limits(k.messages_per_period, Duration::from_secs(k.period_secs));
                u.signals.set_limits(k.signals_per_period, Duration::from_secs(k.period_secs));
            }
        }
        let victims: Vec<ConnId> =
            self.conns.iter().filter(|(_, c)| removed.contains(&c.kid)).map(|(id, _)| *id).collect();
        for id in &victims {
            self.kill(*id, peerchat_protocol::close::INVALID_KEY, "key revoked", true);
        }
        let orphans: Vec<Arc<str>> =
            self.sessions.iter().filter(|(_, s)| removed.contains(&s.kid)).map(|(p, _)| p.clone()).collect();
        for p in orphans {
            self.end_session(&p);
        }
        self.evict_disallowed();
        victims.len()
    }

    /// After a reload: members of channels their key no longer allows leave them (others
    /// see `left`), and a connected member is told why.
    fn evict_disallowed(&mut self) {
        let mut out: Vec<(Arc<str>, String)> = Vec::new();
        for (p, s) in &self.sessions {
            let Some(key) = self.keys.by_id(&s.kid) else { continue };
            out.extend(s.channels.iter().filter(|ch| !key.allows_channel(ch)).map(|ch| (p.clone(), ch.clone())));
        }
        for (peer, channel) in out {
            tracing::info!(peer = %peer, channel, "key no longer allows the channel; member removed");
            self.leave_channel(&peer, &channel);
            if let Some(conn) = self.sessions.get(&peer).and_then(|s| s.conn) {
                let msg = format!("removed from {channel}: the key no longer allows this channel");
                self.error(conn, peerchat_protocol::ErrorCode::ChannelNotAuthorized, &msg, None);
            }
        }
    }

    fn admin_disconnect(&mut self, peer: &str) -> bool {
        let Some(s) = self.sessions.get(peer) else {
            return false;
        };
        let peer: Arc<str> = peer.into();
        match s.conn.or(s.handover.as_ref().map(|h| h.conn)) {
            Some(c) => {
                self.kill(c, peerchat_protocol::close::ADMIN_DISCONNECT, "disconnected by an administrator", true)
            }
            None => self.end_session(&peer),
        }
        true
    }
}

//! The hub's side of the cluster: what it knows of the other instances (the replica of
//! their peers is kept by `replica`), routing of frames to them, what comes in from the
//! bus, and this instance's records and quota counts sent out after every change.
//! Sans-IO like the rest of the state: Redis is reached only through [`Effect`]s, and
//! answers arrive as [`ClusterIn`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use peerchat_protocol::ErrorCode;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::state::State;
use crate::cluster::wire::{BusMsg, PeerRecord};
use crate::cluster::{AckTo, ClusterIn, ClusterLink, Effect, QuotaKind};
use crate::quota::Quota;

/// How often (at most) this instance adds its quota counts to the cluster's; the first
/// use after a quiet spell is sent at once. With N instances a key can pass its quota
/// by at most what N instances accept in this time.
pub(super) const QUOTA_SYNC: Duration = Duration::from_millis(100);

/// How long to wait for a reaped peer's `gone` before reaping it again.
const REAP_AGAIN: Duration = Duration::from_secs(1);

/// How long to wait before sending again records and ends Redis did not take.
const REWRITE_AFTER: Duration = Duration::from_millis(500);

/// How long frames for a peer that moved to another instance are passed on to it.
pub(super) const FORWARD_FOR: Duration = Duration::from_secs(60);

/// A peer whose session another instance owns.
pub(super) struct Remote {
    /// Interned: every peer of an instance shares one copy of its id (and of its key's).
    pub inst: Arc<str>,
    pub ver: u64,
    pub kid: Arc<str>,
    pub name: String,
    pub ch: BTreeSet<String>,
}

/// Everything the hub knows about the cluster.
pub(super) struct Cluster {
    pub link: ClusterLink,
    /// In sync with Redis (false from a failure until the next snapshot).
    pub up: bool,
    pub remote: HashMap<Arc<str>, Remote>,
    /// Remote sessions per key id (for `max_connections` across instances).
    pub per_key: HashMap<Arc<str>, usize>,
    pub dead: HashSet<String>,
    /// Instances whose heartbeat is current (from the last beat that changed the set).
    pub alive: HashSet<String>,
    /// Peers of dead instances, to forget after the grace period unless they resume.
    pub reaps: BTreeSet<(Instant, Arc<str>)>,
    /// Peers missing from the last snapshot: gone unless announced again by then.
    pub unconfirmed: BTreeSet<(Instant, Arc<str>)>,
    /// Peers that moved away, and where to.
    pub forward: HashMap<Arc<str>, (String, Instant)>,
    /// Sessions of ours changed since the last flush, and sessions that ended.
    pub dirty: BTreeSet<Arc<str>>,
    pub ended: Vec<(String, u64)>,
    /// When to send the quota counts taken since the last sync.
    pub quota_sync_at: Option<Instant>,
    pub last_quota_sync: Option<Instant>,
    /// When to send again what could not be queued or written (see [`REWRITE_AFTER`]).
    pub rewrite_at: Option<Instant>,
    /// Instance ids and key ids the replica shares (see [`Cluster::intern`]).
    interned: HashSet<Arc<str>>,
}

impl Cluster {
    pub fn new(link: ClusterLink) -> Self {
        Cluster {
            link,
            up: false,
            remote: HashMap::new(),
            per_key: HashMap::new(),
            dead: HashSet::new(),
            alive: HashSet::new(),
            reaps: BTreeSet::new(),
            unconfirmed: BTreeSet::new(),
            forward: HashMap::new(),
            dirty: BTreeSet::new(),
            ended: Vec::new(),
            quota_sync_at: None,
            last_quota_sync: None,
            rewrite_at: None,
            interned: HashSet::new(),
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let timers = [self.reaps.first(), self.unconfirmed.first()].into_iter().flatten().map(|(t, _)| *t);
        timers.chain(self.quota_sync_at).chain(self.rewrite_at).min()
    }

    /// Sessions of key `kid` on other instances.
    pub fn sessions_of(&self, kid: &str) -> usize {
        self.per_key.get(kid).copied().unwrap_or(0)
    }

    /// One shared copy of `s` (an instance or key id, of which there are few), so a
    /// replica of tens of thousands of peers does not hold as many copies.
    pub fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.interned.get(s) {
            return a.clone();
        }
        let a: Arc<str> = s.into();
        self.interned.insert(a.clone());
        a
    }

    /// Drops ids nothing refers to any more (instances that left, keys no longer seen).
    pub(super) fn prune_interned(&mut self) {
        self.interned.retain(|a| Arc::strong_count(a) > 1);
    }

    pub(super) fn count(&mut self, kid: &Arc<str>, add: bool) {
        let n = self.per_key.entry(kid.clone()).or_default();
        *n = if add { *n + 1 } else { n.saturating_sub(1) };
    }
}

impl State {
    /// Marks a session of ours as changed: its record goes out at the next flush.
    pub(super) fn touch(&mut self, peer: &Arc<str>) {
        if let Some(c) = self.cluster.as_mut() {
            c.dirty.insert(peer.clone());
        }
    }

    /// Sends the records of changed sessions and the ends of finished ones (and the
    /// quota counts, when due).
    pub(super) fn flush_cluster(&mut self) {
        if self.cluster.as_ref().and_then(|c| c.quota_sync_at).is_some_and(|t| t <= self.now) {
            self.sync_quotas();
        }
        let Some(c) = self.cluster.as_mut() else { return };
        if c.rewrite_at.is_some_and(|t| t > self.now) {
            // Waiting to send again what the queue or Redis refused; all of it then.
            return;
        }
        c.rewrite_at = None;
        let dirty = std::mem::take(&mut c.dirty);
        let ended = std::mem::take(&mut c.ended);
        let mut refused = false;
        for (pid, ver) in ended {
            // A session that came back here since is announced by its record instead.
            if !self.sessions.contains_key(pid.as_str()) && !c.link.effect(Effect::Gone { pid: pid.clone(), ver }) {
                c.ended.push((pid, ver));
                refused = true;
            }
        }
        for pid in dirty {
            if let Some(s) = self.sessions.get_mut(&pid) {
                // Versions are times (ms), so a session restored from a token here beats
                // the record an instance that died left of it, whatever its count was.
                s.ver = (s.ver + 1).max(self.unix.as_millis() as u64);
                let rec = record(&pid, s, &c.link.instance);
                if !c.link.effect(Effect::Put(rec)) {
                    c.dirty.insert(pid);
                    refused = true;
                }
            }
        }
        if refused {
            c.rewrite_at = Some(self.now + REWRITE_AFTER);
        }
    }

    /// Redis did not take these records and ends: they go out again a little later.
    fn unwritten(&mut self, puts: Vec<String>, gones: Vec<(String, u64)>) {
        let now = self.now;
        let Some(c) = self.cluster.as_mut() else { return };
        tracing::info!(records = puts.len(), ends = gones.len(), "cluster: sending again what Redis refused");
        for pid in puts {
            if let Some((p, _)) = self.sessions.get_key_value(pid.as_str()) {
                c.dirty.insert(p.clone());
            }
        }
        // Ends of sessions that came back here meanwhile are skipped by the flush.
        c.ended.extend(gones);
        c.rewrite_at.get_or_insert(now + REWRITE_AFTER);
    }

    /// Whether instance `iid` is another live member of the cluster: a session it issued a
    /// token for, and that is not in the replica, has ended there and is not restored.
    pub(super) fn alive_elsewhere(&self, iid: &str) -> bool {
        self.cluster.as_ref().is_some_and(|c| iid != c.link.instance && c.alive.contains(iid))
    }

    /// Where a remote peer lives, if it is one.
    pub(super) fn remote_inst(&self, pid: &str) -> Option<String> {
        self.cluster.as_ref()?.remote.get(pid).map(|r| r.inst.to_string())
    }

    /// Queues messages to other instances; `ack` is answered when Redis has them. False
    /// (the caller answers with an error) when the cluster cannot take them now.
    pub(super) fn send_bus(&mut self, to: Vec<(String, BusMsg)>, ack: Option<AckTo>) -> bool {
        match self.cluster.as_ref() {
            Some(c) if c.up => c.link.effect(Effect::Send { to, ack }),
            _ => false,
        }
    }

    /// Schedules a quota sync when a shared quota was used: at once (with this frame's
    /// flush) after a quiet spell, else one interval after the last sync.
    pub(super) fn quota_used(&mut self) {
        let now = self.now;
        if let Some(c) = self.cluster.as_mut() {
            let next = c.last_quota_sync.map_or(now, |t| (t + QUOTA_SYNC).max(now));
            c.quota_sync_at.get_or_insert(next);
        }
    }

    fn sync_quotas(&mut self) {
        let now = self.now;
        let Some(c) = self.cluster.as_mut() else { return };
        c.quota_sync_at = None;
        c.last_quota_sync = Some(now);
        for (kid, u) in self.key_use.iter_mut() {
            for (kind, q) in [(QuotaKind::Messages, &mut u.quota), (QuotaKind::Signals, &mut u.signals)] {
                if let Quota::Shared(w) = q {
                    if let Some(d) = w.delta() {
                        c.link.effect(Effect::Quota { kid: kid.to_string(), kind, d });
                    }
                }
            }
        }
    }

    pub(super) fn cluster_expire(&mut self, now: Instant) {
        if self.cluster.as_ref().and_then(|c| c.quota_sync_at).is_some_and(|t| t <= now) {
            self.sync_quotas();
        }
        let Some(c) = self.cluster.as_mut() else { return };
        let mut due = Vec::new();
        while c.reaps.first().is_some_and(|(t, _)| *t <= now) {
            due.extend(c.reaps.pop_first().map(|(_, p)| p));
        }
        for pid in due {
            let Some(r) = c.remote.get(&pid).filter(|r| c.dead.contains(&*r.inst)) else { continue };
            c.link.effect(Effect::Reap { pid: pid.to_string(), inst: r.inst.to_string() });
            // Until its `gone` comes back (Redis may be away): ask again.
            c.reaps.insert((now + REAP_AGAIN, pid));
        }
        let mut stale = Vec::new();
        while c.unconfirmed.first().is_some_and(|(t, _)| *t <= now) {
            stale.extend(c.unconfirmed.pop_first().map(|(_, p)| p));
        }
        c.forward.retain(|_, (_, until)| *until > now);
        for pid in stale {
            tracing::info!(peer = %pid, "cluster: peer not announced again after a resync; gone");
            self.remove_remote(&pid);
        }
    }

    pub(super) fn on_cluster(&mut self, m: ClusterIn) {
        match m {
            ClusterIn::Bus(env) => self.on_bus(env.src, env.msg),
            ClusterIn::Synced { records, dead } => self.resync(records, dead),
            ClusterIn::Down(reason) => {
                if let Some(c) = self.cluster.as_mut() {
                    if c.up {
                        tracing::warn!(%reason, "cluster: Redis unreachable; serving this instance's peers only");
                    }
                    c.up = false;
                }
            }
            ClusterIn::Instances { alive, dead } => {
                if let Some(c) = self.cluster.as_mut() {
                    c.alive = alive.into_iter().collect();
                }
                self.on_dead(dead);
            }
            ClusterIn::Unwritten { puts, gones } => self.unwritten(puts, gones),
            ClusterIn::QuotaTotal { kid, kind, window, total, through } => {
                let Some(u) = self.key_use.get_mut(kid.as_str()) else { return };
                if let Quota::Shared(w) = u.quota_of(kind) {
                    w.synced(window, total, through);
                }
            }
            ClusterIn::Sent { ack, missed } => match self.conns.contains_key(&ack.conn) {
                false => {}
                true if missed == 0 => self.ack(ack.conn, ack.request_id, None),
                true => {
                    let msg = "the peer's server could not be reached; not delivered";
                    self.error(ack.conn, ErrorCode::PeerUnavailable, msg, ack.request_id)
                }
            },
        }
    }

    fn on_bus(&mut self, src: String, msg: BusMsg) {
        match msg {
            BusMsg::Peer(rec) => self.apply_record(rec),
            BusMsg::Gone { pid, ver } => {
                // An end older than what we know (the peer moved on) changes nothing.
                let newer =
                    self.cluster.as_ref().and_then(|c| c.remote.get(pid.as_str())).is_some_and(|r| r.ver >= ver);
                if !self.sessions.contains_key(pid.as_str()) && !newer {
                    self.remove_remote(&Arc::from(pid));
                }
            }
            BusMsg::Deliver { to, text } => {
                let to: Arc<str> = to.into();
                if self.sessions.contains_key(&to) {
                    if !self.deliver(&to, Utf8Bytes::from(text)) {
                        tracing::warn!(peer = %to, "resume queue full; a frame from another instance is dropped");
                    }
                } else if let Some((inst, _)) =
                    self.cluster.as_ref().and_then(|c| c.forward.get(&to)).cloned().filter(|(i, _)| *i != src)
                {
                    // Passed on once, never back to where it came from (no ping-pong).
                    self.send_bus(vec![(inst, BusMsg::Deliver { to: to.to_string(), text })], None);
                } else {
                    tracing::debug!(peer = %to, "frame for a peer not here; dropped");
                }
            }
            BusMsg::Room { channel, except, text } => {
                let text = Utf8Bytes::from(text);
                let local: Vec<Arc<str>> = self
                    .channels
                    .get(&channel)
                    .into_iter()
                    .flatten()
                    .filter(|p| ***p != *except && self.sessions.contains_key(*p))
                    .cloned()
                    .collect();
                for m in local {
                    self.deliver(&m, text.clone());
                }
            }
            BusMsg::Takeover { pid, by } => self.give_away(&Arc::from(pid), &by),
            BusMsg::Handover { pid, frames } => self.handed_over(&Arc::from(pid), &src, frames),
        }
    }
}

/// The record of one of our sessions.
pub(super) fn record(pid: &str, s: &super::state::Session, me: &str) -> PeerRecord {
    PeerRecord {
        pid: pid.to_string(),
        ver: s.ver,
        inst: me.to_string(),
        kid: s.kid.to_string(),
        name: s.name.clone(),
        ch: s.channels.iter().cloned().collect(),
    }
}

//! Session lifecycle: connect (fresh, resumed, taken over, or restored from a token of
//! an earlier server instance), grace periods, and the end of a session.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use peerchat_protocol::{close, ServerFrame, Welcome};

use super::keys::KeyEntry;
use super::state::{Handover, KeyUse, Session, State, HANDOVER_WAIT};
use super::{ConnId, ConnectRequest, Connected, Outbound};
use crate::quota::Quota;
use crate::rate::TokenBucket;
use crate::token::TokenClaims;

impl State {
    pub(super) fn connect(&mut self, req: ConnectRequest) -> Result<Connected, u16> {
        let kid = req.key.id.clone();
        let Some(key) = self.keys.by_id(&kid) else {
            return Err(close::INVALID_KEY);
        };
        // An expired token resumes nothing; for a session this process holds, only its
        // latest token does (each welcome issues the next: a copy of an older one is
        // worth nothing once its owner resumed).
        let now_unix = self.unix.as_secs();
        let claims = req.resume.as_deref().and_then(|t| self.signer.verify(t, now_unix)).filter(|c| *c.kid == *kid);
        let stale =
            claims.as_ref().is_some_and(|c| self.sessions.get(c.pid.as_str()).is_some_and(|s| s.token_n != c.n));
        if stale {
            tracing::info!(peer = ?claims.as_ref().map(|c| &c.pid), "an earlier token of a session: not resumed");
        }
        let claims = claims.filter(|_| !stale);
        let known = claims.as_ref().is_some_and(|c| self.sessions.contains_key(c.pid.as_str()));
        // A session another instance owns moves here (it already holds its slot).
        let elsewhere = claims.as_ref().filter(|_| !known).is_some_and(|c| self.remote_inst(&c.pid).is_some());
        let takeover = claims.as_ref().filter(|_| known).and_then(|c| {
            let s = &self.sessions[c.pid.as_str()];
            s.conn.or(s.handover.as_ref().map(|h| h.conn))
        });
        let others = self.cluster.as_ref().map_or(0, |c| c.sessions_of(&kid));
        let clustered = self.cluster.is_some();
        let usage = self.key_use.entry(kid.clone()).or_insert_with(|| KeyUse {
            sessions: 0,
            quota: Quota::new(key.config.messages_per_period, Duration::from_secs(key.config.period_secs), clustered),
            signals: Quota::new(key.config.signals_per_period, Duration::from_secs(key.config.period_secs), clustered),
        });
        // A session holds its slot from its start to its end, grace period included (else
        // connecting, joining and dropping in a loop would fill rooms with ghosts): a
        // socket that resumes a session held here needs no new slot.
        if !known && !elsewhere && usage.sessions + others >= key.config.max_connections {
            return Err(close::OVER_CONNECTION_LIMIT);
        }
        if !known {
            usage.sessions += 1;
        }
        let conn = self.next_conn;
        self.next_conn += 1;
        let (peer, resumed) = match claims {
            Some(c) if known => (Arc::<str>::from(c.pid.as_str()), true),
            Some(c) if elsewhere => {
                let peer = Arc::<str>::from(c.pid.as_str());
                let conn_entry = super::state::Conn { peer: peer.clone(), kid, out: req.out, control: req.control };
                self.conns.insert(conn, conn_entry);
                self.adopt(&peer, conn);
                return Ok(Connected { conn, peer_id: peer, resumed: true });
            }
            // Restored from the token: issued by a process that is gone (a restart, a
            // dead instance). A live instance that no longer has the session ended it.
            Some(c) if c.iid != self.instance && !self.alive_elsewhere(&c.iid) => (self.restore(c, &key), true),
            _ => (self.new_session(kid.clone()), false),
        };
        self.conns.insert(conn, super::state::Conn { peer: peer.clone(), kid, out: req.out, control: req.control });
        match takeover {
            Some(old) => {
                // The old socket hands back what it did not write; the new one gets its
                // welcome once that arrives, so frames stay in order. A socket that was
                // itself still waiting for its welcome has nothing to hand back.
                let deadline = self.now + HANDOVER_WAIT;
                let s = self.sessions.get_mut(&peer).expect("known session");
                let mut awaiting = s.handover.take().map(|h| h.awaiting).unwrap_or_default();
                if s.conn.take() == Some(old) {
                    awaiting.push(old);
                }
                let h = Handover { conn, deadline, awaiting, early_frames: Vec::new() };
                s.handover = Some(h);
                self.timers.insert((deadline, peer.clone()));
                if let Some(c) = self.conns.remove(&old) {
                    c.control.close(close::NORMAL, "resumed");
                }
                tracing::info!(conn, old, peer = %peer, "resume takes over a live socket");
            }
            None if self.sessions.get(&peer).is_some_and(|s| s.awaiting_from.is_some()) => {
                // Adopted from another instance whose hand-over is still on its way.
                let deadline = self.now + HANDOVER_WAIT;
                if let Some(s) = self.sessions.get_mut(&peer) {
                    s.handover = Some(Handover { conn, deadline, awaiting: Vec::new(), early_frames: Vec::new() });
                }
                self.timers.insert((deadline, peer.clone()));
            }
            None => self.finish_connect(conn, &peer, resumed),
        }
        Ok(Connected { conn, peer_id: peer, resumed })
    }

    /// Attaches `conn` to the session and sends welcome, snapshots and queued frames,
    /// then handles any frames the socket sent while it waited for its welcome.
    pub(super) fn finish_connect(&mut self, conn: ConnId, peer: &Arc<str>, resumed: bool) {
        self.touch(peer);
        let Some(s) = self.sessions.get_mut(peer) else { return };
        s.conn = Some(conn);
        // This welcome's token replaces every earlier one.
        s.token_n = s.token_n.wrapping_add(1);
        let early = s.handover.take().map(|h| h.early_frames).unwrap_or_default();
        s.grace_until = None;
        let pending: Vec<Outbound> = s.pending.drain(..).collect();
        let channels: Vec<String> = s.channels.iter().cloned().collect();
        let welcome = ServerFrame::Welcome(Welcome {
            peer_id: peer.to_string(),
            resume_token: self.token_for(peer),
            resumed,
            server_time: self.unix.as_millis() as u64,
            max_message_size: self.cfg.max_frame_bytes,
            ice_servers: self.ice_servers(peer),
            limits: Some(peerchat_protocol::Limits {
                rate_per_sec: self.cfg.rate_per_sec,
                rate_burst: self.cfg.rate_burst,
                room_changes_per_min: self.cfg.room_changes_per_min,
                room_changes_burst: self.cfg.room_changes_burst,
            }),
        });
        self.push(conn, &welcome);
        self.schedule_refresh(peer);
        for ch in channels {
            let snapshot = self.snapshot(&ch, peer, None);
            self.push(conn, &snapshot);
        }
        for o in pending {
            self.push_out(conn, o);
        }
        tracing::info!(conn, peer = %peer, resumed, "connected");
        for frame in early {
            self.on_frame(conn, frame);
        }
    }

    /// Sends the session a fresh token half a token lifetime from now, while connected.
    /// Its earlier refresh (if any) is dropped from the timers, so they hold one per
    /// session, not one per connection over half a token lifetime.
    pub(super) fn schedule_refresh(&mut self, peer: &Arc<str>) {
        let at = self.now + self.cfg.resume_token_ttl / 2;
        if let Some(s) = self.sessions.get_mut(peer) {
            if let Some(old) = s.refresh_at.replace(at) {
                self.timers.remove(&(old, peer.clone()));
            }
            self.timers.insert((at, peer.clone()));
        }
    }

    /// Removes a session and the refresh timer it left (other timers of it are rare and
    /// short: a grace or a hand-over deadline).
    pub(super) fn remove_session(&mut self, peer: &Arc<str>) -> Option<Session> {
        let s = self.sessions.remove(peer)?;
        if let Some(at) = s.refresh_at {
            self.timers.remove(&(at, peer.clone()));
        }
        Some(s)
    }

    /// The configured ICE servers, then this peer's own TURN credentials.
    fn ice_servers(&self, peer: &str) -> Vec<peerchat_protocol::IceServer> {
        let mut servers = self.cfg.ice_servers.clone();
        servers.extend(self.cfg.turn.as_ref().map(|t| t.issue(peer, self.unix)));
        servers
    }

    fn new_session(&mut self, kid: Arc<str>) -> Arc<str> {
        let peer: Arc<str> = super::state::random_id(12).into();
        let s = self.empty_session(String::new(), kid);
        self.sessions.insert(peer.clone(), s);
        self.touch(&peer);
        peer
    }

    /// Rebuilds a session from a token issued by an earlier server instance.
    fn restore(&mut self, c: TokenClaims, key: &KeyEntry) -> Arc<str> {
        let peer: Arc<str> = c.pid.as_str().into();
        let mut s = self.empty_session(c.name.clone(), key.id.clone());
        s.token_n = c.n;
        self.sessions.insert(peer.clone(), s);
        self.touch(&peer);
        for ch in c.ch.iter().take(self.cfg.max_channels_per_peer) {
            let room = self.channels.get(ch).map_or(0, |m| m.len());
            if key.allows_channel(ch) && room < self.cfg.max_peers_per_channel {
                self.join_channel(&peer, ch);
            }
        }
        tracing::info!(peer = %peer, "session restored from a resume token");
        peer
    }

    pub(super) fn token_for(&self, peer: &Arc<str>) -> String {
        let Some(s) = self.sessions.get(peer) else {
            return String::new();
        };
        self.signer.sign(&TokenClaims {
            pid: peer.to_string(),
            name: s.name.clone(),
            ch: s.channels.iter().cloned().collect(),
            kid: s.kid.to_string(),
            iid: self.instance.clone(),
            exp: (self.unix + self.cfg.resume_token_ttl).as_secs(),
            n: s.token_n,
        })
    }

    fn release_slot(&mut self, kid: &Arc<str>) {
        if let Some(u) = self.key_use.get_mut(kid) {
            u.sessions = u.sessions.saturating_sub(1);
        }
    }

    /// Closes a connection from the hub's side and detaches it at once.
    pub(super) fn kill(&mut self, conn: ConnId, code: u16, reason: &'static str, ends_session: bool) {
        if let Some(c) = self.conns.get(&conn) {
            c.control.close(code, reason);
        }
        self.detach(conn, ends_session);
    }

    /// Forgets a socket; its session ends or enters its grace period.
    fn detach(&mut self, conn: ConnId, ends_session: bool) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        let Some(s) = self.sessions.get_mut(&c.peer) else {
            return;
        };
        let serving = s.conn == Some(conn) || s.handover.as_ref().is_some_and(|h| h.conn == conn);
        if !serving {
            return;
        }
        if ends_session || self.cfg.grace_period.is_zero() {
            self.end_session(&c.peer);
            return;
        }
        let until = self.now + self.cfg.grace_period;
        s.conn = None;
        s.handover = None;
        s.grace_until = Some(until);
        self.timers.insert((until, c.peer.clone()));
        tracing::debug!(conn, peer = %c.peer, "session in grace period");
    }

    pub(super) fn on_disconnected(&mut self, conn: ConnId, peer: Arc<str>, ends_session: bool, unsent: Vec<Outbound>) {
        self.detach(conn, ends_session);
        if let Some(s) = self.sessions.get_mut(&peer).filter(|s| s.moving_to.is_some()) {
            for o in unsent.into_iter().rev() {
                s.pending.push_front(o);
            }
            self.move_completed_by(&peer, conn);
            return;
        }
        let Some(s) = self.sessions.get_mut(&peer) else {
            if !unsent.is_empty() {
                tracing::debug!(conn, frames = unsent.len(), "session ended with frames unsent");
            }
            return;
        };
        // Unsent frames are older than anything queued since: they go first.
        for o in unsent.into_iter().rev() {
            s.pending.push_front(o);
        }
        if let Some(h) = s.handover.as_mut() {
            h.awaiting.retain(|c| *c != conn);
            let new = h.conn;
            if s.handed_back() {
                self.finish_connect(new, &peer, true);
            }
        } else if let Some(live) = s.conn {
            let pending: Vec<Outbound> = s.pending.drain(..).collect();
            pending.into_iter().for_each(|o| self.push_out(live, o));
        }
    }

    /// Ends a session: leaves every channel (others see `left`) and forgets it.
    pub(super) fn end_session(&mut self, peer: &Arc<str>) {
        let Some(s) = self.sessions.get(peer) else {
            return;
        };
        let channels: Vec<String> = s.channels.iter().cloned().collect();
        let conns = [s.conn, s.handover.as_ref().map(|h| h.conn)];
        let kid = s.kid.clone();
        let ver = s.ver + 1;
        for ch in channels {
            self.leave_channel(peer, &ch);
        }
        self.remove_session(peer);
        if let Some(c) = self.cluster.as_mut() {
            c.dirty.remove(peer);
            c.forward.remove(peer);
            c.ended.push((peer.to_string(), ver));
        }
        self.release_slot(&kid);
        for conn in conns.into_iter().flatten() {
            self.detach(conn, true);
        }
        tracing::info!(peer = %peer, "session ended");
    }
}

impl State {
    pub(super) fn empty_session(&self, name: String, kid: Arc<str>) -> Session {
        Session {
            name,
            kid,
            channels: BTreeSet::new(),
            conn: None,
            handover: None,
            grace_until: None,
            pending: VecDeque::new(),
            room_changes: TokenBucket::per_minute(self.cfg.room_changes_per_min, self.cfg.room_changes_burst, self.now),
            ver: 0,
            moving_to: None,
            awaiting_from: None,
            token_n: 0,
            refresh_at: None,
        }
    }
}

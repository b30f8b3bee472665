//! Sessions moving between instances: a peer that resumes on another instance (after a
//! drain, a drop, or a load balancer's choice) keeps its identity and its rooms, and the
//! frames queued for it follow it. Others see no leave and no join.
//!
//! The new owner adopts the session from its replica and asks the old owner to hand
//! over; the old owner closes its socket, waits for the frames that socket did not write,
//! and sends them with everything queued, in order. The new owner welcomes the client
//! when they arrive (or after [`HANDOVER_WAIT`], or at once when the old owner is dead),
//! then announces itself as the owner.

use std::collections::VecDeque;
use std::sync::Arc;

use peerchat_protocol::close;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::cluster::Remote;
use super::state::{Handover, State, HANDOVER_WAIT};
use super::{ConnId, Outbound};
use crate::cluster::wire::BusMsg;

impl State {
    /// Makes the remote session `pid` ours for socket `conn`, which gets its welcome once
    /// the old owner has handed over.
    pub(super) fn adopt(&mut self, pid: &Arc<str>, conn: ConnId) {
        let Some(c) = self.cluster.as_mut() else { return };
        let Some(r) = c.remote.remove(pid) else { return };
        c.forward.remove(pid);
        c.per_key.entry(r.kid.clone()).and_modify(|n| *n = n.saturating_sub(1));
        c.reaps.retain(|(_, p)| p != pid);
        let old_owner_alive = c.up && !c.dead.contains(&*r.inst);
        let me = c.link.instance.clone();
        let mut s = self.empty_session(r.name, r.kid);
        s.channels = r.ch;
        s.ver = r.ver;
        s.awaiting_from = old_owner_alive.then(|| r.inst.to_string());
        self.sessions.insert(pid.clone(), s);
        tracing::info!(peer = %pid, from = %r.inst, "session resumed from another instance");
        let asked = old_owner_alive
            && self.send_bus(vec![(r.inst.to_string(), BusMsg::Takeover { pid: pid.to_string(), by: me })], None);
        if !asked {
            if let Some(s) = self.sessions.get_mut(pid) {
                s.awaiting_from = None;
            }
            self.finish_connect(conn, pid, true);
            return;
        }
        let deadline = self.now + HANDOVER_WAIT;
        if let Some(s) = self.sessions.get_mut(pid) {
            s.handover = Some(Handover { conn, deadline, awaiting: Vec::new(), early_frames: Vec::new() });
        }
        self.timers.insert((deadline, pid.clone()));
    }

    /// The old owner's hand-over arrived: its frames go before anything queued here, then
    /// the waiting socket is welcomed (or, without one, they wait for the next resume).
    pub(super) fn handed_over(&mut self, pid: &Arc<str>, src: &str, frames: Vec<String>) {
        let Some(s) = self.sessions.get_mut(pid).filter(|s| s.awaiting_from.as_deref() == Some(src)) else {
            tracing::debug!(peer = %pid, from = src, "hand-over for a session not awaiting it; ignored");
            return;
        };
        s.awaiting_from = None;
        let mut queue: VecDeque<Outbound> =
            frames.into_iter().map(|t| Outbound { text: Utf8Bytes::from(t), replay: true }).collect();
        queue.extend(s.pending.drain(..));
        s.pending = queue;
        match (s.handover.as_ref().map(|h| h.conn), s.conn) {
            (Some(waiting), _) if s.handed_back() => self.finish_connect(waiting, pid, true),
            (None, Some(live)) => {
                // Welcomed already (the wait ran out): late, but not lost.
                tracing::warn!(peer = %pid, "hand-over arrived after the welcome");
                let pending: Vec<Outbound> = s.pending.drain(..).collect();
                pending.into_iter().for_each(|o| self.push_out(live, o));
            }
            _ => {}
        }
    }

    /// Another instance took over `pid`: close our socket, and hand everything over once
    /// that socket has given back what it did not write.
    pub(super) fn give_away(&mut self, pid: &Arc<str>, by: &str) {
        let Some(s) = self.sessions.get_mut(pid) else {
            // Nothing here (it ended, or never was): the new owner need not wait.
            let msg = BusMsg::Handover { pid: pid.to_string(), frames: Vec::new() };
            self.send_bus(vec![(by.to_string(), msg)], None);
            return;
        };
        let serving = s.conn.take();
        let waiting = s.handover.take().map(|h| h.conn);
        s.moving_to = Some((by.to_string(), serving));
        for conn in [serving, waiting].into_iter().flatten() {
            if let Some(c) = self.conns.remove(&conn) {
                c.control.close(close::NORMAL, "resumed on another server");
            }
        }
        if serving.is_none() {
            self.release(pid, by, true);
        }
    }

    /// Called when a socket's unsent frames came back; true if that completed a move.
    pub(super) fn move_completed_by(&mut self, pid: &Arc<str>, conn: ConnId) -> bool {
        let Some((to, Some(awaited))) = self.sessions.get(pid).and_then(|s| s.moving_to.clone()) else {
            return false;
        };
        if awaited != conn {
            return false;
        }
        self.release(pid, &to, true);
        true
    }

    /// Lets the session go to instance `to` (with its queue when `hand_over`): it stays in
    /// its rooms as a remote peer, and frames that still reach us are passed on.
    pub(super) fn release(&mut self, pid: &Arc<str>, to: &str, hand_over: bool) {
        let Some(s) = self.remove_session(pid) else { return };
        for conn in [s.conn, s.handover.as_ref().map(|h| h.conn)].into_iter().flatten() {
            if let Some(c) = self.conns.remove(&conn) {
                c.control.close(close::NORMAL, "resumed on another server");
            }
        }
        if let Some(u) = self.key_use.get_mut(&s.kid) {
            u.sessions = u.sessions.saturating_sub(1);
        }
        if hand_over {
            let frames = s.pending.iter().map(|o| o.text.to_string()).collect();
            self.send_bus(vec![(to.to_string(), BusMsg::Handover { pid: pid.to_string(), frames })], None);
        }
        let until = self.now + super::cluster::FORWARD_FOR;
        let Some(c) = self.cluster.as_mut() else { return };
        c.dirty.remove(pid);
        c.per_key.entry(s.kid.clone()).and_modify(|n| *n += 1).or_insert(1);
        c.forward.insert(pid.clone(), (to.to_string(), until));
        let remote = Remote { inst: c.intern(to), ver: s.ver, kid: s.kid, name: s.name, ch: s.channels };
        c.remote.insert(pid.clone(), remote);
        tracing::info!(peer = %pid, to, "session handed over to another instance");
    }
}

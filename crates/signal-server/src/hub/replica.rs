//! The replica of the other instances' peers: records applied in version order (a late
//! or replayed one never undoes a newer one), peers forgotten when they end or when the
//! snapshot after a resync no longer lists them, and the instances that stopped. Every
//! change shows in the presence of this instance's members.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use peerchat_protocol::PresenceEntry;

use super::cluster::{record, Remote};
use super::state::State;
use crate::cluster::wire::PeerRecord;
use crate::cluster::Effect;

impl State {
    /// Applies another instance's record to the replica and tells our members what
    /// changed in their rooms.
    pub(super) fn apply_record(&mut self, rec: PeerRecord) {
        let Some(c) = self.cluster.as_ref() else { return };
        if rec.inst == c.link.instance {
            return;
        }
        let pid: Arc<str> = rec.pid.as_str().into();
        if let Some(s) = self.sessions.get(&pid) {
            // Records from the instance handing this session over are older news.
            let handing_over = s.awaiting_from.as_deref() == Some(rec.inst.as_str());
            if rec.ver <= s.ver || handing_over {
                return;
            }
            // Another instance resumed this session without our hand-over (we were cut
            // off): it is theirs now.
            tracing::warn!(peer = %pid, to = %rec.inst, "session taken over elsewhere");
            self.release(&pid, &rec.inst, false);
        }
        let Some(c) = self.cluster.as_mut() else { return };
        c.unconfirmed.retain(|(_, p)| *p != pid);
        let old = c.remote.get(&pid);
        if old.is_some_and(|o| o.ver > rec.ver) {
            return;
        }
        let (old_ch, old_name) = old.map(|o| (o.ch.clone(), o.name.clone())).unwrap_or_default();
        let moved_from_dead = old.map(|o| o.inst.clone()).filter(|i| **i != *rec.inst && c.dead.contains(&**i));
        let had = old.is_some();
        let kid = c.intern(&rec.kid);
        if !had {
            c.count(&kid, true);
        }
        let dead = c.dead.contains(&rec.inst);
        let new_ch: BTreeSet<String> = rec.ch.iter().cloned().collect();
        let r = Remote { inst: c.intern(&rec.inst), ver: rec.ver, kid, name: rec.name, ch: new_ch };
        let (name, joined_in, left_in): (String, Vec<String>, Vec<String>) = (
            r.name.clone(),
            r.ch.iter().filter(|ch| !old_ch.contains(*ch) || old_name != r.name).cloned().collect(),
            old_ch.iter().filter(|ch| !r.ch.contains(*ch)).cloned().collect(),
        );
        c.remote.insert(pid.clone(), r);
        if let Some(gone) = moved_from_dead.filter(|i| !c.remote.values().any(|o| o.inst == *i)) {
            c.link.effect(Effect::ForgetInstance(gone.to_string()));
        }
        if dead {
            let at = self.now + self.cfg.grace_period;
            if let Some(c) = self.cluster.as_mut() {
                c.reaps.insert((at, pid.clone()));
            }
        }
        for ch in joined_in {
            self.channels.entry(ch.clone()).or_default().insert(pid.clone());
            let who = vec![PresenceEntry { peer_id: pid.to_string(), name: name.clone() }];
            self.announce(&ch, &pid, who, vec![]);
        }
        for ch in left_in {
            self.drop_member(&ch, &pid);
        }
    }

    /// Forgets a remote peer; our members of its rooms see it leave.
    pub(super) fn remove_remote(&mut self, pid: &Arc<str>) {
        let Some(c) = self.cluster.as_mut() else { return };
        let Some(r) = c.remote.remove(pid) else { return };
        c.count(&r.kid, false);
        // A dead instance is forgotten once none of its peers is left.
        if c.dead.contains(&*r.inst) && !c.remote.values().any(|o| o.inst == r.inst) {
            c.link.effect(Effect::ForgetInstance(r.inst.to_string()));
        }
        for ch in r.ch {
            self.drop_member(&ch, pid);
        }
    }

    fn drop_member(&mut self, ch: &str, pid: &Arc<str>) {
        if let Some(m) = self.channels.get_mut(ch) {
            m.remove(pid);
            if m.is_empty() {
                self.channels.remove(ch);
                return;
            }
        }
        self.announce(ch, pid, vec![], vec![pid.to_string()]);
    }

    /// After (re)connecting to Redis: the snapshot replaces the replica (peers missing
    /// from it leave unless announced again soon: after a Redis restart the others are
    /// still re-sending theirs), and every session of ours is stored again.
    pub(super) fn resync(&mut self, records: Vec<PeerRecord>, dead: Vec<String>) {
        let Some(c) = self.cluster.as_mut() else { return };
        c.up = true;
        let me = c.link.instance.clone();
        // Long enough for every other instance to reconnect (its retry waits at most
        // RETRY_MAX) and store its peers again.
        let settle = self.now + crate::cluster::RETRY_MAX + c.link.cfg.instance_ttl + c.link.cfg.heartbeat;
        let listed: HashSet<&str> = records.iter().map(|r| r.pid.as_str()).collect();
        let missing: Vec<Arc<str>> = c.remote.keys().filter(|p| !listed.contains(&***p)).cloned().collect();
        for p in missing {
            c.unconfirmed.insert((settle, p));
        }
        let mut stale = Vec::new();
        let mut others = Vec::new();
        for rec in records {
            if rec.inst != me {
                others.push(rec);
            } else if !self.sessions.contains_key(rec.pid.as_str()) {
                stale.push((rec.pid, rec.ver + 1));
            }
        }
        for rec in others {
            self.apply_record(rec);
        }
        let Some(c) = self.cluster.as_mut() else { return };
        for (pid, ver) in stale {
            c.link.effect(Effect::Gone { pid, ver });
        }
        for (pid, s) in &self.sessions {
            c.link.effect(Effect::Put(record(pid, s, &me)));
        }
        c.prune_interned();
        self.on_dead(dead);
    }

    pub(super) fn on_dead(&mut self, dead: Vec<String>) {
        let at = self.now + self.cfg.grace_period;
        let Some(c) = self.cluster.as_mut() else { return };
        let newly: Vec<String> = dead.iter().filter(|d| !c.dead.contains(*d)).cloned().collect();
        c.dead = dead.into_iter().collect();
        // The set changes when an instance stops or is forgotten: a moment to let go of
        // ids no peer refers to any more.
        c.prune_interned();
        for inst in &newly {
            let peers: Vec<Arc<str>> =
                c.remote.iter().filter(|(_, r)| *r.inst == **inst).map(|(p, _)| p.clone()).collect();
            tracing::warn!(instance = %inst, peers = peers.len(), "cluster: an instance stopped; its peers leave after the grace period unless they resume");
            if peers.is_empty() {
                c.link.effect(Effect::ForgetInstance(inst.clone()));
            }
            for p in peers {
                c.reaps.insert((at, p));
            }
        }
        // Sessions waiting for a hand-over from an instance that stopped get their
        // welcome now.
        let waiting: Vec<Arc<str>> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.awaiting_from.as_ref().is_some_and(|f| newly.contains(f)))
            .map(|(p, _)| p.clone())
            .collect();
        for p in waiting {
            let Some(s) = self.sessions.get_mut(&p) else { continue };
            s.awaiting_from = None;
            if let Some(conn) = s.handover.as_ref().map(|h| h.conn).filter(|_| s.handed_back()) {
                self.finish_connect(conn, &p, true);
            }
        }
    }
}

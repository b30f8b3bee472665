//! Getting frames to sessions: channel membership and presence, snapshots, delivery to
//! a live socket's bounded queue or to a session's resume queue, acks and errors.

use std::collections::BTreeSet;
use std::sync::Arc;

use peerchat_protocol::{ErrorCode, PresenceEntry, RequestId, ServerFrame};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::state::{State, SLOW_CONSUMER};
use super::{ConnId, Outbound};
use crate::outbox::SendError;

impl State {
    /// Adds `peer` to `channel` and tells the other members (`joined`).
    pub(super) fn join_channel(&mut self, peer: &Arc<str>, channel: &str) {
        let Some(s) = self.sessions.get_mut(peer) else {
            return;
        };
        s.channels.insert(channel.to_string());
        let name = s.name.clone();
        self.touch(peer);
        self.channels.entry(channel.to_string()).or_default().insert(peer.clone());
        self.announce(channel, peer, vec![PresenceEntry { peer_id: peer.to_string(), name }], vec![]);
    }

    /// Removes `peer` from `channel` and tells the other members (`left`).
    pub(super) fn leave_channel(&mut self, peer: &Arc<str>, channel: &str) {
        if let Some(s) = self.sessions.get_mut(peer) {
            s.channels.remove(channel);
        }
        self.touch(peer);
        let Some(members) = self.channels.get_mut(channel) else {
            return;
        };
        members.remove(peer);
        if members.is_empty() {
            self.channels.remove(channel);
            return;
        }
        self.announce(channel, peer, vec![], vec![peer.to_string()]);
    }

    /// Sends a presence delta to the live members of `channel` other than `about`.
    /// Members in their grace period get a fresh snapshot when they resume instead.
    pub(super) fn announce(&mut self, channel: &str, about: &str, joined: Vec<PresenceEntry>, left: Vec<String>) {
        let frame = ServerFrame::Presence { channel: channel.to_string(), joined, left, resume_token: None };
        let text = Utf8Bytes::from(frame.to_json());
        for conn in self.live_members(channel, about) {
            self.push_out(conn, Outbound { text: text.clone(), replay: false });
        }
    }

    fn live_members(&self, channel: &str, except: &str) -> Vec<ConnId> {
        self.channels
            .get(channel)
            .into_iter()
            .flatten()
            .filter(|p| &***p != except)
            .filter_map(|p| self.sessions.get(p).and_then(|s| s.conn))
            .collect()
    }

    /// The full member list of `channel` minus `me`.
    pub(super) fn snapshot(&self, channel: &str, me: &str, resume_token: Option<String>) -> ServerFrame {
        let joined = self
            .channels
            .get(channel)
            .into_iter()
            .flatten()
            .filter(|p| &***p != me)
            .filter_map(|p| {
                let name = match self.sessions.get(p) {
                    Some(s) => s.name.clone(),
                    None => self.cluster.as_ref()?.remote.get(p)?.name.clone(),
                };
                Some(PresenceEntry { peer_id: p.to_string(), name })
            })
            .collect();
        ServerFrame::Presence { channel: channel.to_string(), joined, left: vec![], resume_token }
    }

    /// Delivers app data to every member of `channel` here but `except`. Returns the
    /// members whose resume queue was full, and the other instances with members there.
    pub(super) fn broadcast_app(
        &mut self,
        channel: &str,
        except: &str,
        frame: &ServerFrame,
    ) -> (Vec<Arc<str>>, BTreeSet<String>) {
        let text = Utf8Bytes::from(frame.to_json());
        let members: Vec<Arc<str>> =
            self.channels.get(channel).into_iter().flatten().filter(|p| &***p != except).cloned().collect();
        let mut instances = BTreeSet::new();
        let mut missed = Vec::new();
        for m in members {
            match self.remote_inst(&m) {
                Some(inst) => {
                    instances.insert(inst);
                }
                None if !self.deliver(&m, text.clone()) => missed.push(m),
                None => {}
            }
        }
        (missed, instances)
    }

    /// Delivers app data to a live socket, or queues it for a session that is away.
    /// False when the peer's resume queue is full (the sender gets `peer_unavailable`).
    pub(super) fn deliver(&mut self, peer: &Arc<str>, text: Utf8Bytes) -> bool {
        let Some(s) = self.sessions.get_mut(peer) else {
            return false;
        };
        let out = Outbound { text, replay: true };
        match s.conn {
            Some(conn) => {
                self.push_out(conn, out);
                true
            }
            None if s.pending.len() < self.cfg.resume_queue => {
                s.pending.push_back(out);
                true
            }
            None => false,
        }
    }

    /// Sends a connection-specific frame (welcome, snapshot, ack, error).
    pub(super) fn push(&mut self, conn: ConnId, frame: &ServerFrame) {
        self.push_out(conn, Outbound { text: Utf8Bytes::from(frame.to_json()), replay: false });
    }

    /// Hands a frame to a socket's bounded queue. A socket that cannot keep up is closed
    /// with 1013 and its session ends (the client starts over); the hub never waits.
    pub(super) fn push_out(&mut self, conn: ConnId, out: Outbound) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        match c.out.try_send(out) {
            Ok(()) => {}
            Err(SendError::Full(_)) => {
                tracing::warn!(conn, peer = %c.peer, "outbound queue full; closing the slow consumer");
                self.kill(conn, SLOW_CONSUMER, "slow consumer", true);
            }
            Err(SendError::Closed(out)) => {
                // The socket task has ended; its Disconnected report is on the way. App
                // frames wait for a resume, within the same bound as a live queue.
                let peer = c.peer.clone();
                let cap = self.cfg.outbound_queue;
                match self.sessions.get_mut(&peer) {
                    Some(s) if out.replay && s.pending.len() < cap => s.pending.push_back(out),
                    Some(_) if out.replay => {
                        tracing::warn!(conn, peer = %peer, "backlog of a closed socket is full; ending its session");
                        self.end_session(&peer);
                    }
                    _ => {}
                }
            }
        }
    }

    pub(super) fn error(
        &mut self,
        conn: ConnId,
        code: ErrorCode,
        message: impl Into<String>,
        request_id: Option<RequestId>,
    ) {
        let frame = ServerFrame::Error { code, message: message.into(), request_id };
        self.push(conn, &frame);
    }

    pub(super) fn ack(&mut self, conn: ConnId, request_id: Option<RequestId>, resume_token: Option<String>) {
        if let Some(request_id) = request_id {
            self.push(conn, &ServerFrame::Ack { request_id, resume_token });
        }
    }
}

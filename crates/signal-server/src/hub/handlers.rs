//! What the hub does with each client frame: subscribe, unsubscribe, publish, send and
//! signal. Every failure is answered with a typed `error` frame; nothing is dropped
//! without the sender being told.

use std::sync::Arc;

use peerchat_protocol::{ClientFrame, ErrorCode, RawValue, RequestId, ServerFrame};
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::state::{State, MAX_EARLY_FRAMES};
use super::ConnId;
use crate::cluster::wire::BusMsg;
use crate::cluster::{AckTo, QuotaKind};

impl State {
    pub(super) fn on_frame(&mut self, conn: ConnId, frame: ClientFrame) {
        let Some(c) = self.conns.get(&conn) else { return };
        let peer = c.peer.clone();
        // A socket that took over a session waits for its welcome; so do its frames.
        let waiting = self.sessions.get_mut(&peer).and_then(|s| s.handover.as_mut()).filter(|h| h.conn == conn);
        if let Some(h) = waiting {
            if h.early_frames.len() < MAX_EARLY_FRAMES {
                h.early_frames.push(frame);
            } else {
                let req = frame.request_id().cloned();
                self.error(conn, ErrorCode::InvalidArgs, "wait for the welcome before sending more", req);
            }
            return;
        }
        match frame {
            ClientFrame::Subscribe { channel, name, request_id } => {
                self.subscribe(conn, &peer, channel, name, request_id)
            }
            ClientFrame::Unsubscribe { channel, request_id } => {
                let member = self.sessions.get(&peer).is_some_and(|s| s.channels.contains(&channel));
                if !member {
                    return self.error(conn, ErrorCode::NotSubscribed, "not subscribed to this channel", request_id);
                }
                if !self.take_room_changes(&peer, 1) {
                    return self.slow_down(conn, request_id);
                }
                self.leave_channel(&peer, &channel);
                let token = request_id.is_some().then(|| self.token_for(&peer));
                self.ack(conn, request_id, token);
            }
            ClientFrame::Publish { channel, data, request_id } => self.publish(conn, &peer, channel, data, request_id),
            ClientFrame::Send { to, data, request_id } => self.direct(conn, &peer, to, data, request_id, true),
            ClientFrame::Signal { to, data, request_id } => self.direct(conn, &peer, to, data, request_id, false),
            // Answered by the connection task itself; never reaches the hub.
            ClientFrame::Ping { .. } => {}
            _ => {}
        }
    }

    fn subscribe(&mut self, conn: ConnId, peer: &Arc<str>, channel: String, name: String, req: Option<RequestId>) {
        let cfg = self.cfg.clone();
        if channel.is_empty() || channel.len() > cfg.max_channel_bytes || channel.chars().any(char::is_control) {
            let msg = format!("channel must be 1 to {} bytes without control characters", cfg.max_channel_bytes);
            return self.error(conn, ErrorCode::InvalidArgs, msg, req);
        }
        if name.trim().is_empty() || name.len() > cfg.max_name_bytes || name.chars().any(char::is_control) {
            let msg = format!("name must be 1 to {} bytes without control characters", cfg.max_name_bytes);
            return self.error(conn, ErrorCode::InvalidArgs, msg, req);
        }
        let Some(s) = self.sessions.get(peer) else {
            return;
        };
        let allowed = self.keys.by_id(&s.kid).is_some_and(|k| k.allows_channel(&channel));
        if !allowed {
            return self.error(conn, ErrorCode::ChannelNotAuthorized, "this key may not use this channel", req);
        }
        let already = s.channels.contains(&channel);
        if !already && s.channels.len() >= cfg.max_channels_per_peer {
            let msg = format!("at most {} channels per connection", cfg.max_channels_per_peer);
            return self.error(conn, ErrorCode::InvalidArgs, msg, req);
        }
        let members = self.channels.get(&channel).map_or(0, |m| m.len());
        if !already && members >= cfg.max_peers_per_channel {
            let msg = format!("channel holds its maximum of {} peers", cfg.max_peers_per_channel);
            return self.error(conn, ErrorCode::ChannelFull, msg, req);
        }
        let renamed = s.name != name;
        // Each channel the peer is (re-)announced in costs one; a repeated subscribe
        // that changes nothing costs one too (it re-sends the snapshot).
        let others = if renamed { s.channels.iter().filter(|c| **c != channel).count() } else { 0 };
        if !self.take_room_changes(peer, 1 + others as u32) {
            return self.slow_down(conn, req);
        }
        if let Some(s) = self.sessions.get_mut(peer) {
            s.name = name;
        }
        // A rename refreshes the peer in all its channels (`joined` for a known peer is a
        // refresh); a new channel announces it there. Re-subscribing unchanged only
        // re-sends the snapshot.
        if renamed {
            let others: Vec<String> = self.sessions[peer].channels.iter().filter(|c| **c != channel).cloned().collect();
            for ch in others {
                self.join_channel(peer, &ch);
            }
        }
        if !already || renamed {
            self.join_channel(peer, &channel);
        }
        let token = self.token_for(peer);
        let snapshot = self.snapshot(&channel, peer, Some(token.clone()));
        self.push(conn, &snapshot);
        self.ack(conn, req, Some(token));
    }

    fn publish(&mut self, conn: ConnId, peer: &Arc<str>, channel: String, data: Box<RawValue>, req: Option<RequestId>) {
        let member = self.sessions.get(peer).is_some_and(|s| s.channels.contains(&channel));
        if !member {
            return self.error(conn, ErrorCode::NotSubscribed, "publish to a channel you have not subscribed to", req);
        }
        if !self.take_quota(peer, QuotaKind::Messages) {
            return self.error(conn, ErrorCode::OverMessageQuota, "the key's message quota is used up", req);
        }
        let frame = ServerFrame::Message { from: peer.to_string(), channel: Some(channel.clone()), data };
        let (missed, instances) = self.broadcast_app(&channel, peer, &frame);
        for m in missed {
            let msg = format!("peer {m} is reconnecting and its queue is full; not delivered to it");
            self.error(conn, ErrorCode::PeerUnavailable, msg, req.clone());
        }
        if instances.is_empty() {
            return self.ack(conn, req, None);
        }
        // Members on other instances: acked once Redis has handed it to each of them.
        let text = frame.to_json();
        let to = instances
            .into_iter()
            .map(|i| (i, BusMsg::Room { channel: channel.clone(), except: peer.to_string(), text: text.clone() }))
            .collect();
        if !self.send_bus(to, Some(AckTo { conn, request_id: req.clone() })) {
            let msg = "members on other servers cannot be reached right now; delivered only to the others";
            self.error(conn, ErrorCode::PeerUnavailable, msg, req);
        }
    }

    fn direct(
        &mut self,
        conn: ConnId,
        peer: &Arc<str>,
        to: String,
        data: Box<RawValue>,
        req: Option<RequestId>,
        counted: bool,
    ) {
        if *to == **peer {
            return self.error(conn, ErrorCode::SelfSend, "cannot send to yourself", req);
        }
        let to: Arc<str> = to.into();
        let theirs = match self.sessions.get(&to) {
            Some(b) => Some(&b.channels),
            None => self.cluster.as_ref().and_then(|c| c.remote.get(&to)).map(|r| &r.ch),
        };
        let reachable = match (self.sessions.get(peer), theirs) {
            (Some(a), Some(b)) => a.channels.iter().any(|c| b.contains(c)),
            _ => false,
        };
        if !reachable {
            return self.error(conn, ErrorCode::UnknownPeer, "no such peer in your channels", req);
        }
        if counted && !self.take_quota(peer, QuotaKind::Messages) {
            return self.error(conn, ErrorCode::OverMessageQuota, "the key's message quota is used up", req);
        }
        if !counted && !self.take_quota(peer, QuotaKind::Signals) {
            return self.error(conn, ErrorCode::OverSignalQuota, "the key's signal quota is used up", req);
        }
        let frame = if counted {
            ServerFrame::Message { from: peer.to_string(), channel: None, data }
        } else {
            ServerFrame::Signal { from: peer.to_string(), data }
        };
        if let Some(inst) = self.remote_inst(&to) {
            let msg = BusMsg::Deliver { to: to.to_string(), text: frame.to_json() };
            if !self.send_bus(vec![(inst, msg)], Some(AckTo { conn, request_id: req.clone() })) {
                let msg = "the peer is on another server, which cannot be reached right now";
                self.error(conn, ErrorCode::PeerUnavailable, msg, req);
            }
            return;
        }
        if self.deliver(&to, Utf8Bytes::from(frame.to_json())) {
            self.ack(conn, req, None);
        } else {
            self.error(conn, ErrorCode::PeerUnavailable, "peer is reconnecting and its queue is full", req);
        }
    }

    fn take_room_changes(&mut self, peer: &Arc<str>, n: u32) -> bool {
        let now = self.now;
        self.sessions.get_mut(peer).is_some_and(|s| s.room_changes.take_n(n, now))
    }

    fn slow_down(&mut self, conn: ConnId, req: Option<RequestId>) {
        let (per_min, burst) = (self.cfg.room_changes_per_min, self.cfg.room_changes_burst);
        let msg = format!(
            "too many joins, renames and leaves: {per_min} a minute, {burst} at once (a rename counts once per channel)"
        );
        self.error(conn, ErrorCode::SlowDown, msg, req)
    }

    /// Counts one frame against the peer's key quota of `kind`; false when used up.
    fn take_quota(&mut self, peer: &Arc<str>, kind: QuotaKind) -> bool {
        let Some(kid) = self.sessions.get(peer).map(|s| s.kid.clone()) else {
            return false;
        };
        let (now, unix) = (self.now, self.unix);
        self.quota_used();
        self.key_use.get_mut(&kid).is_some_and(|u| u.quota_of(kind).take(now, unix))
    }
}

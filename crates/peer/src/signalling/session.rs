//! One connected signalling session: the welcome, the re-join, then frames in and out
//! under the pacer until the socket ends, and how it ended.

use std::time::Duration;

use peerchat_protocol::{ClientFrame, RequestId, ServerFrame};
use tokio::time::{sleep_until, Instant};

use super::pacer::Pacer;
use super::socket::{Read, Socket};
use super::{End, Reply, SigEvent, Step, Task, MAX_OUTBOX, WELCOME_WAIT};
use crate::error::PeerError;
use crate::events::SignallingState;

impl Task {
    pub(super) async fn send(&mut self, sock: &mut Socket, mut frame: ClientFrame, reply: Option<Reply<()>>) -> bool {
        if let Some(r) = reply {
            let id = self.take_req();
            set_request_id(&mut frame, RequestId::Num(id));
            self.pending.insert(id, (r, Instant::now() + self.opts.request_timeout));
        }
        sock.send(&frame).await.is_ok()
    }

    pub(super) async fn subscribe(&mut self, sock: &mut Socket) -> bool {
        let Some((channel, name)) = self.room.clone() else { return true };
        let id = self.take_req();
        if let Some((_, r)) = self.join_reply.take() {
            self.join_reply = Some((id, r));
        }
        let frame = ClientFrame::Subscribe { channel, name, request_id: Some(RequestId::Num(id)) };
        sock.send(&frame).await.is_ok()
    }

    /// Runs one connected session: welcome, re-join, then frames until it ends.
    pub(super) async fn session(&mut self, mut sock: Socket, attempt: &mut u32) -> End {
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
        let before = self.me.send_replace(Some(welcome.peer_id.clone()));
        let new_identity = before.is_some_and(|b| b != welcome.peer_id);
        self.expect_snapshot = welcome.resumed;
        let ice = welcome.ice_servers.clone();
        let (peer_id, resumed) = (welcome.peer_id.clone(), welcome.resumed);
        self.emit(SigEvent::Welcome { peer_id, resumed, new_identity, ice_servers: ice }).await;
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
                cmd = self.rx.recv(), if self.queued.len() < MAX_OUTBOX => {
                    let Some(cmd) = cmd else {
                        sock.close().await;
                        return End::Closed;
                    };
                    match self.on_command(cmd, MAX_OUTBOX) {
                        Step::Nothing => {}
                        Step::Subscribe => {
                            pacer.take(Instant::now());
                            if !self.subscribe(&mut sock).await { return End::Lost }
                        }
                        Step::Leave(reply) => {
                            pacer.take(Instant::now());
                            self.unsubscribe(&mut sock).await;
                            let _ = reply.send(Ok(()));
                        }
                        Step::Close(reply) => {
                            pacer.take(Instant::now());
                            self.unsubscribe(&mut sock).await;
                            sock.close().await;
                            let _ = reply.send(());
                            return End::Closed;
                        }
                    }
                }
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

    pub(super) async fn unsubscribe(&mut self, sock: &mut Socket) {
        if let Some((channel, _)) = self.room.take() {
            // The protocol asks for a requestId on every (un)subscribe; the ack that
            // answers it is not waited for (the socket closes next).
            let request_id = Some(RequestId::Num(self.take_req()));
            let _ = sock.send(&ClientFrame::Unsubscribe { channel, request_id }).await;
        }
    }

    pub(super) async fn on_frame(&mut self, frame: ServerFrame) -> Option<End> {
        match frame {
            ServerFrame::Ack { request_id, resume_token } => {
                if let Some(t) = resume_token {
                    self.token = Some(t);
                }
                let RequestId::Num(id) = request_id else { return None };
                if let Some((_, r)) = self.join_reply.take_if(|(j, _)| *j == id) {
                    let _ = r.send(Ok(self.me.borrow().clone().unwrap_or_default()));
                } else if let Some((r, _)) = self.pending.remove(&id) {
                    let _ = r.send(Ok(()));
                }
            }
            ServerFrame::Error { code, message, request_id } => {
                let err = PeerError::from_server(code, message.clone());
                match request_id {
                    Some(RequestId::Num(id)) => {
                        if let Some((_, r)) = self.join_reply.take_if(|(j, _)| *j == id) {
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
            ServerFrame::ResumeToken { resume_token } => self.token = Some(resume_token),
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

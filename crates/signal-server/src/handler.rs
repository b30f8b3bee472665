//! One task per connection: the upgrade, registration with the hub, then a loop that
//! reads frames, writes what the hub queued, keeps the socket alive, and enforces the
//! per-connection limits (rate, malformed frames, size).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use peerchat_protocol::{close, ClientFrame, ErrorCode, ServerFrame};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::connection::{ws_config, Connection, Inbound};
use crate::hub::{ConnControl, ConnectRequest, HubHandle};
use crate::rate::TokenBucket;
use crate::upgrade::{Admitted, Gate};

/// Most queued frames written before one flush.
const WRITE_BATCH: usize = 64;

/// How a connection ended, from the session's point of view.
enum End {
    /// Keep the session for the grace period.
    Grace,
    /// End the session at once (policy closes).
    Session,
}

/// Serves one accepted TCP connection until it closes or the server shuts down.
pub async fn serve(stream: TcpStream, addr: SocketAddr, cfg: Arc<Config>, hub: HubHandle, shutdown: CancellationToken) {
    let _ = stream.set_nodelay(true);
    let mut admitted: Option<Admitted> = None;
    let gate = Gate { keys: hub.keys(), admitted: &mut admitted };
    let handshake = tokio_tungstenite::accept_hdr_async_with_config(stream, gate, Some(ws_config(cfg.max_frame_bytes)));
    let ws = match tokio::time::timeout(cfg.handshake_timeout, handshake).await {
        Ok(Ok(ws)) => ws,
        Ok(Err(e)) => {
            tracing::debug!(%addr, error = %e, "upgrade refused or failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%addr, "upgrade timed out");
            return;
        }
    };
    let Some(admitted) = admitted else { return };
    let mut conn = Connection::new(ws);
    let (out_tx, mut out_rx) = mpsc::channel::<Utf8Bytes>(cfg.outbound_queue);
    let control = Arc::new(ConnControl::default());
    let req = ConnectRequest {
        key: admitted.key.clone(),
        resume: admitted.resume,
        out: out_tx,
        control: control.clone(),
    };
    let registered = match hub.connect(req).await {
        Ok(r) => r,
        Err(code) => {
            tracing::info!(%addr, key = %admitted.key.id, code, "connection refused after upgrade");
            conn.close(code, refusal_reason(code)).await;
            conn.finish(Duration::from_secs(1)).await;
            return;
        }
    };
    let span = tracing::info_span!("conn", id = registered.conn, peer = %registered.peer_id);
    let end = {
        let mut task = Task {
            cfg: &cfg,
            hub: &hub,
            conn: &mut conn,
            id: registered.conn,
            bucket: TokenBucket::new(cfg.rate_per_sec, cfg.rate_burst, Instant::now()),
            invalid_in_a_row: 0,
            last_seen: Instant::now(),
        };
        tracing::Instrument::instrument(task.run(&mut out_rx, &control, &shutdown), span.clone()).await
    };
    out_rx.close();
    let mut unsent = Vec::new();
    while let Ok(t) = out_rx.try_recv() {
        unsent.push(t);
    }
    let ends_session = matches!(end, End::Session);
    hub.disconnected(registered.conn, registered.peer_id.clone(), ends_session, unsent).await;
    tracing::info!(parent: &span, ends_session, "disconnected");
}

fn refusal_reason(code: u16) -> &'static str {
    match code {
        close::OVER_CONNECTION_LIMIT => "over the key's connection limit",
        close::INVALID_KEY => "key revoked",
        _ => "server shutting down",
    }
}

struct Task<'a> {
    cfg: &'a Config,
    hub: &'a HubHandle,
    conn: &'a mut Connection,
    id: u64,
    bucket: TokenBucket,
    invalid_in_a_row: u32,
    last_seen: Instant,
}

impl Task<'_> {
    async fn run(&mut self, out: &mut mpsc::Receiver<Utf8Bytes>, control: &ConnControl, shutdown: &CancellationToken) -> End {
        let mut ping = tokio::time::interval_at(Instant::now() + self.cfg.ping_interval, self.cfg.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    let _ = self.conn.feed_frame(&ServerFrame::GoingAway { retry_after_ms: self.cfg.going_away_retry_ms }).await;
                    self.conn.close(close::GOING_AWAY, "server shutting down").await;
                    self.conn.finish(Duration::from_secs(2)).await;
                    return End::Grace;
                }
                _ = control.requested() => {
                    // The hub has already detached this connection; write what it queued
                    // before the close unless the queue overflowed.
                    let (code, reason) = control.requested_close().unwrap_or((close::NORMAL, ""));
                    if code != crate::hub::SLOW_CONSUMER {
                        while let Ok(t) = out.try_recv() {
                            if self.conn.feed(t).await.is_err() { break; }
                        }
                    }
                    self.conn.close(code, reason).await;
                    self.conn.finish(Duration::from_secs(1)).await;
                    return if close::ends_session(code) { End::Session } else { End::Grace };
                }
                text = out.recv() => {
                    let Some(text) = text else { return End::Grace };
                    if self.write_batch(text, out).await.is_err() {
                        return End::Grace;
                    }
                }
                inbound = self.conn.read() => {
                    if let Some(end) = self.on_inbound(inbound).await {
                        return end;
                    }
                }
                _ = ping.tick() => {
                    if self.last_seen.elapsed() >= self.cfg.idle_timeout {
                        tracing::info!("idle timeout; dropping the socket");
                        return End::Grace;
                    }
                    if self.conn.ping().await.is_err() {
                        return End::Grace;
                    }
                }
            }
        }
    }

    async fn write_batch(&mut self, first: Utf8Bytes, out: &mut mpsc::Receiver<Utf8Bytes>) -> Result<(), ()> {
        let deadline = self.cfg.idle_timeout;
        let write = async {
            self.conn.feed(first).await?;
            for _ in 1..WRITE_BATCH {
                match out.try_recv() {
                    Ok(t) => self.conn.feed(t).await?,
                    Err(_) => break,
                }
            }
            self.conn.flush().await
        };
        match tokio::time::timeout(deadline, write).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(()),
        }
    }

    async fn reply(&mut self, frame: ServerFrame) -> Option<End> {
        let ok = self.conn.feed_frame(&frame).await.is_ok() && self.conn.flush().await.is_ok();
        (!ok).then_some(End::Grace)
    }

    /// Handles one inbound event; `Some` ends the connection.
    async fn on_inbound(&mut self, inbound: Inbound) -> Option<End> {
        self.last_seen = Instant::now();
        let counted = matches!(inbound, Inbound::Frame(_) | Inbound::Invalid(_) | Inbound::Binary);
        if counted && !self.bucket.take(Instant::now()) {
            tracing::info!("over the message rate; closing 4011");
            self.conn.close(close::OVER_RATE, "over the message rate").await;
            return Some(End::Session);
        }
        match inbound {
            Inbound::Frame(ClientFrame::Ping { t }) => {
                self.invalid_in_a_row = 0;
                self.reply(ServerFrame::Pong { t }).await
            }
            Inbound::Frame(frame) => {
                self.invalid_in_a_row = 0;
                self.hub.frame(self.id, frame).await;
                None
            }
            Inbound::Invalid(e) => {
                let msg = e.message.clone();
                self.invalid(ServerFrame::Error { code: e.code, message: msg, request_id: e.request_id }).await
            }
            Inbound::Binary => {
                let msg = "binary frames are not part of the protocol; send JSON text".to_string();
                self.invalid(ServerFrame::Error { code: ErrorCode::InvalidArgs, message: msg, request_id: None }).await
            }
            Inbound::Activity => None,
            Inbound::Closed => Some(End::Grace),
            Inbound::TooBig => {
                tracing::info!("message over the size limit; closing 1009");
                self.conn.close(close::TOO_BIG, "message too big").await;
                Some(End::Session)
            }
            Inbound::BadUtf8 => {
                tracing::info!("text frame is not UTF-8; closing 1007");
                self.conn.close(close::INVALID_PAYLOAD, "text frame is not valid UTF-8").await;
                Some(End::Session)
            }
            Inbound::Broken(e) => {
                tracing::debug!(error = %e, "socket error");
                Some(End::Grace)
            }
        }
    }

    async fn invalid(&mut self, error: ServerFrame) -> Option<End> {
        self.invalid_in_a_row += 1;
        if let Some(end) = self.reply(error).await {
            return Some(end);
        }
        if self.invalid_in_a_row >= self.cfg.max_invalid_in_a_row {
            tracing::info!("too many malformed frames in a row; closing 1008");
            self.conn.close(close::POLICY, "too many malformed frames").await;
            return Some(End::Session);
        }
        None
    }
}

//! One task per connection: the upgrade, registration with the hub, then a loop that
//! reads frames, writes what the hub queued, keeps the socket alive, and enforces the
//! per-connection limits (rate, malformed frames, size).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use peerchat_protocol::{close, ClientFrame, ErrorCode, ServerFrame};
use tokio::net::TcpStream;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::connection::{ws_config, Connection, Inbound};
use crate::hub::{ConnControl, ConnectRequest, HubHandle, Outbound};
use crate::per_ip::IpPermit;
use crate::rate::TokenBucket;
use crate::tls::ServerStream;
use crate::upgrade::{Admitted, Gate};

/// Most queued frames written before one flush.
const WRITE_BATCH: usize = 64;

/// How long the server waits for a client to acknowledge a close.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How a connection ended: what becomes of the session, and what to tell the client.
struct Exit {
    /// End the session at once (policy closes) instead of keeping it for the grace period.
    ends_session: bool,
    /// Send `going_away` before the close.
    going_away: bool,
    /// Close frame to send, if the server closes.
    close: Option<(u16, &'static str)>,
    /// The hub closed the socket (and already decided the session's fate).
    by_hub: bool,
}

impl Exit {
    /// The client went away or the socket broke: keep the session for its grace period.
    fn gone() -> Exit {
        Exit { ends_session: false, going_away: false, close: None, by_hub: false }
    }

    /// A policy close that ends the session.
    fn policy(code: u16, reason: &'static str) -> Exit {
        Exit { ends_session: true, going_away: false, close: Some((code, reason)), by_hub: false }
    }

    /// Over the frame rate: the socket closes, the session waits for a resume (a client
    /// that slows down comes back as itself; others see no leave).
    fn throttled() -> Exit {
        Exit {
            ends_session: false,
            going_away: false,
            close: Some((close::OVER_RATE, "over the message rate")),
            by_hub: false,
        }
    }
}

/// Serves one accepted TCP connection until it closes or the server shuts down. With
/// `tls`, the TLS handshake comes first; both handshakes share `handshake_timeout`.
pub async fn serve(
    stream: TcpStream,
    tls: Option<TlsAcceptor>,
    addr: SocketAddr,
    mut permit: IpPermit,
    cfg: Arc<Config>,
    hub: HubHandle,
    shutdown: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let mut admitted: Option<Admitted> = None;
    let gate = Gate {
        keys: hub.keys(),
        metrics: hub.metrics(),
        permit: &mut permit,
        admitted: &mut admitted,
        refuse_browsers: cfg.refuse_browser_origins,
        proving_at: if cfg.local_proof { stream.local_addr().ok().map(|a| a.to_string()) } else { None },
    };
    let handshake = async {
        let stream: ServerStream = match tls {
            None => Either::Left(stream),
            // Boxed, so the handshake's state is not part of every connection's task.
            Some(acceptor) => {
                Either::Right(Box::new(Box::pin(acceptor.accept(stream)).await.map_err(|e| format!("TLS: {e}"))?))
            }
        };
        tokio_tungstenite::accept_hdr_async_with_config(stream, gate, Some(ws_config(cfg.max_frame_bytes)))
            .await
            .map_err(|e| e.to_string())
    };
    // Boxed (like the goodbye below): the handshakes' state is freed once they are done
    // instead of sizing every idle connection's task.
    let ws = match tokio::time::timeout(cfg.handshake_timeout, Box::pin(handshake)).await {
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
    permit.handshake_done();
    let Some(admitted) = admitted else { return };
    let mut conn = Connection::new(ws);
    let (out_tx, mut out_rx) = crate::outbox::outbox(cfg.outbound_queue);
    let control = Arc::new(ConnControl::default());
    let req =
        ConnectRequest { key: admitted.key.clone(), resume: admitted.resume, out: out_tx, control: control.clone() };
    let registered = match hub.connect(req).await {
        Ok(r) => r,
        Err(code) => {
            tracing::info!(%addr, key = %admitted.key.id, code, "connection refused after upgrade");
            let _ = tokio::time::timeout(CLOSE_WAIT, async {
                conn.close(code, refusal_reason(code)).await;
                conn.finish(CLOSE_WAIT).await;
            })
            .await;
            return;
        }
    };
    let span = tracing::info_span!("conn", id = registered.conn, peer = %registered.peer_id);
    let mut task = Task {
        cfg: &cfg,
        hub: &hub,
        conn: &mut conn,
        id: registered.conn,
        bucket: TokenBucket::new(cfg.rate_per_sec, cfg.rate_burst, Instant::now()),
        invalid_in_a_row: 0,
        last_seen: Instant::now(),
        inflight: Vec::new(),
    };
    let exit = tracing::Instrument::instrument(task.run(&mut out_rx, &control, &shutdown), span.clone()).await;
    // Report to the hub first, handing back app frames this socket did not write, so a
    // resuming socket can take them over; then say goodbye to the client.
    let mut unsent = std::mem::take(&mut task.inflight);
    out_rx.close();
    while let Some(o) = out_rx.try_recv() {
        unsent.push(o);
    }
    unsent.retain(|o| o.replay);
    hub.disconnected(registered.conn, registered.peer_id.clone(), exit.ends_session, unsent).await;
    // Bounded: a client that stopped reading cannot hold the task (or a shutdown) up.
    let goodbye = async {
        if exit.going_away {
            let _ = conn.feed_frame(&ServerFrame::GoingAway { retry_after_ms: cfg.going_away_retry_ms }).await;
        }
        match exit.close {
            Some((code, reason)) => {
                conn.close(code, reason).await;
                conn.finish(CLOSE_WAIT).await;
            }
            None => {
                let _ = conn.flush().await;
            }
        }
    };
    let _ = tokio::time::timeout(CLOSE_WAIT, Box::pin(goodbye)).await;
    tracing::info!(parent: &span, grace = !exit.ends_session && !exit.by_hub, close = ?exit.close.map(|c| c.0), "disconnected");
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
    /// Frames taken from the queue whose write has not completed.
    inflight: Vec<Outbound>,
}

impl Task<'_> {
    async fn run(
        &mut self,
        out: &mut crate::outbox::Receiver,
        control: &ConnControl,
        shutdown: &CancellationToken,
    ) -> Exit {
        let mut ping = tokio::time::interval_at(Instant::now() + self.cfg.ping_interval, self.cfg.ping_interval);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    let close = Some((close::GOING_AWAY, "server shutting down"));
                    return Exit { ends_session: false, going_away: true, close, by_hub: false };
                }
                _ = control.requested() => {
                    // The hub has detached this socket already.
                    let c = control.requested_close().unwrap_or((close::NORMAL, ""));
                    return Exit { ends_session: false, going_away: false, close: Some(c), by_hub: true };
                }
                first = out.recv() => {
                    let Some(first) = first else { return Exit::gone() };
                    self.inflight.push(first);
                    while self.inflight.len() < WRITE_BATCH {
                        match out.try_recv() {
                            Some(o) => self.inflight.push(o),
                            None => break,
                        }
                    }
                    let written = tokio::select! {
                        r = self.write_inflight() => r,
                        // Stop writing at once; the loop then handles the close.
                        _ = control.requested() => continue,
                        _ = shutdown.cancelled() => continue,
                    };
                    if !written {
                        return Exit::gone();
                    }
                }
                inbound = self.conn.read() => {
                    if let Some(exit) = self.on_inbound(inbound).await {
                        return exit;
                    }
                }
                _ = ping.tick() => {
                    if self.last_seen.elapsed() >= self.cfg.idle_timeout {
                        tracing::info!("idle timeout; dropping the socket");
                        return Exit::gone();
                    }
                    if self.conn.ping().await.is_err() {
                        return Exit::gone();
                    }
                }
            }
        }
    }

    /// Writes the in-flight batch and flushes; false if the socket failed or stalled.
    async fn write_inflight(&mut self) -> bool {
        let write = async {
            for o in &self.inflight {
                self.conn.feed(o.text.clone()).await?;
            }
            self.conn.flush().await
        };
        let ok = matches!(tokio::time::timeout(self.cfg.idle_timeout, write).await, Ok(Ok(())));
        if ok {
            self.hub.metrics().frames_out(self.inflight.len() as u64);
            self.inflight.clear();
        }
        ok
    }

    async fn reply(&mut self, frame: ServerFrame) -> Option<Exit> {
        let ok = self.conn.feed_frame(&frame).await.is_ok() && self.conn.flush().await.is_ok();
        (!ok).then(Exit::gone)
    }

    /// Handles one inbound event; `Some` ends the connection.
    async fn on_inbound(&mut self, inbound: Inbound) -> Option<Exit> {
        self.last_seen = Instant::now();
        let counted = matches!(inbound, Inbound::Frame(_) | Inbound::Invalid(_) | Inbound::Binary);
        if counted {
            let frame = if let Inbound::Frame(f) = &inbound { Some(f) } else { None };
            self.hub.metrics().frame_in(frame);
        }
        if counted && !self.bucket.take(Instant::now()) {
            tracing::info!("over the message rate; closing 4011");
            self.hub.metrics().rate_limit_close();
            return Some(Exit::throttled());
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
            Inbound::Closed => Some(Exit::gone()),
            Inbound::TooBig => {
                tracing::info!("message over the size limit; closing 1009");
                Some(Exit::policy(close::TOO_BIG, "message too big"))
            }
            Inbound::BadUtf8 => {
                tracing::info!("text frame is not UTF-8; closing 1007");
                Some(Exit::policy(close::INVALID_PAYLOAD, "text frame is not valid UTF-8"))
            }
            Inbound::Broken(e) => {
                tracing::debug!(error = %e, "socket error");
                Some(Exit::gone())
            }
        }
    }

    async fn invalid(&mut self, error: ServerFrame) -> Option<Exit> {
        self.invalid_in_a_row += 1;
        if let Some(exit) = self.reply(error).await {
            return Some(exit);
        }
        if self.invalid_in_a_row >= self.cfg.max_invalid_in_a_row {
            tracing::info!("too many malformed frames in a row; closing 1008");
            return Some(Exit::policy(close::POLICY, "too many malformed frames"));
        }
        None
    }
}

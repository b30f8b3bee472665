//! The accept loop and the handle used to control a running server (shutdown, key
//! reload, admin disconnect, stats).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{Config, KeyConfig};
use crate::hub::{HubHandle, Stats};
use crate::per_ip::IpLimits;
use crate::tls::Tls;

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    operator: Option<TcpListener>,
    tls: Option<Arc<Tls>>,
    cfg: Arc<Config>,
    hub: HubHandle,
    per_ip: IpLimits,
    shutdown: CancellationToken,
    /// Stops the hub (and the cluster tasks): at once on a single node, after the drain
    /// in a cluster.
    hub_stop: CancellationToken,
    tracker: TaskTracker,
}

/// How often a draining instance checks whether its sessions have moved away.
const DRAIN_CHECK: Duration = Duration::from_millis(50);

/// Controls a running server. Cheap to clone.
#[derive(Clone)]
pub struct ServerHandle {
    addr: SocketAddr,
    operator_addr: Option<SocketAddr>,
    tls: Option<Arc<Tls>>,
    hub: HubHandle,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Server {
    /// Loads the TLS files (if configured), binds the listening socket (port 0 picks a
    /// free port) and starts the hub. A TLS file problem is an `InvalidInput` error.
    pub async fn bind(cfg: Config) -> std::io::Result<Server> {
        let tls = match &cfg.tls {
            Some(files) => Some(Arc::new(
                Tls::load(files.clone()).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?,
            )),
            None => None,
        };
        let listener = TcpListener::bind(cfg.listen).await?;
        let operator = match cfg.operator_listen {
            Some(a) => Some(TcpListener::bind(a).await?),
            None => None,
        };
        let cfg = Arc::new(cfg);
        let tracker = TaskTracker::new();
        let shutdown = CancellationToken::new();
        let hub_stop = CancellationToken::new();
        let hub = HubHandle::spawn(cfg.clone(), &tracker, hub_stop.clone())?;
        let per_ip = IpLimits::new(cfg.per_ip.clone());
        Ok(Server { listener, operator, tls, cfg, hub, per_ip, shutdown, hub_stop, tracker })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.cfg.listen)
    }

    /// A handle to control the server once it runs.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            addr: self.local_addr(),
            operator_addr: self.operator.as_ref().and_then(|l| l.local_addr().ok()),
            tls: self.tls.clone(),
            hub: self.hub.clone(),
            shutdown: self.shutdown.clone(),
            tracker: self.tracker.clone(),
        }
    }

    /// Accepts connections until shutdown, then waits for every connection task to
    /// send `going_away` and close.
    pub async fn run(mut self) {
        tracing::info!(addr = %self.local_addr(), "signalling server listening");
        if let Some(op) = self.operator.take() {
            if let Ok(a) = op.local_addr() {
                tracing::info!(addr = %a, "operator port (/healthz, /metrics) listening");
            }
            self.tracker.spawn(crate::operator::run(op, self.hub.clone(), self.shutdown.clone()));
        }
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, addr)) => {
                        let permit = match self.per_ip.accept(addr.ip()) {
                            Ok(p) => p,
                            Err(e) => {
                                tracing::debug!(%addr, error = %e, "connection refused");
                                self.hub.metrics().refused_handshake();
                                continue;
                            }
                        };
                        let (cfg, hub, sd) = (self.cfg.clone(), self.hub.clone(), self.shutdown.clone());
                        let tls = self.tls.as_ref().map(|t| t.acceptor());
                        self.tracker.spawn(crate::handler::serve(stream, tls, addr, permit, cfg, hub, sd));
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
        drop(self.listener);
        if let Some(c) = &self.cfg.cluster {
            // Clients got `going_away` and resume on other instances, which ask this one
            // to hand their sessions over: serve that until every session has gone (or
            // the drain time is up; the rest leave after the grace period elsewhere).
            let t = tokio::time::Instant::now();
            let deadline = t + c.drain;
            while self.hub.stats().await.sessions > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(DRAIN_CHECK).await;
            }
            let left = self.hub.stats().await.sessions;
            tracing::info!(took = ?t.elapsed(), sessions_left = left, "drain finished");
        }
        self.hub_stop.cancel();
        self.tracker.close();
        self.tracker.wait().await;
        tracing::info!("signalling server stopped");
    }

    /// Binds and runs in a background task; returns the handle.
    pub async fn spawn(cfg: Config) -> std::io::Result<ServerHandle> {
        let server = Server::bind(cfg).await?;
        let handle = server.handle();
        tokio::spawn(server.run());
        Ok(handle)
    }
}

impl ServerHandle {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The operator port's address (`/healthz`, `/metrics`), if configured.
    pub fn operator_addr(&self) -> Option<SocketAddr> {
        self.operator_addr
    }

    /// `ws://HOST:PORT/v1`, or `wss://` when the server terminates TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}{}", self.addr, peerchat_protocol::PATH_V1)
    }

    /// Re-reads the TLS certificate and key; new handshakes use them, open connections
    /// keep theirs. `Ok(false)` when the server does not terminate TLS.
    pub fn reload_tls(&self) -> Result<bool, crate::tls::TlsError> {
        match &self.tls {
            Some(tls) => tls.reload().map(|()| true),
            None => Ok(false),
        }
    }

    /// Starts a graceful shutdown: `going_away` and close 1001 on every socket.
    pub fn shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Waits until every task has finished after [`ServerHandle::shutdown`].
    pub async fn stopped(&self) {
        self.shutdown.cancelled().await;
        self.tracker.wait().await;
    }

    /// Replaces the keys (see [`HubHandle::set_keys`]).
    pub async fn set_keys(&self, keys: Vec<KeyConfig>) -> usize {
        self.hub.set_keys(keys).await
    }

    /// Administrative disconnect (close 4020).
    pub async fn disconnect_peer(&self, peer_id: &str) -> bool {
        self.hub.disconnect_peer(peer_id).await
    }

    /// Live counts.
    pub async fn stats(&self) -> Stats {
        self.hub.stats().await
    }
}

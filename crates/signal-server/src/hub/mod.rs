//! The hub: the one task that owns every session, channel and per-key counter.
//!
//! Connection tasks talk to it through [`HubHandle`], a clonable handle over a bounded
//! `mpsc` queue; requests that need an answer carry a `oneshot`. The hub never awaits
//! a connection: it hands frames to each connection's bounded outbound queue with
//! `try_send`, and a connection that cannot keep up is closed with 1013 and its session
//! ends. All protocol decisions live in [`state::State`], which takes the time as an
//! argument and owns no socket.

mod cluster;
mod delivery;
mod handlers;
pub mod keys;
mod moves;
mod replica;
mod sessions;
mod state;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use peerchat_protocol::ClientFrame;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, KeyConfig};
use keys::{KeyEntry, KeyTable};
pub use state::{Stats, SLOW_CONSUMER};

/// Identifies one WebSocket connection for the lifetime of the process.
pub type ConnId = u64;

/// How the hub tells a connection task to close: the code and reason are set once,
/// then the token is cancelled.
#[derive(Debug, Default)]
pub struct ConnControl {
    token: CancellationToken,
    close: Mutex<Option<(u16, &'static str)>>,
}

impl ConnControl {
    /// Asks the connection to close with `code` (the first request wins).
    pub fn close(&self, code: u16, reason: &'static str) {
        let mut slot = self.close.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some((code, reason));
        }
        drop(slot);
        self.token.cancel();
    }

    /// Resolves when a close was requested.
    pub async fn requested(&self) {
        self.token.cancelled().await
    }

    /// The requested close, if any.
    pub fn requested_close(&self) -> Option<(u16, &'static str)> {
        *self.close.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A frame on its way to one connection.
#[derive(Debug, Clone)]
pub struct Outbound {
    /// The serialised frame.
    pub text: Utf8Bytes,
    /// App data (`message`, `signal`) that must reach the session even if this socket
    /// drops before writing it; connection-specific frames (welcome, snapshots, acks,
    /// errors) and presence deltas are not replayed, a resume re-sends fresh ones.
    pub replay: bool,
}

/// What a connection task needs to register with the hub.
pub struct ConnectRequest {
    pub key: Arc<KeyEntry>,
    pub resume: Option<String>,
    pub out: crate::outbox::Sender,
    pub control: Arc<ConnControl>,
}

/// A registered connection.
#[derive(Debug, Clone)]
pub struct Connected {
    pub conn: ConnId,
    pub peer_id: Arc<str>,
    pub resumed: bool,
}

pub(crate) enum Command {
    Connect(ConnectRequest, oneshot::Sender<Result<Connected, u16>>),
    Frame(ConnId, ClientFrame),
    Disconnected { conn: ConnId, peer: Arc<str>, ends_session: bool, unsent: Vec<Outbound> },
    SetKeys(Vec<KeyConfig>, oneshot::Sender<usize>),
    Disconnect(String, oneshot::Sender<bool>),
    Stats(oneshot::Sender<Stats>),
}

/// Clonable handle to the hub task.
#[derive(Clone)]
pub struct HubHandle {
    tx: mpsc::Sender<Command>,
    keys: KeyTable,
    metrics: Arc<crate::metrics::Metrics>,
    cluster: Option<Arc<crate::cluster::ClusterMetrics>>,
}

/// Depth of the hub's command queue; connection readers wait when it is full.
const HUB_QUEUE: usize = 4_096;

impl HubHandle {
    /// Starts the hub task (and, with `[cluster]`, the tasks that talk to Redis); they
    /// end at `shutdown` or when every handle is dropped.
    pub fn spawn(
        config: Arc<Config>,
        tracker: &tokio_util::task::TaskTracker,
        shutdown: CancellationToken,
    ) -> std::io::Result<HubHandle> {
        let keys = KeyTable::new(&config.keys);
        let (tx, mut rx) = mpsc::channel(HUB_QUEUE);
        let (cluster_tx, mut cluster_rx) = mpsc::channel(HUB_QUEUE);
        let instance = state::random_id(9);
        let link = match &config.cluster {
            Some(c) => Some(
                crate::cluster::spawn(c.clone(), instance.clone(), cluster_tx, tracker, shutdown.clone())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?,
            ),
            None => None,
        };
        let cluster = link.as_ref().map(|l| l.metrics.clone());
        let mut state = state::State::new(config, keys.clone(), instance, link);
        let unix = || SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        tracker.spawn(async move {
            loop {
                let deadline = state.next_deadline();
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    cmd = rx.recv() => match cmd {
                        Some(cmd) => state.handle(cmd, Instant::now(), unix()),
                        None => break,
                    },
                    Some(m) = cluster_rx.recv() => state.cluster_in(m, Instant::now(), unix()),
                    _ = sleep_until_opt(deadline) => state.tick(Instant::now(), unix()),
                }
            }
        });
        Ok(HubHandle { tx, keys, metrics: Arc::default(), cluster })
    }

    /// Cluster figures (`GET /metrics`), when running as one of several instances.
    pub fn cluster_metrics(&self) -> Option<&Arc<crate::cluster::ClusterMetrics>> {
        self.cluster.as_ref()
    }

    /// The process's counters (`GET /metrics`).
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// The key table consulted before upgrades.
    pub fn keys(&self) -> &KeyTable {
        &self.keys
    }

    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(make(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Registers a connection; `Err(close code)` when it must be refused.
    pub async fn connect(&self, req: ConnectRequest) -> Result<Connected, u16> {
        self.ask(|tx| Command::Connect(req, tx)).await.unwrap_or(Err(peerchat_protocol::close::GOING_AWAY))
    }

    /// Hands a parsed frame to the hub (waits while the hub's queue is full).
    pub async fn frame(&self, conn: ConnId, frame: ClientFrame) {
        let _ = self.tx.send(Command::Frame(conn, frame)).await;
    }

    /// Reports that a connection ended, with the replayable frames it did not write.
    pub async fn disconnected(&self, conn: ConnId, peer: Arc<str>, ends_session: bool, unsent: Vec<Outbound>) {
        let _ = self.tx.send(Command::Disconnected { conn, peer, ends_session, unsent }).await;
    }

    /// Replaces the configured keys. Sockets of removed keys are closed with 4001 and
    /// their sessions end. Returns how many sockets were closed.
    pub async fn set_keys(&self, keys: Vec<KeyConfig>) -> usize {
        self.ask(|tx| Command::SetKeys(keys, tx)).await.unwrap_or(0)
    }

    /// Administrative disconnect of a peer (close 4020, session ends). False if unknown.
    pub async fn disconnect_peer(&self, peer_id: &str) -> bool {
        self.ask(|tx| Command::Disconnect(peer_id.to_string(), tx)).await.unwrap_or(false)
    }

    /// Counts of connections, sessions and channels.
    pub async fn stats(&self) -> Stats {
        self.ask(Command::Stats).await.unwrap_or_default()
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

//! Scale-out: instances share rooms, presence and routing through Redis.
//!
//! The hub stays the one owner of this instance's sessions and decides everything in its
//! sans-IO state; this module is the I/O around it. The hub hands [`Effect`]s to a bounded
//! queue with `try_send` (it never waits on Redis) and gets [`ClusterIn`] commands back on
//! its own queue. Three tasks do the talking:
//! * `writer`: executes effects in order, pipelined, on one connection, and answers the
//!   ones a client waits for (acks) with what Redis said;
//! * `subscriber`: subscribes to the bus, loads a snapshot of every peer each time it
//!   (re)connects, and forwards bus messages;
//! * `heartbeat`: keeps this instance alive in Redis, finds instances that stopped, and
//!   measures the round trip.
//!
//! Names in Redis and the bus messages are in [`wire`]; the guarantees this gives each
//! frame type are in `docs/protocol.md` §8.

pub mod config;
mod heartbeat;
mod subscriber;
pub mod wire;
mod writer;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use peerchat_protocol::RequestId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use config::{ClusterConfig, ClusterSection, RedisUrl};
use wire::{BusMsg, Envelope, Keys, PeerRecord};

use crate::hub::ConnId;

/// Depth of the hub → Redis queue. When it is full, what needed Redis is refused with a
/// typed error (and records are re-sent at the next resync), never waited for.
pub const EFFECT_QUEUE: usize = 16_384;

/// Longest wait between two attempts to reach Redis again.
pub const RETRY_MAX: std::time::Duration = std::time::Duration::from_secs(2);

/// What the hub asks of Redis.
#[derive(Debug)]
pub enum Effect {
    /// Store a record of ours and announce it.
    Put(PeerRecord),
    /// Forget a session of ours and announce it.
    Gone { pid: String, ver: u64 },
    /// Forget a peer of a dead instance, if it still belongs to that instance.
    Reap { pid: String, inst: String },
    /// Forget a dead instance once its peers are reaped.
    ForgetInstance(String),
    /// Messages to other instances' inboxes; `ack` is answered with whether every one
    /// reached its instance.
    Send { to: Vec<(String, BusMsg)>, ack: Option<AckTo> },
    /// Add this instance's count to a shared quota window; answered with the total.
    Quota { kid: String, kind: QuotaKind, d: crate::quota::QuotaDelta },
}

/// Which of a key's quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaKind {
    Messages,
    Signals,
}

impl QuotaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            QuotaKind::Messages => "messages",
            QuotaKind::Signals => "signals",
        }
    }
}

/// Who waits for the outcome of an [`Effect::Send`].
#[derive(Debug, Clone)]
pub struct AckTo {
    pub conn: ConnId,
    pub request_id: Option<RequestId>,
}

/// What the cluster tells the hub.
#[derive(Debug)]
pub enum ClusterIn {
    /// A message from the bus.
    Bus(Envelope),
    /// (Re)connected: every peer Redis knows, and the instances that stopped.
    Synced { records: Vec<PeerRecord>, dead: Vec<String> },
    /// Redis cannot be reached; the reason is for the log.
    Down(String),
    /// The instances alive now (this one included) and those whose heartbeat lapsed,
    /// each time either set changes.
    Instances { alive: Vec<String>, dead: Vec<String> },
    /// Outcome of an [`Effect::Send`] with an ack: `missed` instances did not get it.
    Sent { ack: AckTo, missed: usize },
    /// Records and ends Redis refused (after the retry): the hub sends them again.
    Unwritten { puts: Vec<String>, gones: Vec<(String, u64)> },
    /// The cluster's count of a quota window after an [`Effect::Quota`].
    QuotaTotal { kid: String, kind: QuotaKind, window: u64, total: u64, through: u64 },
}

/// Cluster figures for `GET /metrics`.
#[derive(Debug, Default)]
pub struct ClusterMetrics {
    pub up: AtomicBool,
    pub rtt_micros: AtomicU64,
    pub bus_in: AtomicU64,
    pub bus_out: AtomicU64,
    pub effects_refused: AtomicU64,
    pub write_errors: AtomicU64,
}

impl ClusterMetrics {
    /// Appends the cluster series in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        use std::fmt::Write;
        let mut series = |name: &str, kind: &str, help: &str, v: String| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n");
        };
        let up = u8::from(self.up.load(Ordering::Relaxed));
        series("peerchat_cluster_up", "gauge", "1 while in sync with Redis.", up.to_string());
        let rtt = self.rtt_micros.load(Ordering::Relaxed) as f64 / 1e6;
        series("peerchat_redis_rtt_seconds", "gauge", "Round trip of the last heartbeat to Redis.", format!("{rtt}"));
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        series("peerchat_bus_in_total", "counter", "Messages received from other instances.", n(&self.bus_in));
        series("peerchat_bus_out_total", "counter", "Messages sent to other instances.", n(&self.bus_out));
        let refused = n(&self.effects_refused);
        series("peerchat_cluster_refused_total", "counter", "Redis work refused (queue full or link down).", refused);
        let failed = n(&self.write_errors);
        series("peerchat_cluster_write_errors_total", "counter", "Batches Redis refused after a retry.", failed);
    }
}

/// The hub's side of the cluster: this instance's id and the effect queue.
#[derive(Debug, Clone)]
pub struct ClusterLink {
    pub instance: String,
    pub cfg: Arc<ClusterConfig>,
    tx: mpsc::Sender<Effect>,
    pub metrics: Arc<ClusterMetrics>,
}

impl ClusterLink {
    /// Queues an effect; false when the queue is full or the link has stopped.
    pub fn effect(&self, e: Effect) -> bool {
        let ok = self.tx.try_send(e).is_ok();
        if !ok {
            self.metrics.effects_refused.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }
}

impl ClusterLink {
    /// A link whose effects the caller reads instead of Redis (sans-IO tests of the hub).
    #[cfg(test)]
    pub(crate) fn for_tests(instance: &str) -> (ClusterLink, mpsc::Receiver<Effect>) {
        let url = Some(RedisUrl::new("redis://127.0.0.1:1"));
        let cfg = ClusterSection::default().build(url).ok().flatten().expect("valid defaults");
        let (tx, rx) = mpsc::channel(EFFECT_QUEUE);
        let link = ClusterLink { instance: instance.into(), cfg: Arc::new(cfg), tx, metrics: Arc::default() };
        (link, rx)
    }
}

/// Starts the cluster tasks for instance `instance`; `to_hub` delivers [`ClusterIn`].
pub fn spawn(
    cfg: ClusterConfig,
    instance: String,
    to_hub: mpsc::Sender<ClusterIn>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> Result<ClusterLink, redis::RedisError> {
    let client = redis::Client::open(cfg.redis.expose())?;
    let cfg = Arc::new(cfg);
    let keys = Keys::new(&cfg.prefix);
    let metrics = Arc::new(ClusterMetrics::default());
    let (tx, rx) = mpsc::channel(EFFECT_QUEUE);
    tracing::info!(redis = %cfg.redis, instance, "cluster: joining through Redis");
    let ctx = Ctx { client, keys, instance: instance.clone(), to_hub, metrics: metrics.clone(), shutdown };
    tracker.spawn(writer::run(ctx.clone(), rx));
    tracker.spawn(subscriber::run(ctx.clone()));
    tracker.spawn(heartbeat::run(ctx, cfg.clone()));
    Ok(ClusterLink { instance, cfg, tx, metrics })
}

/// What every cluster task shares.
#[derive(Clone)]
struct Ctx {
    client: redis::Client,
    keys: Keys,
    instance: String,
    to_hub: mpsc::Sender<ClusterIn>,
    metrics: Arc<ClusterMetrics>,
    shutdown: CancellationToken,
}

impl Ctx {
    fn envelope(&self, msg: BusMsg) -> String {
        serde_json::to_string(&Envelope { src: self.instance.clone(), msg }).unwrap_or_default()
    }

    /// Tells the hub; false once the hub is gone.
    async fn tell(&self, m: ClusterIn) -> bool {
        self.to_hub.send(m).await.is_ok()
    }

    /// A connection that reconnects by itself; `None` if Redis cannot be reached now.
    async fn connect(&self) -> Option<redis::aio::ConnectionManager> {
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_secs(2)))
            .set_response_timeout(Some(std::time::Duration::from_secs(2)))
            .set_number_of_retries(1);
        match redis::aio::ConnectionManager::new_with_config(self.client.clone(), cfg).await {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::debug!(error = %e, "cluster: cannot connect to Redis");
                None
            }
        }
    }
}

/// Waits `d` unless shutdown comes first (then false).
async fn pause(shutdown: &CancellationToken, d: std::time::Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(d) => true,
    }
}

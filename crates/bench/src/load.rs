//! Row: the load one server holds. `connections` WebSocket clients join rooms of
//! `ROOM`; for `duration`, `rate` messages a second go out (`send` to the next member of
//! the sender's room, senders taken in turn). Every message carries a sequence number
//! and its send time: the receivers count what arrived, twice or never, and the latency.
//! Bounded in count and time: the clients, the messages, and a quiet period at the end.

use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::relay::Ws;
use crate::stats::Samples;

/// Members per room.
const ROOM: usize = 10;
/// Connections being set up at once.
const CONNECTING: usize = 200;
/// How long to wait for the last messages after sending stops.
const QUIET: Duration = Duration::from_secs(3);
const KEY: &str = "pk_bench_load";

pub struct Sizes {
    pub connections: usize,
    pub rate: u64,
    pub duration: Duration,
}

impl Sizes {
    /// Tiny for a smoke run; else `connections` clients, 1,000 sends/s for `secs`.
    pub fn for_run(smoke: bool, connections: usize, secs: u64) -> Sizes {
        if smoke {
            Sizes { connections: 300, rate: 200, duration: Duration::from_secs(2) }
        } else {
            Sizes { connections, rate: 1_000, duration: Duration::from_secs(secs) }
        }
    }
}

pub struct Load {
    pub connected: usize,
    pub connect_time: Duration,
    pub sent: u64,
    pub received: u64,
    pub dropped: u64,
    pub duplicated: u64,
    pub errors: u64,
    pub latency: Samples,
    pub server_rss_kib: u64,
    pub offered_rate: f64,
    /// Redis's CPU time from the first send until the last message arrived (cluster).
    pub redis_cpu_ns: Option<u64>,
}

struct Shared {
    start: Instant,
    /// Copies received, per sequence number.
    seen: Vec<AtomicU32>,
    latencies_us: Mutex<Vec<u32>>,
    errors: AtomicU64,
}

async fn connect(url: &str, room: usize) -> anyhow::Result<(Ws, String)> {
    // Small buffers: thousands of clients share this process.
    let cfg = WebSocketConfig::default().read_buffer_size(4096).write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(cfg), true).await?;
    let mut id = String::new();
    let subscribe = format!(r#"{{"type":"subscribe","channel":"load-{room}","name":"n","requestId":"s"}}"#);
    loop {
        let m = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("closed"))??;
        let text = m.to_text().unwrap_or_default();
        if id.is_empty() {
            let v: Value = serde_json::from_str(text)?;
            id = v["peerId"].as_str().unwrap_or_default().to_string();
            ws.send(Message::text(subscribe.clone())).await?;
        } else if text.contains(r#""requestId":"s""#) {
            return Ok((ws, id));
        }
    }
}

fn read(mut stream: futures_util::stream::SplitStream<Ws>, shared: Arc<Shared>) {
    tokio::spawn(async move {
        while let Some(Ok(m)) = stream.next().await {
            let Ok(text) = m.to_text() else { continue };
            if !text.starts_with(r#"{"type":"message""#) {
                if text.contains(r#""type":"error""#) {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            let Ok(v) = serde_json::from_str::<Value>(text) else { continue };
            let (Some(seq), Some(t)) = (v["data"]["s"].as_u64(), v["data"]["t"].as_u64()) else { continue };
            if let Some(slot) = shared.seen.get(seq as usize) {
                slot.fetch_add(1, Ordering::Relaxed);
            }
            let now = shared.start.elapsed().as_micros() as u64;
            shared.latencies_us.lock().unwrap().push(now.saturating_sub(t) as u32);
        }
    });
}

pub async fn run(server: &Path, s: &Sizes) -> anyhow::Result<Load> {
    let cfg = std::env::temp_dir().join(format!("peerchat-bench-load-{}.toml", std::process::id()));
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nmax_peers_per_channel = {ROOM}\n\n[[keys]]\nkey = \"{KEY}\"\nmax_connections = {}\n",
            s.connections + 100
        ),
    )?;
    let (mut child, base) = crate::idle::spawn(&crate::idle::Target::Ours(server), Some(&cfg))?;
    let _ = std::fs::remove_file(&cfg);
    let mut load = drive(&[format!("{base}?key={KEY}")], s, None).await;
    if let Ok(l) = load.as_mut() {
        l.server_rss_kib = crate::proc::rss_kib(child.id()).unwrap_or(0);
    }
    let _ = child.kill();
    let _ = child.wait();
    load
}

/// The config a cluster instance of the load rows runs with (`redis`: the URL).
pub fn cluster_config(s: &Sizes, redis: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nmax_peers_per_channel = {ROOM}\nsecret = \"peerchat-bench-cluster-secret\"\n\
         [cluster]\nredis = \"{redis}\"\n\n[[keys]]\nkey = \"{KEY}\"\nmax_connections = {}\n",
        s.connections + 100
    )
}

/// The bench key in a URL query.
pub fn key_query() -> String {
    format!("?key={KEY}")
}

/// Connects the clients, `i`-th to `urls[i % urls.len()]`, in rooms of `ROOM` (so with
/// several instances most rooms span them all), sends, and counts. The server RSS is
/// left for the caller to fill in.
pub async fn drive(urls: &[String], s: &Sizes, redis_pid: Option<u32>) -> anyhow::Result<Load> {
    let total = (s.rate as f64 * s.duration.as_secs_f64()).ceil() as usize;
    let shared = Arc::new(Shared {
        start: Instant::now(),
        seen: (0..total).map(|_| AtomicU32::new(0)).collect(),
        latencies_us: Mutex::new(Vec::with_capacity(total)),
        errors: AtomicU64::new(0),
    });

    let t0 = Instant::now();
    let mut clients: Vec<Option<(SplitSink<Ws, Message>, String)>> = (0..s.connections).map(|_| None).collect();
    let mut pending = futures_util::stream::iter((0..s.connections).map(|i| {
        let url = urls[i % urls.len()].clone();
        async move { (i, connect(&url, i / ROOM).await) }
    }))
    .buffer_unordered(CONNECTING);
    while let Some((i, r)) = pending.next().await {
        let (ws, id) = r?;
        let (sink, stream) = ws.split();
        read(stream, shared.clone());
        clients[i] = Some((sink, id));
    }
    drop(pending);
    let connect_time = t0.elapsed();
    let mut clients: Vec<(SplitSink<Ws, Message>, String)> =
        clients.into_iter().map(|c| c.expect("connected")).collect();
    let ids: Vec<String> = clients.iter().map(|c| c.1.clone()).collect();

    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / s.rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let sending = Instant::now();
    let cpu_before = redis_pid.and_then(|p| crate::proc::cpu_ns(p).ok());
    let mut sent = 0u64;
    for seq in 0..total {
        tick.tick().await;
        let from = seq % s.connections;
        let room = from / ROOM * ROOM;
        let members = ROOM.min(s.connections - room);
        let to = room + (from - room + 1) % members;
        let t = shared.start.elapsed().as_micros() as u64;
        let frame = format!(r#"{{"type":"send","to":"{}","data":{{"s":{seq},"t":{t}}}}}"#, ids[to]);
        if clients[from].0.send(Message::text(frame)).await.is_ok() {
            sent += 1;
        }
    }
    let offered_rate = sent as f64 / sending.elapsed().as_secs_f64();
    // Wait until nothing new arrives for a while.
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(QUIET).await;
        let now = shared.latencies_us.lock().unwrap().len() as u64;
        if now == last {
            break;
        }
        last = now;
    }
    let redis_cpu_ns = redis_pid.and_then(|p| crate::proc::cpu_ns(p).ok()).zip(cpu_before).map(|(a, b)| a - b);
    let (mut unique, mut duplicated) = (0u64, 0u64);
    for slot in &shared.seen {
        let n = slot.load(Ordering::Relaxed) as u64;
        unique += n.min(1);
        duplicated += n.saturating_sub(1);
    }
    let received = shared.latencies_us.lock().unwrap().len() as u64;
    let latency =
        Samples::new(shared.latencies_us.lock().unwrap().iter().map(|&us| Duration::from_micros(us as u64)).collect());
    for (sink, _) in clients.iter_mut() {
        let _ = sink.close().await;
    }
    Ok(Load {
        connected: ids.len(),
        connect_time,
        sent,
        received,
        dropped: sent - unique,
        duplicated,
        errors: shared.errors.load(Ordering::Relaxed),
        latency,
        server_rss_kib: 0,
        offered_rate,
        redis_cpu_ns,
    })
}

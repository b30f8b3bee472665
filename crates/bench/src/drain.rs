//! Row: a drain of one instance under load. Three instances share a real redis-server;
//! `clients` WebSocket clients are spread over them (client `i` on instance `i % 3`) in
//! rooms of 10 and `send` to the next member of their room at a fixed rate, each frame
//! with a `requestId`. A few seconds in, instance 0 gets SIGTERM: it sends `going_away`
//! and hands its sessions over as they resume elsewhere.
//!
//! Each client behaves as the SDK does: after `going_away` it waits the `retryAfterMs`
//! the server asked for, and reconnects with its resume token through "the load
//! balancer" (the next instance that answers); after a plain close, at once. Frames the
//! server had not acked when the socket went are sent again after the resume, so a
//! receiver may see one twice (counted as duplicated), never none.
//!
//! Measured: frames acked but never received (lost, goal 0), the longest pause a client
//! saw (from `going_away` or the close to its next `welcome`), and the time from SIGTERM
//! until every client of the drained instance resumed elsewhere, as the same peer.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const ROOM: usize = 10;
const KEY: &str = "pk_bench_drain";
/// How long after the sending starts the drain begins.
const DRAIN_AT: Duration = Duration::from_secs(5);
/// Nothing new for this long after the sending ends finishes the row.
const QUIET: Duration = Duration::from_secs(3);
/// Longest the clients of the drained instance may take to resume.
const RESUME_LIMIT: Duration = Duration::from_secs(60);

pub struct Drain {
    pub clients: usize,
    pub moved: usize,
    pub sent: u64,
    pub acked: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub resent: u64,
    pub errors: u64,
    pub new_sessions: u64,
    pub longest_pause: Duration,
    pub all_resumed_after: Option<Duration>,
    pub secs: u64,
}

#[derive(Default)]
struct Shared {
    /// Copies received, per sequence number; and which were acked.
    seen: Vec<AtomicU32>,
    acked: Vec<AtomicU32>,
    received: AtomicU64,
    resent: AtomicU64,
    errors: AtomicU64,
    /// Reconnects that did not continue the session (a new peer id).
    new_sessions: AtomicU64,
    longest_pause_us: AtomicU64,
    /// When each client last resumed (only clients that moved).
    resumed_at: Mutex<Vec<Instant>>,
}

/// One client. It reports its peer id on `id_tx` once it is in its room; then the
/// sequence-numbered frames it is to send come in on `rx`.
async fn client(
    urls: Arc<Vec<String>>,
    home: usize,
    room: usize,
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<(u64, String)>,
    id_tx: tokio::sync::oneshot::Sender<String>,
) {
    let mut id_tx = Some(id_tx);
    let mut peer_id = String::new();
    let mut at = home;
    let mut token: Option<String> = None;
    let mut unacked: BTreeMap<u64, String> = BTreeMap::new();
    let mut lost_at: Option<Instant> = None;
    let mut sending_done = false;
    loop {
        let url = match &token {
            Some(t) => format!("{}&resume={t}", urls[at]),
            None => urls[at].clone(),
        };
        let Ok((ws, _)) = tokio_tungstenite::connect_async(url).await else {
            // That instance is gone: the load balancer would send us to the next one.
            at = (at + 1) % urls.len();
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let (mut sink, mut stream) = ws.split();
        let mut retry_after = Duration::ZERO;
        let mut welcomed = false;
        loop {
            tokio::select! {
                cmd = rx.recv(), if welcomed && !sending_done => match cmd {
                    Some((seq, frame)) => {
                        unacked.insert(seq, frame.clone());
                        if sink.send(Message::text(frame)).await.is_err() { break; }
                    }
                    None => sending_done = true,
                },
                m = stream.next() => {
                    let Some(Ok(m)) = m else { break };
                    let Ok(text) = m.to_text() else { continue };
                    let Ok(v) = serde_json::from_str::<Value>(text) else { continue };
                    if let Some(t) = v["resumeToken"].as_str() {
                        token = Some(t.to_string());
                    }
                    match v["type"].as_str() {
                        Some("welcome") => {
                            welcomed = true;
                            if peer_id.is_empty() {
                                peer_id = v["peerId"].as_str().unwrap_or_default().to_string();
                                let sub = format!(r#"{{"type":"subscribe","channel":"drain-{room}","name":"n","requestId":"s"}}"#);
                                if sink.send(Message::text(sub)).await.is_err() { break; }
                            } else {
                                if v["resumed"].as_bool() != Some(true) {
                                    shared.new_sessions.fetch_add(1, Ordering::Relaxed);
                                }
                                if let Some(t) = lost_at.take() {
                                    shared.longest_pause_us.fetch_max(t.elapsed().as_micros() as u64, Ordering::Relaxed);
                                    shared.resumed_at.lock().unwrap().push(Instant::now());
                                }
                                for frame in unacked.values() {
                                    shared.resent.fetch_add(1, Ordering::Relaxed);
                                    if sink.feed(Message::text(frame.clone())).await.is_err() { break; }
                                }
                                let _ = sink.flush().await;
                            }
                        }
                        Some("ack") if v["requestId"] == "s" => {
                            if let Some(tx) = id_tx.take() {
                                let _ = tx.send(peer_id.clone());
                            }
                        }
                        Some("ack") => {
                            if let Some(seq) = v["requestId"].as_u64() {
                                if unacked.remove(&seq).is_some() {
                                    if let Some(a) = shared.acked.get(seq as usize) { a.store(1, Ordering::Relaxed); }
                                }
                            }
                        }
                        Some("error") => {
                            shared.errors.fetch_add(1, Ordering::Relaxed);
                            if let Some(seq) = v["requestId"].as_u64() { unacked.remove(&seq); }
                        }
                        Some("message") => {
                            if let Some(seq) = v["data"]["s"].as_u64() {
                                if let Some(slot) = shared.seen.get(seq as usize) { slot.fetch_add(1, Ordering::Relaxed); }
                                shared.received.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        Some("going_away") => {
                            retry_after = Duration::from_millis(v["retryAfterMs"].as_u64().unwrap_or(0));
                            break;
                        }
                        _ => {}
                    }
                }
            }
        }
        lost_at.get_or_insert_with(Instant::now);
        tokio::time::sleep(retry_after).await;
        at = (at + 1) % urls.len();
    }
}

pub async fn run(server: &Path, smoke: bool) -> anyhow::Result<Drain> {
    let (clients, rate, secs) = if smoke { (150, 200, 8) } else { (3_000, 1_000, 20) };
    let redis = peerchat_testkit::redis::Redis::start();
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nmax_peers_per_channel = {ROOM}\nsecret = \"peerchat-bench-cluster-secret\"\n\
         [cluster]\nredis = \"{}\"\n\n[[keys]]\nkey = \"{KEY}\"\nmax_connections = {}\n",
        redis.url(),
        clients + 100
    );
    let (inst, urls, _dir) = crate::cluster::start(server, &config, crate::cluster::INSTANCES, &format!("?key={KEY}"))?;
    let urls = Arc::new(urls);
    let total = (rate * secs) as usize;
    let shared = Arc::new(Shared {
        seen: (0..total).map(|_| AtomicU32::new(0)).collect(),
        acked: (0..total).map(|_| AtomicU32::new(0)).collect(),
        ..Default::default()
    });
    let mut txs = Vec::new();
    let mut ids = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..clients {
        let (tx, rx) = mpsc::channel(1024);
        let (id_tx, id_rx) = tokio::sync::oneshot::channel();
        tasks.spawn(client(urls.clone(), i % urls.len(), i / ROOM, shared.clone(), rx, id_tx));
        txs.push(tx);
        ids.push(id_rx);
    }
    let mut peer_ids = Vec::new();
    for rx in ids {
        peer_ids.push(tokio::time::timeout(Duration::from_secs(60), rx).await??);
    }

    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut drained_at = None;
    let mut sent = 0u64;
    for seq in 0..total {
        tick.tick().await;
        if drained_at.is_none() && start.elapsed() >= DRAIN_AT {
            // SAFETY: kill(2) with a pid of a child this process started.
            unsafe { libc::kill(inst.0[0].id() as i32, libc::SIGTERM) };
            drained_at = Some(Instant::now());
        }
        let from = seq % clients;
        let room = from / ROOM * ROOM;
        let members = ROOM.min(clients - room);
        let to = room + (from - room + 1) % members;
        let frame = format!(r#"{{"type":"send","to":"{}","requestId":{seq},"data":{{"s":{seq}}}}}"#, peer_ids[to]);
        if txs[from].try_send((seq as u64, frame)).is_ok() {
            sent += 1;
        }
    }
    drop(txs);
    let moving = clients.div_ceil(urls.len());
    let deadline = Instant::now() + RESUME_LIMIT;
    while shared.resumed_at.lock().unwrap().len() < moving && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut last = u64::MAX;
    loop {
        tokio::time::sleep(QUIET).await;
        let now = shared.received.load(Ordering::Relaxed);
        if now == last {
            break;
        }
        last = now;
    }
    tasks.abort_all();
    drop(inst);
    let resumed = shared.resumed_at.lock().unwrap().clone();
    let all_resumed_after = match (drained_at, resumed.iter().max()) {
        (Some(d), Some(l)) if resumed.len() >= moving => Some(l.duration_since(d)),
        _ => None,
    };
    let (mut lost, mut duplicated, mut acked) = (0, 0, 0);
    for (seen, ack) in shared.seen.iter().zip(&shared.acked) {
        let (n, a) = (seen.load(Ordering::Relaxed) as u64, ack.load(Ordering::Relaxed) == 1);
        acked += u64::from(a);
        lost += u64::from(a && n == 0);
        duplicated += n.saturating_sub(1);
    }
    Ok(Drain {
        clients,
        moved: resumed.len(),
        sent,
        acked,
        lost,
        duplicated,
        resent: shared.resent.load(Ordering::Relaxed),
        errors: shared.errors.load(Ordering::Relaxed),
        new_sessions: shared.new_sessions.load(Ordering::Relaxed),
        longest_pause: Duration::from_micros(shared.longest_pause_us.load(Ordering::Relaxed)),
        all_resumed_after,
        secs,
    })
}

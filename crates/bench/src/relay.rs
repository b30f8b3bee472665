//! Rows: messages relayed by the signalling server, ours against the PeerJS server, over
//! real WebSocket clients on loopback. Two figures per row:
//! * the most the server relays: the sender keeps `WINDOW` messages in flight (counted
//!   by the receivers) and the rate is what arrives;
//! * latency at a fixed offered load well under both servers' capacity: p50 and p99.
//!
//! "send": one sender, one receiver. "publish": one sender into a room of 10 (9
//! receivers; PeerJS has no rooms, so only ours runs it).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use crate::stats::Samples;

pub(crate) type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Messages in flight while measuring the maximum rate.
const WINDOW: u64 = 1_000;
/// Nothing new for this long ends a phase (what is missing counts as lost).
const QUIET: Duration = Duration::from_secs(5);

/// Which server, and how its clients talk.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Ours,
    PeerJs,
}

pub struct RelayResult {
    pub max_rate: f64,
    /// CPU the server used per relayed delivery in the max-rate phase, in µs.
    pub server_us_per_msg: f64,
    /// CPU this bench process (the clients) used per delivery in that phase, in µs.
    pub client_us_per_msg: f64,
    pub lost: u64,
    pub offered: u64,
    pub latency: Samples,
}

/// A connected WebSocket client and the peer id (ours) or client id (PeerJS) it has.
pub(crate) struct Client {
    pub ws: Ws,
    pub id: String,
}

/// A sender: it writes, and a task reads (and counts) whatever the server sends it, as a
/// real client does; a socket nobody reads would stall the server's writes to it.
struct Sender {
    sink: futures_util::stream::SplitSink<Ws, Message>,
    received: Arc<AtomicU64>,
}

fn into_sender(c: Client) -> Sender {
    let (sink, mut stream) = c.ws.split();
    let received = Arc::new(AtomicU64::new(0));
    let count = received.clone();
    tokio::spawn(async move {
        while let Some(Ok(m)) = stream.next().await {
            if m.is_text() {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    Sender { sink, received }
}

pub(crate) async fn connect(flavor: Flavor, base: &str, i: usize) -> anyhow::Result<Client> {
    let url = match flavor {
        Flavor::Ours => base.to_string(),
        Flavor::PeerJs => format!("{base}?key=peerjs&id=relay{i}&token=t{i}"),
    };
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let first = tokio::time::timeout(QUIET, ws.next()).await?.ok_or_else(|| anyhow::anyhow!("closed"))??;
    let v: Value = serde_json::from_str(first.to_text()?)?;
    let id = match flavor {
        Flavor::Ours => v["peerId"].as_str().unwrap_or_default().to_string(),
        Flavor::PeerJs => format!("relay{i}"),
    };
    Ok(Client { ws, id })
}

/// Our server's `subscribe` frame, with request id "s".
pub(crate) fn subscribe_frame(room: &str, name: &str) -> Message {
    Message::text(format!(r#"{{"type":"subscribe","channel":"{room}","name":"{name}","requestId":"s"}}"#))
}

/// Subscribes `c` to the room and waits for the server's answer.
pub(crate) async fn subscribe(c: &mut Client, room: &str) -> anyhow::Result<()> {
    c.ws.send(subscribe_frame(room, &c.id)).await?;
    loop {
        let m = tokio::time::timeout(QUIET, c.ws.next()).await?.ok_or_else(|| anyhow::anyhow!("closed"))??;
        if m.to_text().unwrap_or_default().contains(r#""requestId":"s""#) {
            return Ok(());
        }
    }
}

fn frame(flavor: Flavor, room: Option<&str>, to: &str, seq: u64) -> String {
    match (flavor, room) {
        (Flavor::Ours, Some(r)) => format!(r#"{{"type":"publish","channel":"{r}","data":{{"seq":{seq}}}}}"#),
        (Flavor::Ours, None) => format!(r#"{{"type":"send","to":"{to}","data":{{"seq":{seq}}}}}"#),
        (Flavor::PeerJs, _) => format!(r#"{{"type":"CANDIDATE","dst":"{to}","payload":{{"seq":{seq}}}}}"#),
    }
}

fn seq_of(text: &str) -> Option<u64> {
    let rest = &text[text.find(r#""seq":"#)? + 6..];
    let end = rest.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// One phase: `n` messages, either paced at `per_sec` or as fast as the window allows.
/// Returns (deliveries, seconds from first send to last delivery, latencies).
async fn phase(
    sender: &mut Sender,
    receivers: &mut [Client],
    flavor: Flavor,
    room: Option<&str>,
    n: u64,
    per_sec: Option<u64>,
) -> anyhow::Result<(u64, f64, Vec<Duration>)> {
    let start = Instant::now();
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let delivered = Arc::new(AtomicU64::new(0));
    let progress = Arc::new(tokio::sync::Notify::new());
    let expected = n * receivers.len() as u64;
    let fanout = receivers.len() as u64;
    let to = receivers.first().map(|r| r.id.clone()).unwrap_or_default();
    let mut readers = Vec::new();
    for r in receivers.iter_mut() {
        let (sent_at, delivered, progress) = (sent_at.clone(), delivered.clone(), progress.clone());
        let ws = &mut r.ws;
        readers.push(async move {
            let mut lat = Vec::new();
            let mut last = start;
            let mut got = 0;
            while got < n {
                match tokio::time::timeout(QUIET, ws.next()).await {
                    Ok(Some(Ok(m))) if m.is_text() => {
                        if let Some(seq) = m.to_text().ok().and_then(seq_of).filter(|s| *s < n) {
                            let now = Instant::now();
                            let t = sent_at[seq as usize].load(Ordering::Relaxed);
                            lat.push(now.duration_since(start).saturating_sub(Duration::from_nanos(t)));
                            delivered.fetch_add(1, Ordering::Relaxed);
                            progress.notify_one();
                            got += 1;
                            last = now;
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    other => {
                        if got < n {
                            eprintln!("relay bench: a receiver stopped after {got} of {n}: {other:?}");
                        }
                        break;
                    }
                }
            }
            (lat, last)
        });
    }
    let send = async {
        let tick = per_sec.map(|r| Duration::from_secs_f64(1.0 / r as f64));
        for seq in 0..n {
            match tick {
                Some(t) => {
                    let due = start + t * seq as u32;
                    tokio::time::sleep_until(due.into()).await;
                }
                None => {
                    // Writes are batched, as a busy client's are; a full window sends
                    // what is written so far, then waits for the receivers.
                    let mut flushed = false;
                    loop {
                        let wake = progress.notified();
                        let seen = delivered.load(Ordering::Relaxed);
                        if (seq * fanout).saturating_sub(seen) < WINDOW * fanout {
                            break;
                        }
                        if !flushed {
                            sender.sink.flush().await?;
                            flushed = true;
                        }
                        if tokio::time::timeout(QUIET, wake).await.is_err() {
                            anyhow::bail!("the relay stopped after {seen} deliveries");
                        }
                    }
                }
            }
            sent_at[seq as usize].store(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
            let m = Message::text(frame(flavor, room, &to, seq));
            // Paced sends go out one by one (their latency is measured); the rest in batches.
            if tick.is_some() || seq % 64 == 63 {
                sender.sink.send(m).await?;
            } else {
                sender.sink.feed(m).await?;
            }
        }
        sender.sink.flush().await?;
        anyhow::Ok(())
    };
    let (sent, results) = tokio::join!(send, futures_util::future::join_all(readers));
    sent?;
    let mut all = Vec::new();
    let mut last = start;
    for (lat, l) in results {
        all.extend(lat);
        last = last.max(l);
    }
    let got = delivered.load(Ordering::Relaxed);
    debug_assert!(got <= expected);
    Ok((got, last.duration_since(start).as_secs_f64(), all))
}

/// Runs one row against the servers at `bases` (ours: URLs with the key; client `i`,
/// the sender being 0, connects to `bases[i % bases.len()]`); the servers' CPU is the
/// sum over `server_pids`.
pub async fn run(
    flavor: Flavor,
    server_pids: &[u32],
    bases: &[String],
    receivers: usize,
    n_max: u64,
    n_paced: u64,
    per_sec: u64,
) -> anyhow::Result<RelayResult> {
    let base = |i: usize| bases[i % bases.len()].as_str();
    let mut sender = connect(flavor, base(0), 0).await?;
    let mut rx = Vec::new();
    for i in 1..=receivers {
        rx.push(connect(flavor, base(i), i).await?);
    }
    // A room of its own per row: sessions of an earlier row linger in their grace period.
    let room_name = format!("relay-{receivers}");
    let room = (flavor == Flavor::Ours).then_some(room_name.as_str());
    if let Some(r) = room {
        subscribe(&mut sender, r).await?;
        for c in rx.iter_mut() {
            subscribe(c, r).await?;
        }
    }
    // With receivers on other instances, the sender's instance learns of them through
    // Redis a moment later: start once it has announced every one (joined).
    if room.is_some() {
        let mut unseen: std::collections::HashSet<&str> = rx.iter().map(|c| c.id.as_str()).collect();
        while !unseen.is_empty() {
            let m = tokio::time::timeout(QUIET, sender.ws.next()).await?.ok_or_else(|| anyhow::anyhow!("closed"))??;
            let text = m.to_text().unwrap_or_default();
            unseen.retain(|id| !text.contains(&format!(r#""peerId":"{id}""#)));
        }
    }
    // The room option only matters for publish; a send needs the two to share a room.
    let publish = receivers > 1;
    let room_for_frames = if publish { room } else { None };
    let mut sender = into_sender(sender);
    let cpu = || {
        let servers = server_pids.iter().map(|p| crate::proc::cpu_ns(*p)).sum::<anyhow::Result<u64>>()?;
        anyhow::Ok((servers, crate::proc::cpu_ns(std::process::id())?))
    };
    let before = cpu()?;
    let (got, secs, _) = phase(&mut sender, &mut rx, flavor, room_for_frames, n_max, None).await?;
    let after = cpu()?;
    let per = |a: u64, b: u64| (b.saturating_sub(a)) as f64 / 1e3 / got.max(1) as f64;
    let (server_us_per_msg, client_us_per_msg) = (per(before.0, after.0), per(before.1, after.1));
    let max_rate = got as f64 / secs.max(1e-9);
    let lost_max = n_max * receivers as u64 - got;
    let (got2, _, lat) = phase(&mut sender, &mut rx, flavor, room_for_frames, n_paced, Some(per_sec)).await?;
    let lost = lost_max + (n_paced * receivers as u64 - got2);
    // Presence and acks are a handful; anything more (errors) means the row is wrong.
    let back = sender.received.load(Ordering::Relaxed);
    if back > 2 * receivers as u64 + 10 {
        anyhow::bail!("the server sent the sender {back} frames (errors?)");
    }
    // Leave cleanly, so the next row starts from an idle server.
    let _ = sender.sink.close().await;
    for mut c in rx {
        let _ = c.ws.close(None).await;
    }
    Ok(RelayResult {
        max_rate,
        server_us_per_msg,
        client_us_per_msg,
        lost,
        offered: per_sec,
        latency: Samples::new(lat),
    })
}

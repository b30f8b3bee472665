//! Rows: recovery, with a steady peer-to-peer stream running (one sequence-numbered
//! message per millisecond on a reliable ordered channel, as a chat or game would send):
//! * the signalling server (the release binary) is killed with SIGKILL mid-stream and
//!   restarted after an outage: messages lost on the P2P path, the longest pause in the
//!   stream, and how long after the restart signalling is back (resumed or not);
//! * a forced ICE restart: time until the peer is `connected` again, the longest pause
//!   in the stream meanwhile, and messages lost;
//! * a rebuilt connection (new peer connection): time until `connected` again.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use peerchat_peer::{
    ChannelInit, DataChannel, Message, Messages, PeerEvent, PeerEvents, PeerState, RemotePeer, SignallingState,
    StateChanges,
};

use crate::engine::{self, Pair, STALL};
use crate::stats::Samples;

const KEY: &str = "pk_bench_recovery";
/// The stream's pace: one message per tick.
const TICK: Duration = Duration::from_millis(1);

pub struct Sizes {
    /// How long the server stays dead.
    pub outage: Duration,
    /// ICE restarts and rebuilds measured.
    pub trials: usize,
}

pub struct ServerKill {
    pub outage: Duration,
    pub sent: u64,
    pub received: u64,
    pub longest_pause: Duration,
    /// From the restart until both peers' signalling is connected again.
    pub back_after: Option<Duration>,
    pub resumed: bool,
}

pub struct Restarts {
    pub connected_again: Samples,
    pub longest_pause: Duration,
    pub sent: u64,
    pub received: u64,
}

pub struct Results {
    pub kill: ServerKill,
    pub ice: Restarts,
    pub rebuild: Samples,
}

/// A stream from one channel to another: the sender ticks, the receiver checks the
/// sequence and records the longest time between two arrivals.
struct Stream {
    sent: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    pause_us: Arc<AtomicU64>,
    sender: tokio::task::JoinHandle<()>,
    receiver: tokio::task::JoinHandle<()>,
}

impl Stream {
    fn start(out: DataChannel, mut inc: Messages) -> Stream {
        let (sent, received, pause_us) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let s = sent.clone();
        let sender = tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut seq = 0u64;
            loop {
                tick.tick().await;
                let mut m = seq.to_be_bytes().to_vec();
                m.resize(64, 0);
                if out.send(Message::Binary(m)).await.is_err() {
                    return;
                }
                seq += 1;
                s.store(seq, Ordering::Relaxed);
            }
        });
        let (r, p) = (received.clone(), pause_us.clone());
        let receiver = tokio::spawn(async move {
            let mut last: Option<Instant> = None;
            while let Some(m) = inc.recv().await {
                let now = Instant::now();
                let expected = r.load(Ordering::Relaxed);
                let seq = match &m {
                    Message::Binary(b) => b.get(..8).and_then(|b| b.try_into().ok()).map(u64::from_be_bytes),
                    _ => None,
                };
                if seq != Some(expected) {
                    eprintln!("recovery bench: expected message {expected}, got {seq:?}");
                    return;
                }
                r.store(expected + 1, Ordering::Relaxed);
                if let Some(l) = last {
                    p.fetch_max(now.duration_since(l).as_micros() as u64, Ordering::Relaxed);
                }
                last = Some(now);
            }
        });
        Stream { sent, received, pause_us, sender, receiver }
    }

    fn reset_pause(&self) {
        self.pause_us.store(0, Ordering::Relaxed);
    }

    fn pause(&self) -> Duration {
        Duration::from_micros(self.pause_us.load(Ordering::Relaxed))
    }

    /// Stops sending and waits (bounded) for what is in flight: (sent, received).
    async fn stop(self) -> (u64, u64) {
        self.sender.abort();
        let sent = self.sent.load(Ordering::Relaxed);
        let deadline = Instant::now() + STALL;
        while self.received.load(Ordering::Relaxed) < sent && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.receiver.abort();
        (sent, self.received.load(Ordering::Relaxed))
    }
}

/// Two peers, connected, with a stream from a to b.
async fn streaming_pair(url: &str, room: &str) -> anyhow::Result<(Pair, Stream)> {
    let (mut p, _) = engine::pair_at(url, KEY, room).await?;
    let (out, inc) = engine::channel(&p.ra.peer, &mut p.rb, ChannelInit::reliable()).await?;
    Ok((p, Stream::start(out, inc)))
}

/// Waits until `p`'s signalling reports `connected`; whether it was a resume.
async fn signalling_back(p: &mut PeerEvents) -> anyhow::Result<bool> {
    let mut resumed = false;
    tokio::time::timeout(STALL * 3, async {
        loop {
            match p.next().await {
                Some(PeerEvent::Welcome { resumed: r, .. }) => resumed = r,
                Some(PeerEvent::Signalling(SignallingState::Connected)) => return Ok(resumed),
                Some(_) => continue,
                None => anyhow::bail!("peer closed"),
            }
        }
    })
    .await?
}

async fn server_kill(server: &Path, outage: Duration) -> anyhow::Result<ServerKill> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let cfg = std::env::temp_dir().join(format!("peerchat-bench-recovery-{}.toml", std::process::id()));
    std::fs::write(
        &cfg,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nsecret = \"bench-recovery-secret-0123456789\"\n\n[[keys]]\nkey = \"{KEY}\"\n"
        ),
    )?;
    let target = crate::idle::Target::Ours(server);
    let (mut child, base) = crate::idle::spawn(&target, Some(&cfg))?;
    let url = format!("{base}?key={KEY}");
    let (Pair { a, mut a_events, b, mut b_events, .. }, stream) = streaming_pair(&url, "kill").await?;
    // Drain what the join produced, so the next signalling events are the outage's.
    while tokio::time::timeout(Duration::from_millis(50), a_events.next()).await.is_ok() {}
    while tokio::time::timeout(Duration::from_millis(50), b_events.next()).await.is_ok() {}
    tokio::time::sleep(Duration::from_millis(500)).await;
    stream.reset_pause();
    let _ = child.kill();
    let _ = child.wait();
    tokio::time::sleep(outage).await;
    let (mut child, _) = crate::idle::spawn(&target, Some(&cfg))?;
    let restarted = Instant::now();
    let back = tokio::join!(signalling_back(&mut a_events), signalling_back(&mut b_events));
    let back_after = restarted.elapsed();
    // Keep streaming a moment on the recovered signalling, then count.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let longest_pause = stream.pause();
    let (sent, received) = stream.stop().await;
    a.close().await;
    b.close().await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&cfg);
    let (ok, resumed) = match back {
        (Ok(x), Ok(y)) => (true, x && y),
        _ => (false, false),
    };
    Ok(ServerKill { outage, sent, received, longest_pause, back_after: ok.then_some(back_after), resumed })
}

/// Waits for the peer behind `changes` (subscribed before the action) to leave
/// `connected` and come back; the time since `since`.
async fn connected_again(mut changes: StateChanges, since: Instant) -> anyhow::Result<Duration> {
    tokio::time::timeout(STALL, async {
        let mut left = false;
        loop {
            match changes.next().await {
                Some(c) if c.to != PeerState::Connected => left = true,
                Some(_) if left => return Ok(since.elapsed()),
                Some(_) => {}
                None => anyhow::bail!("remote peer gone"),
            }
        }
    })
    .await?
}

/// Forces a repair of `r`'s connection `trials` times (an ICE restart, or a rebuild)
/// and times each until it is `connected` again.
async fn repairs(r: &RemotePeer, trials: usize, rebuild: bool) -> anyhow::Result<Samples> {
    let mut took = Vec::new();
    for _ in 0..trials {
        let t0 = Instant::now();
        let changes = r.state_changes();
        if rebuild {
            r.rebuild().await;
        } else {
            r.restart_ice().await;
        }
        took.push(connected_again(changes, t0).await?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Samples::new(took))
}

pub async fn run(server: &Path, sizes: &Sizes) -> anyhow::Result<Results> {
    let kill = server_kill(server, sizes.outage).await?;

    let s = signal_server::Server::spawn(signal_server::Config::for_keys(&[KEY])).await?;
    let url = s.url();
    let (p, stream) = streaming_pair(&url, "ice").await?;
    // The impolite side sends the restart offer (see `RemotePeer::restart_ice`).
    let impolite = if p.ra.peer.polite() { &p.rb.peer } else { &p.ra.peer };
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.reset_pause();
    let ice = repairs(impolite, sizes.trials, false).await?;
    let longest_pause = stream.pause();
    let (sent, received) = stream.stop().await;

    let (p, _) = engine::pair_at(&url, KEY, "rebuild").await?;
    let rebuild = repairs(&p.ra.peer, sizes.trials, true).await?;
    Ok(Results { kill, ice: Restarts { connected_again: ice, longest_pause, sent, received }, rebuild })
}

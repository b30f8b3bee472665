//! Rows: the SDK's DataChannels peer to peer on loopback, in one process with a real
//! signalling server: setup time, ping round trip, bulk throughput paced by the SDK's
//! DataChannel wrapper, and 200,000 one-byte messages. A row that stops making progress
//! for `STALL` is reported as a stall.

use std::time::{Duration, Instant};

use peerchat_peer::{
    ChannelInit, DataChannel, DataChannelOptions, IncomingChannels, Message, Messages, Peer, PeerEvent, PeerEvents,
    PeerOptions, PeerState, PublishableKey, RemotePeer,
};
use signal_server::{Config, Server, ServerHandle};

use crate::stats::Samples;

const KEY: &str = "pk_bench_engine";
/// No progress for this long is a stall.
pub const STALL: Duration = Duration::from_secs(10);

pub struct Sizes {
    pub setup_trials: usize,
    pub pings: usize,
    pub bulk_bytes: usize,
    pub small_messages: usize,
}

/// The SCTP receive window of the bench's peers: the SDK's default, or
/// `BENCH_SCTP_WINDOW_KIB` (e.g. 4096 for the `stranded` row with a 4 MiB window).
pub(crate) fn sctp_window() -> u32 {
    let default = peerchat_peer::EngineSettings::default().sctp_receive_buffer;
    std::env::var("BENCH_SCTP_WINDOW_KIB").ok().and_then(|v| v.parse::<u32>().ok()).map_or(default, |k| k * 1024)
}

async fn peer(url: &str, key: &str, room: &str, name: &str) -> anyhow::Result<(Peer, PeerEvents)> {
    let mut o = PeerOptions::new(url, PublishableKey::new(key));
    o.engine.udp_addrs = vec!["127.0.0.1:0".into()];
    o.engine.sctp_receive_buffer = sctp_window();
    let (p, events) = Peer::new(o);
    p.join(room, name).await?;
    Ok((p, events))
}

/// A remote peer and the channels it opens to us.
pub(crate) struct Remote {
    pub peer: RemotePeer,
    pub channels: IncomingChannels,
}

pub(crate) async fn next_joined(events: &mut PeerEvents) -> anyhow::Result<Remote> {
    tokio::time::timeout(STALL, async {
        loop {
            match events.next().await {
                Some(PeerEvent::PeerJoined(peer, channels)) => return Ok(Remote { peer, channels }),
                Some(_) => continue,
                None => anyhow::bail!("peer closed"),
            }
        }
    })
    .await?
}

/// Two connected peers and each one's handle on the other.
pub(crate) struct Pair {
    pub a: Peer,
    pub a_events: PeerEvents,
    pub b: Peer,
    pub b_events: PeerEvents,
    /// b as seen by a.
    pub ra: Remote,
    /// a as seen by b.
    pub rb: Remote,
}

async fn pair(s: &ServerHandle, room: &str) -> anyhow::Result<(Pair, Duration)> {
    pair_at(&s.url(), KEY, room).await
}

/// A pair in `room` of the server at `url`, and the time from b's join to both sides
/// `connected`.
pub(crate) async fn pair_at(url: &str, key: &str, room: &str) -> anyhow::Result<(Pair, Duration)> {
    let (a, mut a_events) = peer(url, key, room, "a").await?;
    let t0 = Instant::now();
    let (b, mut b_events) = peer(url, key, room, "b").await?;
    let ra = next_joined(&mut a_events).await?;
    let rb = next_joined(&mut b_events).await?;
    tokio::time::timeout(STALL, async {
        ra.peer.wait_for(PeerState::Connected).await;
        rb.peer.wait_for(PeerState::Connected).await;
    })
    .await?;
    Ok((Pair { a, a_events, b, b_events, ra, rb }, t0.elapsed()))
}

/// A channel opened on `from`, and the messages that arrive where it lands (`to`, the
/// other side's view of us).
pub(crate) async fn channel(
    from: &RemotePeer,
    to: &mut Remote,
    init: ChannelInit,
) -> anyhow::Result<(DataChannel, Messages)> {
    let kib: usize = std::env::var("BENCH_MAX_BUFFERED_KIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let opts = DataChannelOptions {
        max_buffered_amount: kib * 1024,
        buffered_amount_low_threshold: kib * 512,
        ..DataChannelOptions::default()
    };
    let (out, _) = from.open_channel("bench", init, opts).await?;
    let (_, inc) =
        tokio::time::timeout(STALL, to.channels.next()).await?.ok_or_else(|| anyhow::anyhow!("no channel"))?;
    out.opened().await?;
    Ok((out, inc))
}

/// One bulk row: bytes moved in `secs`, or a stall.
pub struct BulkResult {
    pub size: usize,
    /// Bytes meant to be moved.
    pub total: usize,
    pub bytes: usize,
    pub secs: f64,
    pub stalled: bool,
}

/// The small-message row.
pub struct SmallResult {
    pub sent: usize,
    pub delivered: usize,
    pub secs: f64,
    pub stalled: bool,
}

/// Everything the engine rows measured.
pub struct Results {
    pub setup: Samples,
    pub ping: Samples,
    pub ping_lost: usize,
    pub bulk: Vec<BulkResult>,
    pub small: SmallResult,
}

pub async fn run(sizes: &Sizes) -> anyhow::Result<Results> {
    let s = Server::spawn(Config::for_keys(&[KEY])).await?;

    // Setup: join of the second peer -> both sides connected (control channel open).
    let mut setups = Vec::new();
    for i in 0..sizes.setup_trials {
        let (_p, took) = pair(&s, &format!("setup-{i}")).await?;
        setups.push(took);
    }

    let (mut p, _) = pair(&s, "traffic").await?;
    // Ping: 64 B on the unordered, no-retransmit channel, echoed by the other side.
    let (a_out, mut b_in) = channel(&p.ra.peer, &mut p.rb, ChannelInit::unreliable()).await?;
    let (b_out, mut a_in) = channel(&p.rb.peer, &mut p.ra, ChannelInit::unreliable()).await?;
    let echo = tokio::spawn(async move {
        while let Some(m) = b_in.recv().await {
            if b_out.send(m).await.is_err() {
                break;
            }
        }
    });
    let payload = vec![7u8; 64];
    let mut rtts = Vec::new();
    let mut ping_lost = 0;
    for i in 0..sizes.pings + WARMUP_PINGS {
        let t = Instant::now();
        a_out.send(payload.clone()).await?;
        match tokio::time::timeout(Duration::from_secs(1), a_in.recv()).await {
            Ok(Some(_)) if i >= WARMUP_PINGS => rtts.push(t.elapsed()),
            Ok(Some(_)) => {}
            _ => ping_lost += 1,
        }
    }
    echo.abort();

    let mut bulks = Vec::new();
    for size in [1024usize, 16 * 1024, 64 * 1024] {
        let (mut p, _) = pair(&s, &format!("bulk-{size}")).await?;
        let (out, inc) = channel(&p.ra.peer, &mut p.rb, ChannelInit::reliable()).await?;
        bulks.push(bulk(out, inc, size, sizes.bulk_bytes).await);
    }

    let (mut p, _) = pair(&s, "small").await?;
    let (out, inc) = channel(&p.ra.peer, &mut p.rb, ChannelInit::reliable()).await?;
    let small = small(out, inc, sizes.small_messages).await?;
    Ok(Results { setup: Samples::new(setups), ping: Samples::new(rtts), ping_lost, bulk: bulks, small })
}

/// Round trips before the measured ones (the reference warms up the same way).
const WARMUP_PINGS: usize = 20;

/// Receives until `total` bytes arrived or no progress for `STALL`.
async fn drain(mut inc: Messages, total: usize) -> (usize, usize, Instant) {
    let (mut bytes, mut count) = (0usize, 0usize);
    let mut last = Instant::now();
    while bytes < total {
        match tokio::time::timeout(STALL, inc.recv()).await {
            Ok(Some(m)) => {
                bytes += m.len();
                count += 1;
                last = Instant::now();
            }
            _ => break,
        }
    }
    (bytes, count, last)
}

async fn bulk(out: DataChannel, inc: Messages, size: usize, total: usize) -> BulkResult {
    let n = total / size;
    let start = Instant::now();
    let rx = tokio::spawn(drain(inc, n * size));
    let tx = tokio::spawn(async move {
        let chunk = vec![0xabu8; size];
        for _ in 0..n {
            if tokio::time::timeout(STALL, out.send(Message::Binary(chunk.clone()))).await.is_err() {
                return false;
            }
        }
        true
    });
    let sent_ok = tx.await.unwrap_or(false);
    let (bytes, _, last) = rx.await.unwrap_or((0, 0, start));
    let stalled = bytes < n * size || !sent_ok;
    BulkResult { size, total: n * size, bytes, secs: last.duration_since(start).as_secs_f64(), stalled }
}

/// One bulk row alone (`size`-byte messages, `total` bytes) on a fresh pair: MB/s.
pub(crate) async fn bulk_mbps(size: usize, total: usize) -> anyhow::Result<f64> {
    let s = Server::spawn(Config::for_keys(&[KEY])).await?;
    let (mut p, _) = pair(&s, "bulk-alone").await?;
    let (out, inc) = channel(&p.ra.peer, &mut p.rb, ChannelInit::reliable()).await?;
    let b = bulk(out, inc, size, total).await;
    anyhow::ensure!(!b.stalled, "the {size} B bulk stalled");
    Ok(b.bytes as f64 / 1e6 / b.secs)
}

async fn small(out: DataChannel, inc: Messages, n: usize) -> anyhow::Result<SmallResult> {
    let r = crate::stranded::stream(out, inc, n, 1).await?;
    Ok(SmallResult { sent: n, delivered: r.delivered, secs: r.secs, stalled: r.delivered < n })
}

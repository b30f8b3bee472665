//! Row: the small-message row repeated on fresh connections, to measure how often
//! webrtc 0.21.1 strands messages. In some runs the receiving application stops short
//! although every send completed (the sender's SCTP had the messages acknowledged, or
//! the wrapper's in-flight cap would have held the sends back) and the connection is
//! healthy: a channel opened afterwards still carries a round trip. The messages stay in
//! the engine's receive path. In the runs that complete, the time tells how long the last
//! messages waited there.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use peerchat_peer::{ChannelInit, DataChannel, Message, Messages};
use signal_server::{Config, Server};

use crate::engine::{channel, pair_at, Remote, STALL};
use crate::stats::Samples;

const KEY: &str = "pk_bench_stranded";

/// A run that stopped short.
pub struct Stranded {
    pub delivered: usize,
    /// The most messages sent and not yet received at any moment of the run.
    pub peak_unread: usize,
    /// Sends that had completed when the receiver gave up.
    pub sent: usize,
    /// Whether a new channel on the same connection still carried a round trip.
    pub connection_alive: bool,
}

pub struct Trials {
    pub messages: usize,
    pub size: usize,
    pub runs: usize,
    pub complete: Samples,
    /// The highest `peak_unread` among the complete runs.
    pub complete_peak_unread: usize,
    pub stranded: Vec<Stranded>,
}

/// One stream of `messages` messages of `size` bytes, sent as fast as the wrapper allows
/// and counted by the receiver until all arrived or nothing arrived for [`STALL`].
pub struct Stream {
    pub delivered: usize,
    /// Sends that had completed by the end.
    pub sent: usize,
    /// The most messages sent and not yet received at any moment.
    pub peak_unread: usize,
    /// From the first send to the last delivery.
    pub secs: f64,
}

/// Runs one [`Stream`]. A send that fails is an error of the run, not a stall.
pub async fn stream(out: DataChannel, mut inc: Messages, messages: usize, size: usize) -> anyhow::Result<Stream> {
    let sent = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let sender = {
        let sent = sent.clone();
        tokio::spawn(async move {
            for _ in 0..messages {
                out.send(Message::Binary(vec![1u8; size])).await?;
                sent.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        })
    };
    let (mut delivered, mut peak_unread, mut last) = (0, 0, start);
    while delivered < messages {
        match tokio::time::timeout(STALL, inc.recv()).await {
            Ok(Some(_)) => (delivered, last) = (delivered + 1, Instant::now()),
            _ => break,
        }
        peak_unread = peak_unread.max(sent.load(Ordering::Relaxed).saturating_sub(delivered));
    }
    if sender.is_finished() {
        sender.await??;
    } else {
        sender.abort();
    }
    let sent = sent.load(Ordering::Relaxed);
    peak_unread = peak_unread.max(sent.saturating_sub(delivered));
    Ok(Stream { delivered, sent, peak_unread, secs: last.duration_since(start).as_secs_f64() })
}

pub async fn run(runs: usize, messages: usize, size: usize) -> anyhow::Result<Trials> {
    let s = Server::spawn(Config::for_keys(&[KEY])).await?;
    let mut complete = Vec::new();
    let mut stranded = Vec::new();
    let mut complete_peak_unread = 0;
    for i in 0..runs {
        let (mut p, _) = pair_at(&s.url(), KEY, &format!("stranded-{i}")).await?;
        let (out, inc) = channel(&p.ra.peer, &mut p.rb, ChannelInit::reliable()).await?;
        let r = stream(out, inc, messages, size).await?;
        if r.delivered == messages {
            complete.push(Duration::from_secs_f64(r.secs));
            complete_peak_unread = complete_peak_unread.max(r.peak_unread);
        } else {
            let connection_alive = probe(&p.ra.peer, &mut p.rb).await;
            stranded.push(Stranded {
                delivered: r.delivered,
                peak_unread: r.peak_unread,
                sent: r.sent,
                connection_alive,
            });
        }
        p.a.close().await;
        p.b.close().await;
    }
    s.shutdown();
    s.stopped().await;
    Ok(Trials { messages, size, runs, complete: Samples::new(complete), complete_peak_unread, stranded })
}

/// A round trip on a new reliable channel of the same connection.
async fn probe(from: &peerchat_peer::RemotePeer, to: &mut Remote) -> bool {
    let Ok(Ok((out, mut inc))) =
        tokio::time::timeout(Duration::from_secs(5), channel(from, to, ChannelInit::reliable())).await
    else {
        return false;
    };
    out.send(Message::Binary(vec![9u8])).await.is_ok()
        && matches!(tokio::time::timeout(Duration::from_secs(5), inc.recv()).await, Ok(Some(_)))
}

/// The table row.
pub fn row(t: &Trials) -> String {
    let stranded = if t.stranded.is_empty() {
        "none stranded".to_string()
    } else {
        let each: Vec<String> = t
            .stranded
            .iter()
            .map(|s| {
                format!(
                    "{} of {} sent, peak unread {}{}",
                    s.delivered,
                    s.sent,
                    s.peak_unread,
                    if s.connection_alive { "" } else { ", connection dead" }
                )
            })
            .collect();
        format!("{} stranded ({}; messages received of sends completed)", t.stranded.len(), each.join("; "))
    };
    format!(
        "| {} messages of {} B on each of {} fresh connections, SCTP window {} KiB: complete runs · stranded runs (no progress for {} s) · time of the complete runs p50 / p90 / max · their peak unread (sent, not yet received) | {} of {} complete · {stranded} · {:.2} / {:.2} / {:.2} s · {} | – | – | – | – |",
        t.messages,
        t.size,
        t.runs,
        crate::engine::sctp_window() / 1024,
        STALL.as_secs(),
        t.complete.len(),
        t.runs,
        t.complete.pct(50.0).as_secs_f64(),
        t.complete.pct(90.0).as_secs_f64(),
        t.complete.pct(100.0).as_secs_f64(),
        t.complete_peak_unread,
    )
}

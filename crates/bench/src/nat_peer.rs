//! `peerchat-bench nat-peer`: one side of the NAT rows, run by `nat.rs` inside a host
//! namespace of the lab (so each peer sits behind its own NAT router).
//!
//! * `--role echo` joins and stays: every `ping` channel echoes what it reads; every
//!   `bulk` channel counts the bytes announced by its first (text) message and answers
//!   `done` once they all arrived.
//! * `--role measure` joins `--trials` times (the setup time: from before the join to
//!   `connected`, signalling included), then on the last connection measures `--pings`
//!   round trips and moves `--bulk-bytes` in 16 KiB messages, and prints one JSON line.

use std::time::Instant;

use peerchat_peer::{
    ChannelInit, DataChannel, DataChannelOptions, Message, Messages, Peer, PeerEvent, PeerEvents, PeerOptions,
    PeerState, PublishableKey, RemotePeer,
};
use serde_json::json;

use crate::engine::STALL;

const ROOM: &str = "nat-bench";
const CHUNK: usize = 16 * 1024;

/// Arguments after `nat-peer`.
#[derive(clap::Parser)]
pub struct NatPeerArgs {
    #[arg(long)]
    role: String,
    #[arg(long)]
    url: String,
    #[arg(long)]
    key: String,
    #[arg(long, default_value_t = 5)]
    trials: usize,
    #[arg(long, default_value_t = 200)]
    pings: usize,
    #[arg(long, default_value_t = 32 << 20)]
    bulk_bytes: usize,
}

fn options(a: &NatPeerArgs) -> PeerOptions {
    let mut o = PeerOptions::new(a.url.clone(), PublishableKey::new(a.key.clone()));
    // The lab has no certificates; its signalling is plain ws:// on the public side.
    o.tls.allow_plaintext = true;
    o
}

pub async fn run(a: NatPeerArgs) -> anyhow::Result<()> {
    match a.role.as_str() {
        "echo" => echo(&a).await,
        "measure" => measure(&a).await,
        other => anyhow::bail!("unknown role {other}"),
    }
}

async fn echo(a: &NatPeerArgs) -> anyhow::Result<()> {
    let (p, mut events) = Peer::new(options(a));
    p.join(ROOM, "echo").await?;
    println!("{}", json!({"ready": true}));
    while let Some(ev) = events.next().await {
        if let PeerEvent::PeerJoined(_, mut channels) = ev {
            tokio::spawn(async move {
                while let Some((dc, messages)) = channels.next().await {
                    tokio::spawn(serve(dc, messages));
                }
            });
        }
    }
    Ok(())
}

async fn serve(dc: DataChannel, mut messages: Messages) {
    if dc.label() == "ping" {
        while let Some(m) = messages.recv().await {
            if dc.send(m).await.is_err() {
                return;
            }
        }
        return;
    }
    let Some(Message::Text(t)) = messages.recv().await else { return };
    let Ok(total) = t.parse::<usize>() else { return };
    let mut got = 0;
    while got < total {
        match messages.recv().await {
            Some(m) => got += m.len(),
            None => return,
        }
    }
    let _ = dc.send("done").await;
    dc.closed().await;
}

async fn connected(events: &mut PeerEvents) -> anyhow::Result<RemotePeer> {
    tokio::time::timeout(STALL * 3, async {
        loop {
            match events.next().await {
                Some(PeerEvent::PeerJoined(r, _)) if r.name() == "echo" => {
                    anyhow::ensure!(r.wait_for(PeerState::Connected).await, "the echo peer left");
                    return Ok(r);
                }
                Some(_) => continue,
                None => anyhow::bail!("peer closed"),
            }
        }
    })
    .await?
}

/// Opens a channel and waits for it; the echo peer answers on it.
async fn open(r: &RemotePeer, label: &str) -> anyhow::Result<(DataChannel, Messages)> {
    let opts = DataChannelOptions {
        max_buffered_amount: 1 << 20,
        buffered_amount_low_threshold: 1 << 19,
        ..DataChannelOptions::default()
    };
    let (dc, messages) = r.open_channel(label, ChannelInit::reliable(), opts).await?;
    tokio::time::timeout(STALL, dc.opened()).await??;
    Ok((dc, messages))
}

async fn measure(a: &NatPeerArgs) -> anyhow::Result<()> {
    let mut setups = Vec::new();
    let mut last: Option<(Peer, RemotePeer)> = None;
    for i in 0..a.trials.max(1) {
        // Each trial is a fresh join: the previous one leaves first.
        if let Some((old, _)) = last.take() {
            old.close().await;
        }
        let t0 = Instant::now();
        let (p, mut events) = Peer::new(options(a));
        p.join(ROOM, &format!("measure-{i}")).await?;
        let r = connected(&mut events).await?;
        setups.push(t0.elapsed().as_secs_f64() * 1e3);
        last = Some((p, r));
    }
    let (p, r) = last.ok_or_else(|| anyhow::anyhow!("no trial ran"))?;

    let (ping, mut pongs) = open(&r, "ping").await?;
    let mut rtts = Vec::new();
    for n in 0..a.pings + 10 {
        let t = Instant::now();
        ping.send(n.to_string()).await?;
        tokio::time::timeout(STALL, pongs.recv()).await?.ok_or_else(|| anyhow::anyhow!("ping channel closed"))?;
        if n >= 10 {
            rtts.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }

    let (bulk, mut confirmations) = open(&r, "bulk").await?;
    let total = a.bulk_bytes / CHUNK * CHUNK;
    let start = Instant::now();
    bulk.send(total.to_string()).await?;
    let chunk = vec![0x5au8; CHUNK];
    for _ in 0..total / CHUNK {
        tokio::time::timeout(STALL, bulk.send(Message::Binary(chunk.clone()))).await??;
    }
    let done = tokio::time::timeout(STALL * 3, confirmations.recv()).await?;
    anyhow::ensure!(done == Some(Message::Text("done".into())), "bulk not confirmed: {done:?}");
    let secs = start.elapsed().as_secs_f64();
    // Read last: the path is known once the connection has carried traffic.
    let mut updates = r.path_updates();
    let mut path = r.path();
    while path.is_none() {
        path =
            tokio::time::timeout(STALL, updates.next()).await?.ok_or_else(|| anyhow::anyhow!("the echo peer left"))?;
    }
    let route = path.map(|p| p.route().describe()).unwrap_or("unknown");
    println!(
        "{}",
        json!({"route": route, "setup_ms": setups, "ping_us": rtts, "bulk_bytes": total, "bulk_secs": secs})
    );
    p.close().await;
    Ok(())
}

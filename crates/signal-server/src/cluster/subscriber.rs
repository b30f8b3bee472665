//! Listens on the bus: the events channel every instance hears and this instance's own
//! inbox. Each time it (re)connects it subscribes first, then loads a snapshot of every
//! peer, so nothing published in between is missed (records carry versions; the hub
//! keeps the newest). When the subscription drops it tells the hub and tries again.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::StreamExt;

use super::wire::{Envelope, PeerRecord};
use super::{pause, ClusterIn, Ctx};

/// Peers read per round trip when loading a snapshot.
const CHUNK: usize = 512;

/// How often the bus connection is asked to answer a ping, and how long it has to: a
/// connection that went silent without closing (a firewall or NAT forgot it) would
/// otherwise leave this instance deaf to the others for good.
const BUS_CHECK: Duration = Duration::from_secs(5);
const BUS_ANSWER: Duration = Duration::from_secs(3);

pub(super) async fn run(ctx: Ctx) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let outcome = listen(&ctx).await;
        if ctx.metrics.up.load(Ordering::Relaxed) {
            // It was in sync before this outage: retry quickly again.
            backoff = Duration::from_millis(100);
        }
        match outcome {
            Ok(()) => return,
            Err(reason) => {
                ctx.metrics.up.store(false, Ordering::Relaxed);
                tracing::warn!(%reason, retry_in = ?backoff, "cluster: lost the bus");
                if !ctx.tell(ClusterIn::Down(reason)).await || !pause(&ctx.shutdown, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(super::RETRY_MAX);
            }
        }
    }
}

/// Subscribes, syncs and forwards until shutdown (`Ok`) or until the bus drops (`Err`).
async fn listen(ctx: &Ctx) -> Result<(), String> {
    let mut pubsub = ctx.client.get_async_pubsub().await.map_err(|e| e.to_string())?;
    pubsub.subscribe(ctx.keys.events()).await.map_err(|e| e.to_string())?;
    pubsub.subscribe(ctx.keys.inbox(&ctx.instance)).await.map_err(|e| e.to_string())?;
    let (records, dead) = snapshot(ctx).await?;
    tracing::info!(peers = records.len(), dead_instances = dead.len(), "cluster: in sync with Redis");
    ctx.metrics.up.store(true, Ordering::Relaxed);
    if !ctx.tell(ClusterIn::Synced { records, dead }).await {
        return Ok(());
    }
    let (mut sink, mut messages) = pubsub.split();
    let mut check = tokio::time::interval_at(tokio::time::Instant::now() + BUS_CHECK, BUS_CHECK);
    loop {
        let msg = tokio::select! {
            _ = ctx.shutdown.cancelled() => return Ok(()),
            m = messages.next() => m.ok_or_else(|| "the subscription closed".to_string())?,
            _ = check.tick() => {
                // Messages that arrive meanwhile wait in the client's buffer.
                match tokio::time::timeout(BUS_ANSWER, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => continue,
                    Ok(Err(e)) => return Err(format!("the bus connection failed a ping: {e}")),
                    Err(_) => return Err(format!("the bus connection did not answer a ping in {BUS_ANSWER:?}")),
                }
            }
        };
        let Ok(text) = msg.get_payload::<String>() else { continue };
        match serde_json::from_str::<Envelope>(&text) {
            Ok(env) => {
                ctx.metrics.bus_in.fetch_add(1, Ordering::Relaxed);
                if !ctx.tell(ClusterIn::Bus(env)).await {
                    return Ok(());
                }
            }
            Err(e) => tracing::warn!(error = %e, "cluster: unreadable bus message ignored"),
        }
    }
}

/// Every peer record in Redis, and the instances whose heartbeat has lapsed.
async fn snapshot(ctx: &Ctx) -> Result<(Vec<PeerRecord>, Vec<String>), String> {
    let mut con = ctx.connect().await.ok_or("no connection to Redis")?;
    let err = |e: redis::RedisError| e.to_string();
    let pids: Vec<String> = redis::cmd("SMEMBERS").arg(ctx.keys.peers()).query_async(&mut con).await.map_err(err)?;
    let mut records = Vec::with_capacity(pids.len());
    for chunk in pids.chunks(CHUNK) {
        let mut pipe = redis::pipe();
        for pid in chunk {
            pipe.hget(ctx.keys.peer(pid), "rec");
        }
        let texts: Vec<Option<String>> = pipe.query_async(&mut con).await.map_err(err)?;
        records.extend(texts.into_iter().flatten().filter_map(|t| serde_json::from_str::<PeerRecord>(&t).ok()));
    }
    let instances: Vec<String> =
        redis::cmd("SMEMBERS").arg(ctx.keys.instances()).query_async(&mut con).await.map_err(err)?;
    let mut pipe = redis::pipe();
    for iid in &instances {
        pipe.exists(ctx.keys.alive(iid));
    }
    let alive: Vec<bool> = pipe.query_async(&mut con).await.map_err(err)?;
    let dead = instances.into_iter().zip(alive).filter(|(_, a)| !a).map(|(i, _)| i).collect();
    Ok((records, dead))
}

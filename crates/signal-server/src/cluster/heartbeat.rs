//! Keeps this instance alive in Redis (a key that expires unless renewed), notices the
//! instances whose key expired, and measures Redis's round trip for `GET /metrics`.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::{pause, ClusterConfig, ClusterIn, Ctx};

pub(super) async fn run(ctx: Ctx, cfg: Arc<ClusterConfig>) {
    let mut con = None;
    let mut before: (Vec<String>, Vec<String>) = Default::default();
    let mut was_up = true;
    loop {
        if con.is_none() {
            con = ctx.connect().await;
        }
        if let Some(c) = con.as_mut() {
            match beat(&ctx, &cfg, c).await {
                Ok((mut alive, mut dead)) => {
                    was_up = true;
                    alive.sort();
                    dead.sort();
                    if (&alive, &dead) != (&before.0, &before.1) {
                        before = (alive.clone(), dead.clone());
                        if !ctx.tell(ClusterIn::Instances { alive, dead }).await {
                            break;
                        }
                    }
                }
                Err(reason) => {
                    con = None;
                    // Logged once per outage; the subscriber tells the hub.
                    if was_up {
                        was_up = false;
                        tracing::warn!(%reason, "cluster: heartbeat failed");
                    }
                }
            }
        }
        if !pause(&ctx.shutdown, cfg.heartbeat).await {
            break;
        }
    }
    retire(&ctx).await;
}

/// Renews this instance's key and returns the instances alive and those whose key is gone.
async fn beat(
    ctx: &Ctx,
    cfg: &ClusterConfig,
    con: &mut redis::aio::ConnectionManager,
) -> Result<(Vec<String>, Vec<String>), String> {
    let err = |e: redis::RedisError| e.to_string();
    let t = Instant::now();
    let ttl = cfg.instance_ttl.as_millis() as u64;
    let (_, _, instances): ((), (), Vec<String>) = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg(ctx.keys.alive(&ctx.instance))
        .arg(1)
        .arg("PX")
        .arg(ttl)
        .sadd(ctx.keys.instances(), &ctx.instance)
        .smembers(ctx.keys.instances())
        .query_async(con)
        .await
        .map_err(err)?;
    ctx.metrics.rtt_micros.store(t.elapsed().as_micros() as u64, Ordering::Relaxed);
    let mut pipe = redis::pipe();
    for iid in &instances {
        pipe.exists(ctx.keys.alive(iid));
    }
    let alive: Vec<bool> = pipe.query_async(con).await.map_err(err)?;
    let (up, down): (Vec<_>, Vec<_>) = instances.into_iter().zip(alive).partition(|(_, a)| *a);
    Ok((up.into_iter().map(|(i, _)| i).collect(), down.into_iter().map(|(i, _)| i).collect()))
}

/// At shutdown: this instance is no longer alive, so the others act at once instead of
/// waiting for the key to expire.
async fn retire(ctx: &Ctx) {
    let Ok(Ok(mut con)) =
        tokio::time::timeout(std::time::Duration::from_secs(1), ctx.client.get_multiplexed_async_connection()).await
    else {
        return;
    };
    let mut del = redis::cmd("DEL");
    del.arg(ctx.keys.alive(&ctx.instance));
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), del.query_async::<()>(&mut con)).await;
}

//! Executes the hub's effects on one Redis connection, in the order they were queued,
//! pipelining whatever has piled up. Bus messages from this instance therefore reach
//! every other instance in the order the hub produced them.

use std::sync::atomic::Ordering;

use redis::Value;
use tokio::sync::mpsc;

use super::wire::BusMsg;
use super::{ClusterIn, Ctx, Effect};

/// Most effects in one pipeline.
const BATCH: usize = 256;

/// Forgets a peer only if it still belongs to the dead instance, then announces it gone
/// (so exactly one instance's reap wins, and a peer that resumed elsewhere is kept).
const REAP: &str = r#"
local r = redis.call('HGET', KEYS[1], 'rec')
if not r then return 0 end
local d = cjson.decode(r)
if d.inst ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
local gone = cjson.encode({src = ARGV[3], t = 'gone', pid = ARGV[2], ver = d.ver + 1})
redis.call('PUBLISH', KEYS[3], gone)
return 1
"#;

/// Forgets a session of ours and announces its end, unless another instance has taken
/// the session over since (its record names that instance): then nothing happens.
const GONE: &str = r#"
local r = redis.call('HGET', KEYS[1], 'rec')
if r and cjson.decode(r).inst ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('PUBLISH', KEYS[3], ARGV[3])
return 1
"#;

pub(super) async fn run(ctx: Ctx, mut rx: mpsc::Receiver<Effect>) {
    let mut con = None;
    loop {
        // At shutdown, what is already queued (the last hand-overs and ends of a drain)
        // still goes out; then the loop ends when the queue is empty.
        let first = tokio::select! {
            biased;
            e = rx.recv() => e,
            _ = ctx.shutdown.cancelled() => {
                rx.close();
                rx.recv().await
            }
        };
        let Some(first) = first else { break };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(e) => batch.push(e),
                Err(_) => break,
            }
        }
        let mut outcome = run_batch(&ctx, &mut con, &batch).await;
        if outcome.is_err() {
            // One retry on a fresh connection (Redis may have restarted under us), of what
            // is safe to repeat: records and ends, not messages (a partly run pipeline
            // may have delivered some).
            let (sends, again): (Vec<Effect>, Vec<Effect>) =
                batch.into_iter().partition(|e| matches!(e, Effect::Send { .. }));
            for e in sends {
                if let Effect::Send { to, ack: Some(ack) } = e {
                    ctx.tell(ClusterIn::Sent { ack, missed: to.len().max(1) }).await;
                }
            }
            batch = again;
            outcome = run_batch(&ctx, &mut con, &batch).await;
        }
        match outcome {
            Ok(answers) => {
                for a in answers {
                    if !ctx.tell(a).await {
                        return;
                    }
                }
            }
            Err(reason) => {
                // Records and ends go back to the hub, which sends them again (Redis may
                // refuse writes while the subscriber stays connected: out of memory).
                tracing::warn!(effects = batch.len(), %reason, "cluster: Redis refused a batch");
                ctx.metrics.write_errors.fetch_add(1, Ordering::Relaxed);
                let (mut puts, mut gones) = (Vec::new(), Vec::new());
                for e in batch {
                    match e {
                        Effect::Send { to, ack: Some(ack) } => {
                            ctx.tell(ClusterIn::Sent { ack, missed: to.len().max(1) }).await;
                        }
                        Effect::Put(rec) => puts.push(rec.pid),
                        Effect::Gone { pid, ver } => gones.push((pid, ver)),
                        _ => {}
                    }
                }
                if !(puts.is_empty() && gones.is_empty()) {
                    ctx.tell(ClusterIn::Unwritten { puts, gones }).await;
                }
            }
        }
    }
}

/// Runs a batch on the connection, connecting first if needed; drops the connection when
/// it fails.
async fn run_batch(
    ctx: &Ctx,
    con: &mut Option<redis::aio::ConnectionManager>,
    batch: &[Effect],
) -> Result<Vec<ClusterIn>, String> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    if con.is_none() {
        *con = ctx.connect().await;
    }
    let Some(c) = con.as_mut() else {
        return Err("no connection to Redis".to_string());
    };
    let outcome = execute(ctx, c, batch).await;
    if outcome.is_err() {
        *con = None;
    }
    outcome
}

/// Runs one batch as a pipeline; returns the answers the hub waits for: each ack with how
/// many of its messages found no subscriber, each quota window's new total.
async fn execute(
    ctx: &Ctx,
    con: &mut redis::aio::ConnectionManager,
    batch: &[Effect],
) -> Result<Vec<ClusterIn>, String> {
    let mut pipe = redis::pipe();
    // Per effect: (index of its first reply, number of publishes counted for an ack).
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(batch.len());
    let mut n = 0;
    for e in batch {
        let start = n;
        match e {
            Effect::Put(rec) => {
                let json = serde_json::to_string(rec).unwrap_or_default();
                pipe.hset(ctx.keys.peer(&rec.pid), "rec", json).sadd(ctx.keys.peers(), &rec.pid);
                pipe.publish(ctx.keys.events(), ctx.envelope(BusMsg::Peer(rec.clone())));
                n += 3;
            }
            Effect::Gone { pid, ver } => {
                let gone = ctx.envelope(BusMsg::Gone { pid: pid.clone(), ver: *ver });
                pipe.cmd("EVAL").arg(GONE).arg(3).arg(ctx.keys.peer(pid)).arg(ctx.keys.peers()).arg(ctx.keys.events());
                pipe.arg(&ctx.instance).arg(pid).arg(gone);
                n += 1;
            }
            Effect::Reap { pid, inst } => {
                // EVAL'd whole (it is small): a pipeline cannot load a script first.
                pipe.cmd("EVAL")
                    .arg(REAP)
                    .arg(3)
                    .arg(ctx.keys.peer(pid))
                    .arg(ctx.keys.peers())
                    .arg(ctx.keys.events())
                    .arg(inst)
                    .arg(pid)
                    .arg(&ctx.instance);
                n += 1;
            }
            Effect::Quota { kid, kind, d } => {
                let key = ctx.keys.quota(kid, kind.as_str(), d.window);
                pipe.incr(&key, d.delta).expire(&key, (2 * d.period_secs) as i64);
                n += 2;
            }
            Effect::ForgetInstance(iid) => {
                pipe.srem(ctx.keys.instances(), iid);
                n += 1;
            }
            Effect::Send { to, .. } => {
                for (inst, msg) in to {
                    pipe.publish(ctx.keys.inbox(inst), ctx.envelope(msg.clone()));
                    n += 1;
                }
                ctx.metrics.bus_out.fetch_add(to.len() as u64, Ordering::Relaxed);
            }
        }
        spans.push((start, n - start));
    }
    let replies: Vec<Value> = pipe.query_async(con).await.map_err(|e| e.to_string())?;
    let mut answers = Vec::new();
    for (e, (start, len)) in batch.iter().zip(spans) {
        match e {
            Effect::Send { ack: Some(ack), .. } => {
                let replies = &replies[start..start + len];
                let missed = replies.iter().filter(|v| !matches!(v, Value::Int(k) if *k > 0)).count();
                answers.push(ClusterIn::Sent { ack: ack.clone(), missed });
            }
            Effect::Quota { kid, kind, d } => {
                if let Some(Value::Int(total)) = replies.get(start) {
                    let (kid, kind, window, through) = (kid.clone(), *kind, d.window, d.through);
                    answers.push(ClusterIn::QuotaTotal { kid, kind, window, total: *total as u64, through });
                }
            }
            _ => {}
        }
    }
    Ok(answers)
}

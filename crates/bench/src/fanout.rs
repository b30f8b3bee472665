//! Row: presence fan-out. A room of 100 members (real WebSocket clients of the release
//! server, each reading its socket); another client subscribes, and each member's time
//! from that `subscribe` to the `presence` delta naming the newcomer is one sample. The
//! newcomer then leaves and everyone sees it go before the next trial.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::Message;

use crate::relay::{self, Flavor};
use crate::stats::Samples;

const KEY: &str = "pk_bench_fanout";
const ROOM: &str = "fanout";
const QUIET: Duration = Duration::from_secs(10);

pub struct Fanout {
    pub members: usize,
    pub trials: usize,
    /// Every member's latency, every trial.
    pub each: Samples,
    /// Per trial, the last member's latency.
    pub last: Samples,
}

pub async fn run(server: &Path, members: usize, trials: usize) -> anyhow::Result<Fanout> {
    let cfg = std::env::temp_dir().join(format!("peerchat-bench-fanout-{}.toml", std::process::id()));
    std::fs::write(
        &cfg,
        format!("[server]\nlisten = \"127.0.0.1:0\"\n\n[[keys]]\nkey = \"{KEY}\"\nmax_connections = 10000\n"),
    )?;
    let (mut child, base) = crate::idle::spawn(&crate::idle::Target::Ours(server), Some(&cfg))?;
    let result = measure(&format!("{base}?key={KEY}"), members, trials).await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&cfg);
    result
}

async fn measure(url: &str, members: usize, trials: usize) -> anyhow::Result<Fanout> {
    // The id of the newcomer being waited for, and when it subscribed.
    let (target_tx, target_rx) = watch::channel::<Option<(String, Instant)>>(None);
    let (lat_tx, mut lat_rx) = mpsc::channel::<Duration>(members * 2);
    let mut tasks = Vec::new();
    for i in 0..members {
        let mut c = relay::connect(Flavor::Ours, url, i).await?;
        relay::subscribe(&mut c, ROOM).await?;
        let mut ws = c.ws;
        let (mut target, lat) = (target_rx.clone(), lat_tx.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(Ok(m)) = ws.next().await {
                let now = Instant::now();
                let Ok(text) = m.to_text() else { continue };
                let current = target.borrow_and_update().clone();
                if let Some((id, t0)) = current {
                    if text.contains(r#""type":"presence""#)
                        && text.contains(&format!(r#""joined":[{{"peerId":"{id}""#))
                        && lat.send(now.duration_since(t0)).await.is_err()
                    {
                        return;
                    }
                }
            }
        }));
    }
    drop(lat_tx);
    let mut each = Vec::new();
    let mut last = Vec::new();
    for t in 0..trials {
        let relay::Client { mut ws, id } = relay::connect(Flavor::Ours, url, members + t).await?;
        let t0 = Instant::now();
        target_tx.send_replace(Some((id.clone(), t0)));
        ws.send(relay::subscribe_frame(ROOM, &format!("newcomer{t}"))).await?;
        let mut slowest = Duration::ZERO;
        for _ in 0..members {
            let d = tokio::time::timeout(QUIET, lat_rx.recv())
                .await
                .map_err(|_| anyhow::anyhow!("a member never saw the join (trial {t})"))?
                .ok_or_else(|| anyhow::anyhow!("members gone"))?;
            slowest = slowest.max(d);
            each.push(d);
        }
        last.push(slowest);
        target_tx.send_replace(None);
        ws.send(Message::text(format!(r#"{{"type":"unsubscribe","channel":"{ROOM}"}}"#))).await?;
        ws.close(None).await?;
        // Let the leave reach every member before the next join.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for t in tasks {
        t.abort();
    }
    Ok(Fanout { members, trials, each: Samples::new(each), last: Samples::new(last) })
}

//! Row: the load rows on three instances sharing rooms through a real redis-server,
//! against one instance, in the same run. The clients are spread over the instances
//! (client `i` on instance `i % 3`) in rooms of 10, so 9 sends in 10 cross instances
//! through Redis. Besides what the load row measures: the instances' memory together and
//! Redis's CPU time per message delivered (from the first send to the last arrival, so
//! connecting is not counted; heartbeats are).

use std::path::Path;

use crate::load::{Load, Sizes};

/// Instances in the cluster rows.
pub const INSTANCES: usize = 3;

pub struct ClusterLoad {
    pub one: Load,
    pub three: Load,
    pub redis_cpu_us_per_delivery: f64,
}

pub async fn run(server: &Path, s: &Sizes) -> anyhow::Result<ClusterLoad> {
    let one = crate::load::run(server, s).await?;
    let redis = peerchat_testkit::redis::Redis::start();
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("cluster.toml");
    std::fs::write(&cfg, crate::load::cluster_config(s, &redis.url()))?;
    let mut children = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..INSTANCES {
        let (child, base) = crate::idle::spawn(&crate::idle::Target::Ours(server), Some(&cfg))?;
        children.push(child);
        urls.push(format!("{base}{}", crate::load::key_query()));
    }
    let redis_pid = redis.pid().ok_or_else(|| anyhow::anyhow!("redis-server is not running"))?;
    let three = crate::load::drive(&urls, s, Some(redis_pid)).await;
    let rss: u64 = children.iter().map(|c| crate::proc::rss_kib(c.id()).unwrap_or(0)).sum();
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    let mut three = three?;
    three.server_rss_kib = rss;
    let cpu = three.redis_cpu_ns.unwrap_or(0);
    let redis_cpu_us_per_delivery = cpu as f64 / 1e3 / three.received.max(1) as f64;
    Ok(ClusterLoad { one, three, redis_cpu_us_per_delivery })
}

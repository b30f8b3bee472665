//! Row: the load rows on three instances sharing rooms through a real redis-server,
//! against one instance, in the same run. The clients are spread over the instances
//! (client `i` on instance `i % 3`) in rooms of 10, so 9 sends in 10 cross instances
//! through Redis. Besides what the load row measures: the instances' memory together and
//! Redis's CPU time per message delivered (from the first send to the last arrival, so
//! connecting is not counted; heartbeats are).
//!
//! Relay: `send` from a client on one instance to a client on another, and `publish` by
//! one sender into a room of 10 whose members are spread over the three instances (the
//! relay rows' method: the most delivered with a window in flight, then latency at a
//! fixed rate), each against the same on one instance.

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
    let config = crate::load::cluster_config(s, &redis.url());
    let (inst, urls, _dir) = start(server, &config, INSTANCES, &crate::load::key_query())?;
    let redis_pid = redis.pid().ok_or_else(|| anyhow::anyhow!("redis-server is not running"))?;
    let three = crate::load::drive(&urls, s, Some(redis_pid)).await;
    let rss: u64 = inst.0.iter().map(|c| crate::proc::rss_kib(c.id()).unwrap_or(0)).sum();
    drop(inst);
    let mut three = three?;
    three.server_rss_kib = rss;
    let cpu = three.redis_cpu_ns.unwrap_or(0);
    let redis_cpu_us_per_delivery = cpu as f64 / 1e3 / three.received.max(1) as f64;
    Ok(ClusterLoad { one, three, redis_cpu_us_per_delivery })
}

/// A relay row: one instance and three, same sizes, same run.
pub struct ClusterRelay {
    pub one: crate::relay::RelayResult,
    pub three: crate::relay::RelayResult,
    /// Redis CPU per delivery over the whole three-instance run (both phases).
    pub redis_cpu_us_per_delivery: f64,
}

const RELAY_QUERY: &str = "?key=pk_bench_relay";

/// A relay server's config (rate limits lifted, as in the relay rows), in a cluster when
/// `redis` is given.
fn relay_config(redis: Option<&str>) -> String {
    let cluster = redis
        .map_or(String::new(), |r| format!("secret = \"peerchat-bench-cluster-secret\"\n[cluster]\nredis = \"{r}\"\n"));
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nrate_per_sec = 1000000\nrate_burst = 1000000\noutbound_queue = 8192\n\
         {cluster}\n[[keys]]\nkey = \"pk_bench_relay\"\n"
    )
}

/// Servers killed when dropped.
pub(crate) struct Instances(pub Vec<std::process::Child>);

impl Drop for Instances {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `n` instances with the config text `config`; returns them, their URLs (with
/// `query`, the key) and the directory holding the config (keep it while they run).
pub(crate) fn start(
    server: &Path,
    config: &str,
    n: usize,
    query: &str,
) -> anyhow::Result<(Instances, Vec<String>, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("instance.toml");
    std::fs::write(&cfg, config)?;
    let mut inst = Instances(Vec::new());
    let mut urls = Vec::new();
    for _ in 0..n {
        let (child, base) = crate::idle::spawn(&crate::idle::Target::Ours(server), Some(&cfg))?;
        inst.0.push(child);
        urls.push(format!("{base}{query}"));
    }
    Ok((inst, urls, dir))
}

/// `send` (`receivers` 1) or `publish` to a room of 10 (`receivers` 9).
pub async fn relay(server: &Path, smoke: bool, receivers: usize) -> anyhow::Result<ClusterRelay> {
    let n_pub = match (smoke, receivers) {
        (true, 1) => 2_000,
        (true, _) => 500,
        (false, 1) => 100_000,
        (false, _) => 20_000,
    };
    let (n_paced, per_sec) = if smoke { (200, 1_000) } else { (5_000, 1_000) };
    let one = {
        let (inst, urls, _dir) = start(server, &relay_config(None), 1, RELAY_QUERY)?;
        let pids: Vec<u32> = inst.0.iter().map(|c| c.id()).collect();
        crate::relay::run(crate::relay::Flavor::Ours, &pids, &urls, receivers, n_pub, n_paced, per_sec).await?
    };
    let redis = peerchat_testkit::redis::Redis::start();
    let redis_pid = redis.pid().ok_or_else(|| anyhow::anyhow!("redis-server is not running"))?;
    let (inst, urls, _dir) = start(server, &relay_config(Some(&redis.url())), INSTANCES, RELAY_QUERY)?;
    let pids: Vec<u32> = inst.0.iter().map(|c| c.id()).collect();
    let before = crate::proc::cpu_ns(redis_pid)?;
    let three = crate::relay::run(crate::relay::Flavor::Ours, &pids, &urls, receivers, n_pub, n_paced, per_sec).await?;
    let redis_ns = crate::proc::cpu_ns(redis_pid)?.saturating_sub(before);
    drop(inst);
    let delivered = ((n_pub + n_paced) * receivers as u64).saturating_sub(three.lost);
    let redis_cpu_us_per_delivery = redis_ns as f64 / 1e3 / delivered.max(1) as f64;
    Ok(ClusterRelay { one, three, redis_cpu_us_per_delivery })
}

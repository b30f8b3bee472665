//! Row: memory per idle connection of the signalling server, and of the reference
//! (the PeerJS server, npm `peer`).
//!
//! Starts the server on a free port, opens a warm-up batch of connections, reads
//! the server's RSS, opens the rest (each completes the upgrade and receives `welcome`),
//! waits for the allocator to settle and reads RSS again. The difference divided by the
//! number of added connections is the cost of one idle connection.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::task::JoinSet;

pub(crate) const KEY: &str = "pk_bench_idle";
const WARMUP: usize = 200;
const CONCURRENCY: usize = 256;

pub struct IdleRow {
    pub held: usize,
    pub per_conn_kib: f64,
    pub rss_total_kib: u64,
}

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Which server to measure.
pub enum Target<'a> {
    /// peerchat's `signal-server` binary.
    Ours(&'a Path),
    /// The PeerJS server, run by node from `tools/bench-ref`.
    PeerJs(&'a Path),
}

/// Opens `n` connections; `url(i)` gives the i-th one's URL (PeerJS needs unique ids).
async fn open(url: &(dyn Fn(usize) -> String + Sync), first: usize, n: usize) -> anyhow::Result<Vec<Ws>> {
    let mut out = Vec::with_capacity(n);
    let mut set = JoinSet::new();
    let mut started = 0;
    while out.len() < n {
        while started < n && set.len() < CONCURRENCY {
            let url = url(first + started);
            set.spawn(async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
                match ws.next().await {
                    Some(Ok(m)) if m.is_text() => Ok::<_, anyhow::Error>(ws),
                    other => anyhow::bail!("no welcome: {other:?}"),
                }
            });
            started += 1;
        }
        match set.join_next().await {
            Some(r) => out.push(r??),
            None => break,
        }
    }
    Ok(out)
}

/// Starts the server and returns it with the URL it printed ("listening on URL").
/// `config` is a TOML file for ours (otherwise a default with the bench key).
pub fn spawn(target: &Target<'_>, config: Option<&Path>) -> anyhow::Result<(std::process::Child, String)> {
    let mut child = match target {
        Target::Ours(server) => {
            let mut cmd = Command::new(server);
            match config {
                Some(c) => cmd.arg("--config").arg(c),
                None => cmd.args(["--listen", "127.0.0.1:0", "--key", KEY]),
            };
            cmd.env("RUST_LOG", std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()))
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", server.display()))?
        }
        Target::PeerJs(root) => {
            let script = root.join("tools/bench-ref/peerjs-server.mjs");
            if !root.join("tools/bench-ref/node_modules/peer").exists() {
                anyhow::bail!("npm `peer` not installed (scripts/bench.sh installs it)");
            }
            Command::new("node")
                .arg(script)
                .arg("0")
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| anyhow::anyhow!("cannot start node: {e}"))?
        }
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line)?;
    let base = line.trim().strip_prefix("listening on ").ok_or_else(|| anyhow::anyhow!("bad first line {line:?}"))?;
    Ok((child, base.to_string()))
}

pub async fn measure(target: Target<'_>, connections: usize) -> anyhow::Result<IdleRow> {
    let (mut child, base) = spawn(&target, None)?;
    let base = base.as_str();
    let url: Box<dyn Fn(usize) -> String + Sync> = match target {
        Target::Ours(_) => {
            let u = format!("{base}?key={KEY}");
            Box::new(move |_| u.clone())
        }
        Target::PeerJs(_) => {
            let base = base.to_string();
            Box::new(move |i| format!("{base}?key=peerjs&id=bench{i}&token=t{i}"))
        }
    };
    let pid = child.id();

    let warm = open(&*url, 0, WARMUP.min(connections / 2)).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = super::proc::rss_kib(pid)?;
    let rest = open(&*url, warm.len(), connections.saturating_sub(warm.len())).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = super::proc::rss_kib(pid)?;
    let added = rest.len().max(1);
    let row = IdleRow {
        held: warm.len() + rest.len(),
        per_conn_kib: (after.saturating_sub(before)) as f64 / added as f64,
        rss_total_kib: after,
    };
    drop(warm);
    drop(rest);
    let _ = child.kill();
    let _ = child.wait();
    Ok(row)
}

/// Memory per idle connection when `connections` are spread over `instances` instances
/// sharing rooms through the Redis at `redis_url` (each instance holds its share; Redis
/// holds a record of every session). Per instance: RSS growth over its added connections.
pub async fn measure_cluster(
    server: &Path,
    redis_url: &str,
    instances: usize,
    connections: usize,
) -> anyhow::Result<IdleRow> {
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\nsecret = \"peerchat-bench-cluster-secret\"\n\
         max_connections_per_ip = 0\nmax_handshakes_per_ip = 0\n\
         [cluster]\nredis = \"{redis_url}\"\n\n[[keys]]\nkey = \"{KEY}\"\nmax_connections = {}\n",
        connections + 1_000
    );
    let (inst, urls, _dir) = super::cluster::start(server, &config, instances, &format!("?key={KEY}"))?;
    let children: Vec<(&std::process::Child, &String)> = inst.0.iter().zip(&urls).collect();
    let share = connections / instances;
    let mut held = Vec::new();
    let mut before = Vec::new();
    for &(child, url) in &children {
        let u = url.clone();
        held.push(open(&move |_| u.clone(), 0, WARMUP.min(share / 2)).await?);
        before.push(super::proc::rss_kib(child.id())?);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The rest are held by one helper process per instance: a process may open only so
    // many files (20,000 on some machines), and 30,000 sockets must stay open at once.
    let mut holders = Holders(Vec::new());
    let mut added = 0;
    for &(_, url) in &children {
        let warm = WARMUP.min(share / 2);
        let (holder, n) = Holders::spawn(url, share - warm).await?;
        holders.0.push(holder);
        added += n;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut after = Vec::new();
    for &(child, _) in &children {
        after.push(super::proc::rss_kib(child.id())?);
    }
    let growth: u64 = after.iter().zip(&before).map(|(a, b)| a.saturating_sub(*b)).sum();
    let row = IdleRow {
        held: held.iter().map(Vec::len).sum::<usize>() + added,
        per_conn_kib: growth as f64 / added.max(1) as f64,
        rss_total_kib: after.iter().sum(),
    };
    drop(held);
    drop(holders);
    Ok(row)
}

/// `peerchat-bench hold URL N`: opens `N` idle connections to `URL`, prints `held N`,
/// and keeps them until its standard input closes.
pub async fn hold(url: String, n: usize) -> anyhow::Result<()> {
    use tokio::io::AsyncReadExt;
    super::proc::raise_fd_limit();
    let held = open(&move |_| url.clone(), 0, n).await?;
    println!("held {}", held.len());
    let mut sink = Vec::new();
    tokio::io::stdin().read_to_end(&mut sink).await?;
    drop(held);
    Ok(())
}

/// Helper processes holding connections (`hold`), stopped when dropped.
struct Holders(Vec<std::process::Child>);

impl Holders {
    /// Starts a helper holding `n` connections to `url`; returns once they are open.
    async fn spawn(url: &str, n: usize) -> anyhow::Result<(std::process::Child, usize)> {
        let me = std::env::current_exe()?;
        let mut child = Command::new(me)
            .args(["hold", url, &n.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let out = child.stdout.take().ok_or_else(|| anyhow::anyhow!("helper has no stdout"))?;
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(out).read_line(&mut line).map(|_| line)
        });
        let line = match tokio::time::timeout(Duration::from_secs(120), line).await {
            Ok(Ok(Ok(l))) => l,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("the helper holding {n} connections did not report");
            }
        };
        match line.trim().strip_prefix("held ").and_then(|k| k.parse::<usize>().ok()) {
            Some(k) => Ok((child, k)),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("the helper holding {n} connections failed: {line:?}")
            }
        }
    }
}

impl Drop for Holders {
    fn drop(&mut self) {
        for c in &mut self.0 {
            // Closing its input lets it close its sockets; a kill covers a stuck one.
            drop(c.stdin.take());
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

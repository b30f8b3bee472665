//! Rows: two peers on two home networks behind NAT routers, with the signalling server
//! and a real coturn on the "public" side (`peerchat_testkit::netlab`, network
//! namespaces; needs root). Setup time, ping and 16 KiB bulk over the path the
//! connection took: direct through the NATs (MASQUERADE), and relayed by TURN (symmetric
//! NATs, `--random-fully`). The reference for the relay is coturn's own relaying of
//! `turnutils_uclient`'s load in the same lab.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use peerchat_testkit::coturn::Coturn;
use peerchat_testkit::netlab::{Nat, NatLab, PUBLIC_IP};
use serde::Deserialize;

use crate::stats::Samples;

const KEY: &str = "pk_bench_nat";
const SECRET: &str = "bench-nat-turn-secret-0123456789";
/// How long one measuring peer may take.
const PEER_WAIT: Duration = Duration::from_secs(240);

/// One topology's figures.
pub struct NatRow {
    /// What the measuring peer's path said ("direct through NAT", "relayed via TURN").
    pub route: String,
    pub setup: Samples,
    pub ping: Samples,
    pub bulk_mbps: f64,
}

/// coturn relaying turnutils_uclient's load.
pub struct TurnCeiling {
    pub mbps: f64,
    pub bytes: u64,
    pub secs: u64,
}

#[derive(Deserialize)]
struct Measured {
    route: String,
    setup_ms: Vec<f64>,
    ping_us: Vec<f64>,
    bulk_bytes: u64,
    bulk_secs: f64,
}

pub struct Sizes {
    pub trials: usize,
    pub pings: usize,
    pub bulk_bytes: usize,
}

struct Public {
    lab: NatLab,
    _turn: Coturn,
    _server: tokio::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

async fn public(nat: Nat, server: &std::path::Path) -> anyhow::Result<Public> {
    let lab = NatLab::new(nat);
    let turn = Coturn::start(Some(&lab.public), PUBLIC_IP, 3478, SECRET, "bench.test");
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("server.toml");
    std::fs::write(&config, peerchat_testkit::netlab::server_toml(KEY, SECRET, &turn.url()))?;
    let mut child = tokio::process::Command::from(NatLab::command(&lab.public, server))
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line()).await??.unwrap_or_default();
    let url = first.strip_prefix("listening on ").ok_or_else(|| anyhow::anyhow!("server said {first:?}"))?.to_string();
    Ok(Public { lab, _turn: turn, _server: child, url, _dir: dir })
}

fn peer_command(ns: &str, role: &str, url: &str, sizes: &Sizes) -> tokio::process::Command {
    let me = std::env::current_exe().unwrap_or_default();
    let mut cmd = tokio::process::Command::from(NatLab::command(ns, me));
    cmd.args(["nat-peer", "--role", role, "--url", url, "--key", KEY])
        .args(["--trials", &sizes.trials.to_string(), "--pings", &sizes.pings.to_string()])
        .args(["--bulk-bytes", &sizes.bulk_bytes.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    cmd
}

/// One topology: the echo peer behind router B, the measuring peer behind router A.
async fn topology(nat: Nat, expected: &str, server: &std::path::Path, sizes: &Sizes) -> anyhow::Result<NatRow> {
    let p = public(nat, server).await?;
    let mut echo = peer_command(&p.lab.host_b, "echo", &p.url, sizes).stdout(Stdio::piped()).spawn()?;
    let stdout = echo.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout));
    tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await??;
    let mut measure = peer_command(&p.lab.host_a, "measure", &p.url, sizes);
    let out = tokio::time::timeout(PEER_WAIT, measure.stderr(Stdio::piped()).output()).await??;
    anyhow::ensure!(
        out.status.success(),
        "the measuring peer failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).lines().rev().take(8).collect::<Vec<_>>().join(" | ")
    );
    let m: Measured = serde_json::from_slice(&out.stdout)?;
    anyhow::ensure!(m.route == expected, "the {nat:?} topology took the path {:?}, not {expected:?}", m.route);
    let ms = |v: &[f64], scale: f64| Samples::new(v.iter().map(|x| Duration::from_secs_f64(x / scale)).collect());
    Ok(NatRow {
        route: m.route,
        setup: ms(&m.setup_ms, 1e3),
        ping: ms(&m.ping_us, 1e6),
        bulk_mbps: m.bulk_bytes as f64 / m.bulk_secs.max(1e-9) / 1e6,
    })
}

/// coturn's relaying rate for `turnutils_uclient` from host A: 8 client pairs, 16,000 B
/// messages, one per millisecond per client (its fastest pacing; unpaced it loses
/// everything), both allocations of a pair on the same coturn.
fn turn_ceiling(smoke: bool) -> anyhow::Result<TurnCeiling> {
    let lab = NatLab::new(Nat::RandomFully);
    let _turn = Coturn::start(Some(&lab.public), PUBLIC_IP, 3478, SECRET, "bench.test");
    let n = if smoke { "100" } else { "2000" };
    let out = NatLab::command(&lab.host_a, "turnutils_uclient")
        .args(["-y", "-c", "-l", "16000", "-n", n, "-m", "8", "-z", "1", "-W", SECRET, "-u", "bench", PUBLIC_IP])
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let mut bytes = None;
    let mut secs = None;
    for line in BufReader::new(text.as_bytes()).lines().map_while(Result::ok) {
        if let Some(v) = line.split("tot_recv_bytes ~ ").nth(1) {
            bytes = v.trim().parse::<u64>().ok();
        }
        if let Some(v) = line.split("Total transmit time is ").nth(1) {
            secs = v.trim().parse::<u64>().ok();
        }
    }
    match (bytes, secs) {
        (Some(b), Some(s)) if s > 0 && b > 0 => Ok(TurnCeiling { mbps: b as f64 / s as f64 / 1e6, bytes: b, secs: s }),
        _ => anyhow::bail!(
            "turnutils_uclient printed no totals: {}",
            text.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        ),
    }
}

/// Both topologies and the ceiling.
pub async fn run(server: &std::path::Path, smoke: bool) -> anyhow::Result<(NatRow, NatRow, TurnCeiling)> {
    let sizes = if smoke {
        Sizes { trials: 2, pings: 20, bulk_bytes: 1 << 20 }
    } else {
        Sizes { trials: 10, pings: 500, bulk_bytes: 64 << 20 }
    };
    let direct = topology(Nat::Masquerade, "direct through NAT", server, &sizes).await?;
    let relayed = topology(Nat::RandomFully, "relayed via TURN", server, &sizes).await?;
    let ceiling = tokio::task::spawn_blocking(move || turn_ceiling(smoke)).await??;
    Ok((direct, relayed, ceiling))
}

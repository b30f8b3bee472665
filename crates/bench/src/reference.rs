//! The DataChannel reference: npm `node-datachannel` (libdatachannel), run by
//! `tools/bench-ref/ndc-bench.mjs` in the same invocation, with the same row semantics.
//! `scripts/bench.sh` installs it; without it the reference columns say why they are
//! empty.

use std::path::Path;
use std::process::Command;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Bulk {
    pub size: usize,
    pub mbps: f64,
    pub stalled: bool,
    #[serde(default)]
    pub bytes: u64,
}

#[derive(Debug, Deserialize)]
pub struct Small {
    pub sent: u64,
    pub delivered: u64,
    pub rate: f64,
    pub stalled: bool,
}

#[derive(Debug, Deserialize)]
pub struct Reference {
    pub engine: String,
    pub setup_ms: Vec<f64>,
    pub ping_us: Vec<f64>,
    #[serde(default)]
    pub ping_lost: u64,
    pub bulk: Vec<Bulk>,
    pub small: Small,
}

/// Runs the reference bench; `Err` says why there is no reference.
pub fn run(root: &Path, smoke: bool, bulk_mib: Option<usize>) -> Result<Reference, String> {
    let script = root.join("tools/bench-ref/ndc-bench.mjs");
    if !root.join("tools/bench-ref/node_modules/node-datachannel").exists() {
        return Err("node-datachannel not installed (scripts/bench.sh installs it)".into());
    }
    let mut cmd = Command::new("node");
    cmd.arg(&script);
    if smoke {
        cmd.arg("--smoke");
    }
    if let Some(m) = bulk_mib {
        cmd.args(["--bulk-mib", &m.to_string()]);
    }
    let out = cmd.output().map_err(|e| format!("cannot run node: {e}"))?;
    if !out.status.success() {
        return Err(format!("reference bench failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let line = line.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("reference output unreadable: {e}"))
}

/// Nearest-rank percentile of unsorted values.
pub fn pct(values: &[f64], p: f64) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

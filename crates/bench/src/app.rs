//! Rows: the desktop app (release build) under the current display: cold start to an
//! interactive window, and the memory (PSS) of the app and its WebKit processes with
//! two chat windows in a room, idle. The app runs with its own config, data and port.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct AppRow {
    pub cold_start: Duration,
    pub both_joined: Duration,
    /// Proportional set size summed over the process tree: shared libraries are
    /// counted once overall, not once per process as a sum of RSS would.
    pub idle_pss_kib: u64,
    pub processes: usize,
}

fn logs(dir: &Path) -> String {
    let mut all = String::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            all.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    all
}

/// Proportional set size of a process in KiB, from /proc/PID/smaps_rollup.
fn pss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    text.lines().find_map(|l| l.strip_prefix("Pss:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `pid` and all its descendants, from /proc.
fn tree(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
            // The parent pid is the second field after the command's closing parenthesis.
            let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse().ok());
            if let Some(pp) = ppid {
                parents.push((p, pp));
            }
        }
    }
    let mut out = vec![pid];
    let mut i = 0;
    while i < out.len() {
        let cur = out[i];
        out.extend(parents.iter().filter(|(_, pp)| *pp == cur).map(|(p, _)| *p));
        i += 1;
    }
    out
}

async fn wait_for(dir: &Path, what: &str, count: usize, within: Duration) -> anyhow::Result<()> {
    let start = Instant::now();
    while logs(dir).matches(what).count() < count {
        if start.elapsed() > within {
            anyhow::bail!("the app did not log {count}× {what:?} within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

pub async fn measure(app: &Path, idle: Duration) -> anyhow::Result<AppRow> {
    if std::env::var_os("DISPLAY").is_none() && std::env::var_os("WAYLAND_DISPLAY").is_none() {
        anyhow::bail!("no display (scripts/bench.sh runs the bench under xvfb-run)");
    }
    if !app.exists() {
        anyhow::bail!("{} not built", app.display());
    }
    let home: PathBuf = std::env::temp_dir().join(format!("peerchat-bench-app-{}", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let log_dir = home.join("data/dev.peerchat.app/logs");
    let start = Instant::now();
    let mut child = Command::new(app)
        .args(["--windows", "2", "--room", "bench"])
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("PEERCHAT_LOCAL_PORT", port.to_string())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let result = async {
        wait_for(&log_dir, "app_status", 1, Duration::from_secs(60)).await?;
        let cold_start = start.elapsed();
        wait_for(&log_dir, "sessions: joined", 2, Duration::from_secs(60)).await?;
        let both_joined = start.elapsed();
        tokio::time::sleep(idle).await;
        let pids = tree(child.id());
        let pss: u64 = pids.iter().filter_map(|p| pss_kib(*p)).sum();
        anyhow::Ok(AppRow { cold_start, both_joined, idle_pss_kib: pss, processes: pids.len() })
    }
    .await;
    // SIGTERM first, so the app leaves its room and stops its server.
    // SAFETY: kill(2) with a pid we spawned and a valid signal number.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&home);
    result
}

//! Process helpers: resident memory from /proc, file-descriptor limits, child binaries.

use std::path::PathBuf;

/// Resident set size of a process in KiB, from /proc/PID/status.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no VmRSS for pid {pid}"))
}

/// Open files the bench asks for: the cluster memory row holds 30,000 client sockets.
const WANT_FILES: libc::rlim_t = 100_000;

/// Raises this process's open-file limit: to `WANT_FILES` where allowed (root may raise
/// the hard limit too), else the soft limit to the hard one.
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit only read and write the struct passed in.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 || lim.rlim_cur >= WANT_FILES {
            return;
        }
        let want = libc::rlimit { rlim_cur: WANT_FILES, rlim_max: lim.rlim_max.max(WANT_FILES) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &want) != 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// A binary built into the same target directory as this one.
pub fn sibling_binary(name: &str) -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name(name)
}

/// CPU time a process has used so far, summed over its live threads, in nanoseconds
/// (the first field of /proc/PID/task/TID/schedstat; finer than utime's clock ticks).
/// `redis-server --version`'s version, or `?`.
pub fn redis_version() -> String {
    let out = std::process::Command::new("redis-server").arg("--version").output();
    let text = out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default();
    text.split_whitespace().find_map(|w| w.strip_prefix("v=")).unwrap_or("?").to_string()
}

pub fn cpu_ns(pid: u32) -> anyhow::Result<u64> {
    let mut total = 0u64;
    for t in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let stat = std::fs::read_to_string(t?.path().join("schedstat")).unwrap_or_default();
        total += stat.split_whitespace().next().and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    Ok(total)
}

//! What the table was measured on: CPU, cores, memory, kernel, toolchain, versions.

/// The webrtc crate the SDK is built on (pinned in the workspace).
pub const WEBRTC_VERSION: &str = "0.21.1";

fn first_line_with(path: &str, prefix: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find(|l| l.starts_with(prefix)).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
}

fn command_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "?".into())
}

/// A markdown section: when, where, with what, the command, and the table.
pub fn section(table: &[String], versions: &[String], command: &str) -> String {
    let cpu = first_line_with("/proc/cpuinfo", "model name").unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let mem = first_line_with("/proc/meminfo", "MemTotal").unwrap_or_else(|| "?".into());
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let kernel = command_output("uname", &["-r"]);
    let node = command_output("node", &["--version"]);
    let mut s = String::new();
    s.push_str(&format!("Measured {date} on {cpu}, {cores} cores, {mem} RAM, Linux {kernel}.\n"));
    s.push_str(&format!("Versions: {}, node {node}.\n\n", versions.join(", ")));
    s.push_str(&format!("Command: `{command}`\n\n"));
    s.push_str(
        "References, in the same run: npm `node-datachannel` (libdatachannel) for the DataChannel rows, \
         run by `tools/bench-ref/ndc-bench.mjs` with the same row definitions (two peers in one process, \
         SDP exchanged in-process, while ours go through a real signalling server); the PeerJS server \
         (npm `peer`) for the server row; the loopback UDP ceiling measured by the tool itself. Ratios \
         are peerchat ÷ reference: above 1 is better for throughput, below 1 is better for times and memory.\n\n",
    );
    for l in table {
        s.push_str(l);
        s.push('\n');
    }
    s
}

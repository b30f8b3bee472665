//! The files rows: one file sent between two chat-cli processes on loopback, verified by
//! SHA-256 (throughput, beside a plain TCP copy of the same file through `socat`, the
//! ceiling for a byte stream here, and the SDK's own 16 KiB bulk in the same run); the
//! peak memory of both processes during it, above their idle memory; and how long a
//! transfer takes to move again after its connection is rebuilt in the middle.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use peerchat_chat::{ChatConfig, ChatEvent, ChatSession};
use peerchat_peer::{PeerOptions, PublishableKey};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use crate::idle::{self, Target, KEY};

/// How long one transfer may take before the row gives up.
const LIMIT: Duration = Duration::from_secs(900);

pub struct Sizes {
    /// The file sent between the processes.
    pub file: u64,
    /// The file of each resume trial, and how many trials.
    pub resume_file: u64,
    pub resume_trials: usize,
}

pub struct Results {
    pub size: u64,
    pub secs: f64,
    /// The same file through socat, or why not.
    pub tcp_secs: Result<f64, String>,
    /// The SDK's 16 KiB bulk row, same run, MB/s: both peers in one process, as in the
    /// engine rows.
    pub sdk_mbps: f64,
    /// The SDK's 16 KiB bulk between two processes (as the files go), MB/s, or why not.
    pub sdk_two_mbps: Result<f64, String>,
    /// (idle, peak) RSS in KiB: sender, receiver.
    pub rss: [(u64, u64); 2],
    /// Time from each forced rebuild to the first byte confirmed after it.
    pub resume: Vec<Duration>,
}

pub async fn run(server: &Path, chat_cli: &Path, sizes: &Sizes) -> anyhow::Result<Results> {
    let dir = tempfile::Builder::new().prefix("peerchat-bench-files").tempdir()?;
    let src = dir.path().join("payload.bin");
    let sha = write_file(&src, sizes.file)?;
    let (mut server_child, base) = idle::spawn(&Target::Ours(server), None)?;
    let inbox = dir.path().join("inbox");
    let result = async {
        let mut alice = Cli::start(chat_cli, &base, "alice", &[]).await?;
        let mut bob = Cli::start(chat_cli, &base, "bob", &["--accept-files", &inbox.to_string_lossy()]).await?;
        alice.wait("channel-open").await?;
        bob.wait("channel-open").await?;
        let idle = [crate::proc::rss_kib(alice.pid)?, crate::proc::rss_kib(bob.pid)?];
        let pids = [alice.pid, bob.pid];
        let peaks = tokio::spawn(async move {
            let mut peak = [0u64; 2];
            loop {
                for (p, pid) in peak.iter_mut().zip(pids) {
                    *p = (*p).max(crate::proc::rss_kib(pid).unwrap_or(0));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                if crate::proc::rss_kib(pids[0]).is_err() {
                    return peak;
                }
            }
        });
        let t0 = Instant::now();
        alice.say(&format!("/send {}", src.display())).await?;
        let done = bob.wait("file-done").await?;
        let secs = t0.elapsed().as_secs_f64();
        anyhow::ensure!(done["sha256"] == Value::String(sha.clone()), "the file arrived different: {done}");
        drop(alice);
        drop(bob);
        let peak = peaks.await?;
        let two = two_process_bulk(&base, sizes.file.min(512 << 20)).await.map_err(|e| e.to_string());
        anyhow::Ok((secs, [(idle[0], peak[0]), (idle[1], peak[1])], two))
    }
    .await;
    let _ = server_child.kill();
    let _ = server_child.wait();
    let (secs, rss, sdk_two_mbps) = result?;
    let tcp_secs = tcp_copy(&src, &dir.path().join("by-tcp.bin")).await;
    let sdk_mbps = crate::engine::bulk_mbps(16 * 1024, sizes.file.min(512 << 20) as usize).await?;
    let resume = resume(sizes).await?;
    Ok(Results { size: sizes.file, secs, tcp_secs, sdk_mbps, sdk_two_mbps, rss, resume })
}

/// The SDK's 16 KiB bulk between two processes of this tool (the NAT rows' peers, here on
/// loopback through the server at `url`): MB/s.
async fn two_process_bulk(url: &str, bytes: u64) -> anyhow::Result<f64> {
    let me = std::env::current_exe()?;
    let peer = |role: &str| {
        let mut c = Command::new(&me);
        c.args(["nat-peer", "--role", role, "--url", url, "--key", KEY]);
        c.stdout(Stdio::piped()).stderr(Stdio::null()).kill_on_drop(true);
        c
    };
    let mut echo = peer("echo").spawn()?;
    let mut ready = BufReader::new(echo.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?).lines();
    tokio::time::timeout(LIMIT, ready.next_line()).await??;
    let mut measure = peer("measure");
    measure.args(["--trials", "1", "--pings", "1", "--bulk-bytes", &bytes.to_string()]);
    let out = tokio::time::timeout(LIMIT, measure.output()).await??;
    let v: Value = serde_json::from_slice(&out.stdout)?;
    let secs = v["bulk_secs"].as_f64().ok_or_else(|| anyhow::anyhow!("no bulk_secs in {v}"))?;
    Ok(bytes as f64 / 1e6 / secs)
}

/// A file of `size` bytes that does not compress; its SHA-256.
fn write_file(path: &Path, size: u64) -> anyhow::Result<String> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut hasher = Sha256::new();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for chunk in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n])?;
        hasher.update(&block[..n]);
        left -= n as u64;
    }
    f.flush()?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Seconds to copy `src` to `dst` over a loopback TCP connection with two socat processes.
async fn tcp_copy(src: &Path, dst: &Path) -> Result<f64, String> {
    let port = peerchat_testkit::ports::free_tcp_port();
    let listen = Command::new("socat")
        .args(["-u", &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"), &format!("CREATE:{}", dst.display())])
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("socat: {e}"))?;
    // The listener is up once its port takes a connection; probing it would end the copy,
    // so the sender retries until it connects.
    let t0 = Instant::now();
    let send = Command::new("socat")
        .args(["-u", &format!("OPEN:{}", src.display()), &format!("TCP:127.0.0.1:{port},retry=100,interval=0.01")])
        .stderr(Stdio::null())
        .status();
    let sent = tokio::time::timeout(LIMIT, send).await.map_err(|_| "socat send timed out".to_string())?;
    let got = tokio::time::timeout(LIMIT, listen.wait_with_output()).await.map_err(|_| "socat receive timed out")?;
    let secs = t0.elapsed().as_secs_f64();
    if !sent.map_err(|e| e.to_string())?.success() || !got.map_err(|e| e.to_string())?.status.success() {
        return Err("socat failed".into());
    }
    let same = std::fs::metadata(src).map(|m| m.len()).ok() == std::fs::metadata(dst).map(|m| m.len()).ok();
    if !same {
        return Err("socat copied a different size".into());
    }
    Ok(secs)
}

/// Rebuilds the connection under a transfer half-way, `trials` times: time until the
/// receiver writes bytes past where it was.
async fn resume(sizes: &Sizes) -> anyhow::Result<Vec<Duration>> {
    let server = signal_server::Server::spawn(signal_server::Config::for_keys(&[KEY])).await?;
    let dir = tempfile::Builder::new().prefix("peerchat-bench-resume").tempdir()?;
    let src = dir.path().join("resume.bin");
    write_file(&src, sizes.resume_file)?;
    let opts = || {
        let mut o = PeerOptions::new(server.url(), PublishableKey::new(KEY));
        o.engine.udp_addrs = vec!["127.0.0.1:0".into()];
        o
    };
    let mut times = Vec::new();
    for i in 0..sizes.resume_trials {
        let room = format!("resume-{i}");
        let (a, mut ae) = ChatSession::start(ChatConfig::new(opts(), &room, "alice")).await?;
        let mut cfg = ChatConfig::new(opts(), &room, "bob");
        cfg.files.download_dir = Some(dir.path().join(format!("inbox-{i}")));
        cfg.files.auto_accept = true;
        let (b, mut be) = ChatSession::start(cfg).await?;
        until(&mut ae, |e| matches!(e, ChatEvent::ChannelOpen { .. })).await?;
        until(&mut be, |e| matches!(e, ChatEvent::ChannelOpen { .. })).await?;
        a.send_file(&src, None).await?;
        let half = sizes.resume_file / 2;
        let at = until(&mut be, |e| {
            matches!(e, ChatEvent::FileProgress { bytes, .. } if *bytes >= half)
                || matches!(e, ChatEvent::FileDone { .. })
        })
        .await?;
        let ChatEvent::FileProgress { bytes: before, size, .. } = at else {
            anyhow::bail!("the transfer ended before it was half-way: no rebuild to measure (use a bigger file)")
        };
        anyhow::ensure!(before < size, "the transfer was complete before the rebuild (use a bigger file)");
        let bob = a.peer().remotes().await.into_iter().next().ok_or_else(|| anyhow::anyhow!("no peer"))?;
        let t = Instant::now();
        bob.rebuild().await;
        // The first progress past the point it broke at, once the connection went down.
        let mut broke = false;
        let moved = tokio::time::timeout(LIMIT, async {
            while let Some(e) = be.next().await {
                match e {
                    ChatEvent::StateChange { .. } => broke = true,
                    ChatEvent::FileProgress { bytes, .. } if broke && bytes > before => {
                        return Ok((t.elapsed(), false))
                    }
                    ChatEvent::FileDone { .. } if broke => return Ok((t.elapsed(), true)),
                    ChatEvent::FileDone { .. } => anyhow::bail!("the transfer ended before the connection went down"),
                    ChatEvent::FileFailed { message, .. } => anyhow::bail!("the transfer failed: {message}"),
                    _ => {}
                }
            }
            anyhow::bail!("the session ended")
        })
        .await??;
        let (took, done) = moved;
        times.push(took);
        if !done {
            until(&mut be, |e| matches!(e, ChatEvent::FileDone { .. })).await?;
        }
        a.leave().await;
        b.leave().await;
    }
    Ok(times)
}

/// The next event `f` accepts, within [`LIMIT`].
async fn until(events: &mut peerchat_chat::ChatEvents, f: impl Fn(&ChatEvent) -> bool) -> anyhow::Result<ChatEvent> {
    tokio::time::timeout(LIMIT, async {
        while let Some(e) = events.next().await {
            if let ChatEvent::FileFailed { message, .. } = &e {
                anyhow::bail!("the transfer failed: {message}");
            }
            if f(&e) {
                return Ok(e);
            }
        }
        anyhow::bail!("the session ended")
    })
    .await?
}

/// A chat-cli process printing JSON events.
struct Cli {
    _child: Child,
    pid: u32,
    stdin: tokio::process::ChildStdin,
    events: mpsc::UnboundedReceiver<Value>,
}

impl Cli {
    async fn start(bin: &Path, url: &str, name: &str, extra: &[&str]) -> anyhow::Result<Cli> {
        let mut child = Command::new(bin)
            .args(["--url", url, "--key", KEY, "--room", "files", "--name", name, "--json"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start {}: {e}", bin.display()))?;
        let pid = child.id().ok_or_else(|| anyhow::anyhow!("chat-cli exited at once"))?;
        let stdin = child.stdin.take().ok_or_else(|| anyhow::anyhow!("no stdin"))?;
        let mut lines = BufReader::new(child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?).lines();
        let (tx, events) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                if let Ok(v) = serde_json::from_str::<Value>(&l) {
                    let _ = tx.send(v);
                }
            }
        });
        Ok(Cli { _child: child, pid, stdin, events })
    }

    async fn say(&mut self, line: &str) -> anyhow::Result<()> {
        self.stdin.write_all(format!("{line}\n").as_bytes()).await?;
        Ok(self.stdin.flush().await?)
    }

    /// The next event named `event`; an error on `file-failed` or a fatal error.
    async fn wait(&mut self, event: &str) -> anyhow::Result<Value> {
        tokio::time::timeout(LIMIT, async {
            while let Some(v) = self.events.recv().await {
                if v["event"] == event {
                    return Ok(v);
                }
                if v["event"] == "file-failed" || (v["event"] == "error" && v["fatal"] == true) {
                    anyhow::bail!("{v}");
                }
            }
            anyhow::bail!("chat-cli ended before {event}")
        })
        .await?
    }
}

/// The table rows.
pub fn rows(r: &Results) -> Vec<String> {
    let mb = r.size as f64 / 1e6;
    let ours = mb / r.secs;
    let (tcp, ratio) = match &r.tcp_secs {
        Ok(s) => (format!("{:.1} MB/s", mb / s), format!("{:.2}×", ours / (mb / s))),
        Err(e) => (format!("– ({e})"), "–".into()),
    };
    let mib = |kib: u64| kib as f64 / 1024.0;
    let above = |(idle, peak): (u64, u64)| mib(peak.saturating_sub(idle));
    let mut resume: Vec<f64> = r.resume.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    resume.sort_by(f64::total_cmp);
    let median = resume.get(resume.len() / 2).copied().unwrap_or(f64::NAN);
    let max = resume.last().copied().unwrap_or(f64::NAN);
    let two = match &r.sdk_two_mbps {
        Ok(m) => format!("{m:.1} MB/s, files ÷ it = {:.2}×", ours / m),
        Err(e) => format!("– ({e})"),
    };
    vec![
        format!(
            "| file of {} MiB between two chat-cli processes (loopback), verified by SHA-256 (reference: the same file through socat over TCP; the SDK's 16 KiB bulk in this run, one process: {:.1} MB/s, files ÷ it = {:.2}×; two processes: {two}) | {ours:.1} MB/s | {tcp} | {ratio} | – | – |",
            r.size >> 20,
            r.sdk_mbps,
            ours / r.sdk_mbps
        ),
        format!(
            "| file transfer memory: peak RSS above idle during it, sender · receiver (goal: under 64 MiB) | {:.1} MiB · {:.1} MiB (idle {:.1} · {:.1} MiB) | – | – | – | – |",
            above(r.rss[0]),
            above(r.rss[1]),
            mib(r.rss[0].0),
            mib(r.rss[1].0)
        ),
        format!(
            "| file transfer resumed after a forced rebuild half-way: time until bytes move again, median (max) of {} | {median:.0} ms ({max:.0} ms) | – | – | – | – |",
            r.resume.len()
        ),
    ]
}

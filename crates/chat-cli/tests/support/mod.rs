//! Test support: chat-cli (or any process speaking its JSON events) as a child process.
#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use signal_server::Config;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

pub mod netns;
pub mod servers;

pub const KEY: &str = "pk_test_cli";
pub const WAIT: Duration = Duration::from_secs(20);
pub const BIN: &str = env!("CARGO_BIN_EXE_chat-cli");

/// A server config with `[server]` fields and the test key.
pub fn config(server_fields: &str) -> Config {
    Config::for_keys_with(server_fields, &[KEY]).expect("test config is valid")
}

/// How long a first connection may take: past the SDK's connect timeout (20 s), so a
/// first attempt that stalls is rebuilt as the SDK does for any user, and the test goes
/// on (how long connecting takes is measured in the benchmarks, not here).
pub const CONNECT_WAIT: Duration = Duration::from_secs(45);

/// Alice and Bob in room "lobby" of the server at `url`, each with its channel open.
pub async fn pair(url: &str) -> (Cli, Cli) {
    let mut a = Cli::start(url, KEY, "alice").await;
    let mut b = Cli::start(url, KEY, "bob").await;
    a.expect_within(CONNECT_WAIT, "channel-open", |_| true).await;
    b.expect_within(CONNECT_WAIT, "channel-open", |_| true).await;
    (a, b)
}

pub struct Cli {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub events: mpsc::UnboundedReceiver<Value>,
    pub id: String,
    /// The process's log (stderr, with the SDK at debug), shown when a wait fails;
    /// deleted with the `Cli`.
    log: Option<tempfile::NamedTempFile>,
}

/// The SDK's and the chat's decisions, the engine's warnings: enough to tell why a
/// connection did not come up.
const CHILD_LOG: &str = "warn,peerchat_peer=debug,peerchat_chat=debug,chat_cli=debug";

impl Cli {
    pub async fn start(url: &str, key: &str, name: &str) -> Cli {
        let mut cmd = Command::new(BIN);
        cmd.args(["--url", url, "--key", key, "--room", "lobby", "--name", name, "--json"]);
        Cli::spawn(cmd).await
    }

    /// Starts any peer process that prints chat-cli's JSON events (a `welcome` first)
    /// and reads lines on stdin.
    pub async fn spawn(mut cmd: Command) -> Cli {
        let (log, stderr) = if std::env::var_os("CHAT_CLI_TEST_LOGS").is_some() {
            (None, Stdio::inherit())
        } else {
            let log = tempfile::NamedTempFile::new().expect("a temporary log file");
            let stderr = Stdio::from(log.reopen().expect("the log file reopens"));
            cmd.env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| CHILD_LOG.into()));
            (Some(log), stderr)
        };
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdin = child.stdin.take();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(l)) = lines.next_line().await {
                let v: Value = serde_json::from_str(&l).unwrap_or_else(|_| panic!("not JSON: {l}"));
                let _ = tx.send(v);
            }
        });
        let mut cli = Cli { child, stdin, events: rx, id: String::new(), log };
        let w = cli.expect("welcome", |_| true).await;
        cli.id = w["peerId"].as_str().unwrap().to_string();
        cli
    }

    /// Waits for an event named `event` that satisfies `f`, skipping others.
    pub async fn expect(&mut self, event: &str, f: impl Fn(&Value) -> bool) -> Value {
        self.expect_within(WAIT, event, f).await
    }

    pub async fn expect_within(&mut self, wait: Duration, event: &str, f: impl Fn(&Value) -> bool) -> Value {
        let mut skipped = Vec::new();
        let found = tokio::time::timeout(wait, async {
            loop {
                let v = self.events.recv().await.unwrap_or_else(|| panic!("output ended waiting for {event}"));
                if v["event"] == event && f(&v) {
                    return v;
                }
                skipped.push(v);
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("no {event} event in time; skipped {skipped:?}\n{}", self.log_tail()))
    }

    /// The last lines the process logged, for a failure's message.
    pub fn log_tail(&self) -> String {
        let Some(log) = &self.log else { return "(its log went to the test's stderr)".into() };
        let text = std::fs::read_to_string(log.path()).unwrap_or_else(|e| format!("(log unreadable: {e})"));
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(80)..].join("\n");
        format!("--- the last {} lines of its log ---\n{tail}\n--- end of its log ---", lines.len().min(80))
    }

    /// Every event up to and including the first `event`.
    pub async fn collect_until(&mut self, event: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        tokio::time::timeout(WAIT, async {
            loop {
                let v = self.events.recv().await.expect("output continues");
                let done = v["event"] == event;
                seen.push(v);
                if done {
                    return;
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("no {event} in time; saw {seen:?}"));
        seen
    }

    pub async fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// Closes stdin and returns the exit code.
    pub async fn finish(mut self) -> i32 {
        drop(self.stdin.take());
        let status = tokio::time::timeout(WAIT, self.child.wait()).await.unwrap().unwrap();
        status.code().unwrap_or(-1)
    }
}

/// What became of one chat line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// `to` printed it (over `via`, if given) and `from` got its receipt.
    Delivered,
    /// `from` printed an error event.
    Reported,
}

/// Follows the line `line` said on `from` until it is delivered to `to` or reported by
/// `from`. Panics, with what both sides printed, if neither happens within `wait`.
pub async fn fate(from: &mut Cli, to: &mut Cli, line: &str, via: Option<&str>, wait: Duration) -> Fate {
    let deadline = tokio::time::Instant::now() + wait;
    let (mut arrived, mut acked) = (false, false);
    let mut seen = Vec::new();
    loop {
        tokio::select! {
            v = to.events.recv() => {
                let v: Value = v.expect("receiver output continues");
                arrived |= v["event"] == "message" && v["text"] == line && via.is_none_or(|via| v["via"] == via);
                seen.push(format!("to: {v}"));
            }
            v = from.events.recv() => {
                let v: Value = v.expect("sender output continues");
                if v["event"] == "error" {
                    return Fate::Reported;
                }
                acked |= v["event"] == "delivered";
                seen.push(format!("from: {v}"));
            }
            _ = tokio::time::sleep_until(deadline) => panic!(
                "{line:?}: neither delivered nor reported; saw {seen:#?}\nsender: {}\nreceiver: {}",
                from.log_tail(),
                to.log_tail()
            ),
        }
        if arrived && acked {
            return Fate::Delivered;
        }
    }
}

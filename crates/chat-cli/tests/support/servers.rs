//! Helpers for tests where processes come and go: the `signal-server` binary started on
//! a port, signals, and checks that chat goes on and presence stays put.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::time::Instant;

use super::Cli;

pub fn kill(pid: u32, sig: &str) {
    assert!(std::process::Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success());
}

/// Says numbered lines on `from` until `to` prints one, within `wait`. Returns every
/// event either side printed meanwhile, for checks on what must not have happened.
pub async fn chat_works(from: &mut Cli, to: &mut Cli, text: &str, wait: Duration) -> Vec<Value> {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    for n in 0.. {
        let line = format!("{text} #{n}");
        from.say(&line).await;
        let next = Instant::now() + Duration::from_secs(3);
        loop {
            tokio::select! {
                v = to.events.recv() => {
                    let v: Value = v.expect("receiver output continues");
                    if v["event"] == "message" && v["text"] == line.as_str() {
                        return seen;
                    }
                    seen.push(v);
                }
                v = from.events.recv() => seen.push(v.expect("sender output continues")),
                _ = tokio::time::sleep_until(next) => break,
            }
        }
        assert!(Instant::now() < deadline, "{text:?}: no line got through within {wait:?}; saw {seen:?}");
    }
    unreachable!()
}

/// Every event of `c` up to and including the first that `f` accepts, within `wait`.
pub async fn events_until(c: &mut Cli, wait: Duration, f: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    let found = tokio::time::timeout(wait, async {
        while let Some(v) = c.events.recv().await {
            let done = f(&v);
            seen.push(v);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "not seen within {wait:?}; saw {seen:?}");
    seen
}

/// Presence stayed as it was: nobody left or joined.
pub fn presence_unchanged(seen: &[Value]) {
    let changes: Vec<_> = seen.iter().filter(|v| v["event"] == "peer-left" || v["event"] == "peer-joined").collect();
    assert!(changes.is_empty(), "{changes:?}");
}

/// Everything `c` prints for `d` (to look for events that must not happen).
pub async fn drain_for(c: &mut Cli, d: Duration) -> Vec<Value> {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(d, async {
        while let Some(v) = c.events.recv().await {
            seen.push(v);
        }
    })
    .await;
    seen
}

/// The `signal-server` binary, built with the workspace (`cargo test --workspace`).
pub fn server_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe.parent().and_then(|deps| deps.parent()).unwrap().join("signal-server");
    assert!(bin.exists(), "{} is missing: run the tests with `cargo test --workspace`", bin.display());
    bin
}

pub async fn start_server(config: &std::path::Path, port: u16) -> Child {
    let mut child = Command::new(server_bin())
        .args(["--config", &config.to_string_lossy(), "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first).await.unwrap();
    assert!(first.starts_with("listening on "), "{first}");
    child
}

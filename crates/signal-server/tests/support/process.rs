//! The `signal-server` binary as a child process: started with arguments, its first
//! stdout line read for the URL, signalled, and waited for with its logs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_signal-server");

pub struct Running {
    pub child: Child,
    pub url: String,
    /// stderr is drained on a thread so a chatty server never blocks on a full pipe.
    pub logs: std::thread::JoinHandle<String>,
    /// What stderr said so far.
    pub seen: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Running {
    /// Waits (at most 10 s) until the logs contain `text`.
    pub fn wait_for_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.seen.lock().unwrap().contains(text) {
            assert!(Instant::now() < deadline, "`{text}` not logged within 10 s: {}", self.seen.lock().unwrap());
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

pub fn start(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut child = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_string();
    assert!(
        (url.starts_with("ws://127.0.0.1:") || url.starts_with("wss://127.0.0.1:")) && url.ends_with("/v1"),
        "{url}"
    );
    let stderr = child.stderr.take().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let shared = seen.clone();
    let logs = std::thread::spawn(move || {
        let mut lines = BufReader::new(stderr);
        let mut line = String::new();
        while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
            shared.lock().unwrap().push_str(&line);
            line.clear();
        }
        let all = shared.lock().unwrap().clone();
        all
    });
    Running { child, url, logs, seen }
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap().success();
    assert!(ok);
}

/// Sends SIGTERM and returns (exit code, stderr, how long the exit took).
pub fn stop(r: Running) -> (i32, String, Duration) {
    signal(&r.child, "-TERM");
    stop_waited(r)
}

/// Waits for the exit; returns (exit code, stderr, how long the wait took).
pub fn stop_waited(mut r: Running) -> (i32, String, Duration) {
    let t = Instant::now();
    let status = r.child.wait().unwrap();
    let took = t.elapsed();
    (status.code().unwrap_or(-1), r.logs.join().unwrap(), took)
}

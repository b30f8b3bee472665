//! Processes that die or stop: the signalling server killed with SIGKILL and started
//! again, a peer killed, a peer frozen with SIGSTOP for 40 s. Each case ends with correct
//! presence and working chat, and with as many sockets as before (no socket or session
//! leaks: TCP and UDP sockets counted in /proc for chat-cli, sessions and connections in
//! the server's own stats).

mod support;

use std::time::Duration;

use serde_json::Value;
use signal_server::Server;
use support::servers::*;
use support::*;

/// Open TCP and UDP sockets of process `pid`. (Unix sockets are left out: the engine's
/// reactor threads, a bounded process-wide pool started lazily, each hold one.)
fn sockets(pid: u32) -> usize {
    let mut inet = std::collections::HashSet::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")).unwrap_or_default();
        inet.extend(text.lines().skip(1).filter_map(|l| l.split_whitespace().nth(9).map(str::to_string)));
    }
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else { return 0 };
    dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|l| l.to_string_lossy().strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string))
        .filter(|inode| inet.contains(inode))
        .count()
}

/// The sockets `pid` holds in its steady state: the most seen over one second (a count
/// taken while a connection is being replaced can miss its new socket, and a lower
/// baseline would then fail the leak check for nothing).
async fn steady_sockets(pid: u32) -> usize {
    let mut most = 0;
    for _ in 0..10 {
        most = most.max(sockets(pid));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    most
}

/// Waits up to 30 s for `pid` to hold at most `at_most` sockets (a replaced connection's
/// sockets go with its engine tasks, some time after the close; a leak never goes; a new
/// connection may gather on fewer interfaces than the old one); the counts seen, if it
/// never does.
async fn sockets_settle(pid: u32, at_most: usize) -> Result<(), Vec<usize>> {
    let mut seen = Vec::new();
    for _ in 0..150 {
        let n = sockets(pid);
        if n <= at_most {
            return Ok(());
        }
        if seen.last() != Some(&n) {
            seen.push(n);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_frozen_for_40_seconds_comes_back_with_presence_and_sockets_intact() {
    let s = Server::spawn(config("")).await.unwrap();
    let (mut a, mut b) = pair(&s.url()).await;
    chat_works(&mut a, &mut b, "before", Duration::from_secs(10)).await;
    let (a_pid, b_pid) = (a.child.id().unwrap(), b.child.id().unwrap());
    let before = (steady_sockets(a_pid).await, steady_sockets(b_pid).await);

    kill(b_pid, "-STOP");
    a.expect_within(Duration::from_secs(30), "state-change", |v| v["to"] == "reconnecting").await;
    a.say("while bob is frozen").await;
    a.expect_within(Duration::from_secs(15), "error", |_| true).await;
    tokio::time::sleep(Duration::from_secs(40)).await;
    kill(b_pid, "-CONT");

    let mut seen = chat_works(&mut a, &mut b, "after", Duration::from_secs(60)).await;
    seen.extend(chat_works(&mut b, &mut a, "and back", Duration::from_secs(30)).await);
    // Presence: bob never left (the server kept his socket; 40 s is under its idle
    // timeout), and nobody else appeared.
    seen.extend(drain_for(&mut a, Duration::from_secs(3)).await);
    presence_unchanged(&seen);
    let stats = s.stats().await;
    assert_eq!((stats.connections, stats.sessions), (2, 2), "{stats:?}");
    assert_eq!(sockets_settle(a_pid, before.0).await, Ok(()), "alice's sockets (before: {})", before.0);
    assert_eq!(sockets_settle(b_pid, before.1).await, Ok(()), "bob's sockets (before: {})", before.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_peer_leaves_and_takes_its_session_and_sockets_with_it() {
    let s = Server::spawn(config("grace_period_secs = 2")).await.unwrap();
    let mut a = Cli::start(&s.url(), KEY, "alice").await;
    let a_pid = a.child.id().unwrap();
    let alone = steady_sockets(a_pid).await;
    let mut b = Cli::start(&s.url(), KEY, "bob").await;
    a.expect("channel-open", |_| true).await;
    let b_id = b.id.clone();
    kill(b.child.id().unwrap(), "-KILL");
    let _ = b.child.wait().await;
    a.expect("peer-left", |v| v["peerId"] == b_id.as_str()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stats = s.stats().await;
    assert_eq!((stats.connections, stats.sessions, stats.sessions_in_grace), (1, 1, 0), "{stats:?}");
    assert_eq!(sockets_settle(a_pid, alone).await, Ok(()), "alice's sockets (alone: {alone})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_killed_with_sigkill_and_restarted_resumes_everyone() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("server.toml");
    std::fs::write(&cfg, format!("[server]\nsecret = \"sigkill-test-secret-0123456789\"\n[[keys]]\nkey = \"{KEY}\"\n"))
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut server = start_server(&cfg, port).await;
    let url = format!("ws://127.0.0.1:{port}/v1");
    let (mut a, mut b) = pair(&url).await;
    let (a_id, b_id) = (a.id.clone(), b.id.clone());
    let a_pid = a.child.id().unwrap();
    let before = steady_sockets(a_pid).await;

    kill(server.id().unwrap(), "-KILL");
    let _ = server.wait().await;
    a.expect("signalling", |v| v["state"] == "reconnecting").await;
    // Peer to peer goes on without the server.
    let mut seen = chat_works(&mut a, &mut b, "while the server is dead", Duration::from_secs(10)).await;

    let _server = start_server(&cfg, port).await;
    let connected = |v: &Value| v["event"] == "signalling" && v["state"] == "connected";
    seen.extend(events_until(&mut a, Duration::from_secs(30), connected).await);
    b.expect_within(Duration::from_secs(30), "signalling", |v| v["state"] == "connected").await;
    seen.extend(chat_works(&mut b, &mut a, "after the restart", Duration::from_secs(20)).await);
    seen.extend(drain_for(&mut a, Duration::from_secs(3)).await);
    // Same identities (resumed with the tokens), nobody left or joined twice.
    presence_unchanged(&seen);
    let ids: Vec<_> = seen.iter().filter(|v| v["event"] == "welcome").map(|v| v["peerId"].clone()).collect();
    assert!(ids.iter().all(|id| id == a_id.as_str() || id == b_id.as_str()), "new identities: {ids:?}");
    chat_works(&mut a, &mut b, "still the same people", Duration::from_secs(10)).await;
    assert_ne!(a_id, b_id);
    assert_eq!(sockets_settle(a_pid, before).await, Ok(()), "alice's sockets (before: {before})");
}

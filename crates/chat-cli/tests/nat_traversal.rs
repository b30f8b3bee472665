//! Two people on two home networks behind NAT routers, with the signalling server and a
//! real coturn on the "public internet", all in network namespaces made by the test
//! (`peerchat_testkit::netlab`; needs root, as CI runs). In each topology the path the
//! connection settled on is asserted, not only that chat works:
//! 1. endpoint-independent NAT (MASQUERADE): direct, through the NAT's mappings that STUN
//!    revealed (host candidates alone cannot work: the LANs are not routed);
//! 2. symmetric NAT (MASQUERADE --random-fully): only the TURN relay works, and it does,
//!    with the per-peer credentials the server hands out;
//! 3. UDP blocked between the LANs and the internet: the engine (webrtc 0.21.1) has no
//!    TURN over TCP or TLS, so no peer connection can form; the test pins that down.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use peerchat_testkit::coturn::Coturn;
use peerchat_testkit::netlab::{Nat, NatLab, PUBLIC_IP};
use serde_json::Value;
use support::*;

const TURN_SECRET: &str = "natlab-turn-secret-0123456789";

/// The `signal-server` binary beside chat-cli (`cargo test --workspace` builds both).
fn server_binary() -> PathBuf {
    let p = PathBuf::from(BIN).with_file_name("signal-server");
    assert!(p.exists(), "{} is missing: build it first (cargo build -p signal-server)", p.display());
    p
}

struct Public {
    _server: KillOnDrop,
    _turn: Coturn,
    url: String,
    _dir: tempfile::TempDir,
}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// coturn and the signalling server on the public side; `welcome` announces the TURN
/// server's STUN service and time-limited TURN credentials.
fn public_side(lab: &NatLab) -> Public {
    let turn = Coturn::start(Some(&lab.public), PUBLIC_IP, 3478, TURN_SECRET, "peerchat.test");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("server.toml");
    std::fs::write(&config, peerchat_testkit::netlab::server_toml(KEY, TURN_SECRET, &turn.url())).unwrap();
    let mut child = NatLab::command(&lab.public, server_binary())
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("signal-server starts");
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
    let Some(url) = line.trim().strip_prefix("listening on ").map(str::to_string) else {
        let mut err = String::new();
        let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
        panic!("signal-server did not start: {line:?} {err}");
    };
    Public { _server: KillOnDrop(child), _turn: turn, url, _dir: dir }
}

async fn peer(ns: &str, url: &str, name: &str) -> Cli {
    let mut cmd = tokio::process::Command::from(NatLab::command(ns, BIN));
    // Plain ws:// to the public side: this lab has no certificates (TLS is tested apart).
    cmd.args(["--url", url, "--key", KEY, "--room", "lobby", "--name", name, "--json", "--allow-plaintext"]);
    Cli::spawn(cmd).await
}

/// The path once the chat channel is open: the latest `path` event up to `channel-open`
/// (the pair is often chosen before the channel opens), or else the first one after it.
async fn path_of(c: &mut Cli) -> Value {
    let seen = c.collect_until("channel-open").await;
    match seen.into_iter().rev().find(|v| v["event"] == "path") {
        Some(p) => p,
        None => c.expect("path", |_| true).await,
    }
}

async fn chat_both_ways(a: &mut Cli, b: &mut Cli) {
    a.say("across the internet").await;
    assert_eq!(fate(a, b, "across the internet", Some("p2p"), WAIT).await, Fate::Delivered);
    b.say("and back").await;
    assert_eq!(fate(b, a, "and back", Some("p2p"), WAIT).await, Fate::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_two_nats_peers_connect_directly_through_the_mappings_stun_found() {
    let lab = NatLab::new(Nat::Masquerade);
    let public = public_side(&lab);
    let mut a = peer(&lab.host_a, &public.url, "alice").await;
    let mut b = peer(&lab.host_b, &public.url, "bob").await;
    for p in [path_of(&mut a).await, path_of(&mut b).await] {
        assert_eq!(p["route"], "direct-through-nat", "{p}");
        assert!(p["local"] != "relay" && p["remote"] != "relay", "{p}");
        // The other peer is reached at its router's public address, never its LAN one.
        let remote = p["remoteAddress"].as_str().unwrap();
        assert!(remote.starts_with("10.250.0."), "{p}");
    }
    chat_both_ways(&mut a, &mut b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_symmetric_nats_only_the_turn_relay_works_and_it_does() {
    let lab = NatLab::new(Nat::RandomFully);
    let public = public_side(&lab);
    let mut a = peer(&lab.host_a, &public.url, "alice").await;
    let mut b = peer(&lab.host_b, &public.url, "bob").await;
    for p in [path_of(&mut a).await, path_of(&mut b).await] {
        assert_eq!(p["route"], "relayed", "{p}");
        assert!(p["local"] == "relay" || p["remote"] == "relay", "{p}");
    }
    chat_both_ways(&mut a, &mut b).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_udp_blocked_no_peer_connection_forms_because_the_engine_has_no_turn_over_tcp() {
    let lab = NatLab::new(Nat::Masquerade);
    lab.block_udp();
    let public = public_side(&lab);
    let mut a = peer(&lab.host_a, &public.url, "alice").await;
    let _b = peer(&lab.host_b, &public.url, "bob").await;
    a.expect("peer-joined", |_| true).await;
    // Long enough for the SDK's 20 s connect timeout and the rebuild after it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    let mut seen = Vec::new();
    while let Ok(Some(v)) = tokio::time::timeout_at(deadline, a.events.recv()).await {
        assert_ne!(
            v["event"], "channel-open",
            "a channel opened with UDP blocked: the engine gained TURN over TCP; update docs/sdk.md ({seen:?})"
        );
        seen.push(v);
    }
    let states: Vec<&Value> = seen.iter().filter(|v| v["event"] == "state-change").map(|v| &v["to"]).collect();
    assert!(!states.iter().any(|s| *s == "connected"), "{seen:?}");
    assert!(states.iter().any(|s| *s == "connecting"), "the attempt is visible: {seen:?}");
}

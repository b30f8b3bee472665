//! Two signal-server processes sharing a real redis-server behind a real nginx load
//! balancer, and chat-cli peers on different instances: they chat peer to peer and
//! through the server, across a Redis restart, a drain (SIGTERM) and a kill (SIGKILL) of
//! an instance, and presence stays right throughout (nobody leaves, nobody joins twice).

mod support;

use std::time::Duration;

use peerchat_testkit::nginx::Nginx;
use peerchat_testkit::ports::free_tcp_port;
use peerchat_testkit::redis::Redis;
use serde_json::Value;
use support::servers::*;
use support::*;
use tokio::process::{Child, Command};

/// nginx with two entrances: the first prefers instance `a` (falling back to `b`), the
/// second prefers `b`, so the test knows where each client lands and where it goes when
/// its instance is gone.
fn load_balancer(entrances: (u16, u16), a: u16, b: u16) -> String {
    let server = |listen: u16, upstream: &str| {
        format!(
            "server {{\n  listen 127.0.0.1:{listen};\n  location = /v1 {{\n    proxy_pass http://{upstream};\n\
             proxy_http_version 1.1;\n    proxy_set_header Upgrade $http_upgrade;\n\
             proxy_set_header Connection $connection_upgrade;\n    proxy_set_header Host $host;\n\
             proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
             proxy_connect_timeout 1s;\n    proxy_read_timeout 120s;\n  }}\n}}\n"
        )
    };
    format!(
        "map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}\n\
         upstream prefer_a {{ server 127.0.0.1:{a} max_fails=0; server 127.0.0.1:{b} backup; }}\n\
         upstream prefer_b {{ server 127.0.0.1:{b} max_fails=0; server 127.0.0.1:{a} backup; }}\n{}{}",
        server(entrances.0, "prefer_a"),
        server(entrances.1, "prefer_b")
    )
}

fn cli(url: &str, room: &str, name: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--url", url, "--key", KEY, "--room", room, "--name", name, "--json"]).args(extra);
    cmd
}

/// Reads `peer-joined` events until each of `names` has joined, in any order.
async fn until_joined(c: &mut Cli, names: &[&str]) {
    let mut missing = names.to_vec();
    while !missing.is_empty() {
        let v = c.expect("peer-joined", |_| true).await;
        missing.retain(|n| v["name"] != *n);
    }
}

/// Every event of `c` within `d`, plus what `seen` already had.
async fn note(seen: &mut Vec<Value>, clis: &mut [&mut Cli], d: Duration) {
    for c in clis.iter_mut() {
        seen.extend(drain_for(c, d).await);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_across_instances_survives_a_redis_restart_a_drain_and_a_kill() {
    let mut redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("cluster.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\nsecret = \"a-shared-secret-of-the-cluster\"\ngrace_period_secs = 20\n\
             [cluster]\nredis = \"{}\"\nheartbeat_ms = 200\ninstance_ttl_ms = 1000\ndrain_secs = 8\n\
             [[keys]]\nkey = \"{KEY}\"\n",
            redis.url()
        ),
    )
    .unwrap();
    let (port_a, port_b) = (free_tcp_port(), free_tcp_port());
    let mut inst_a: Child = start_server(&cfg, port_a).await;
    let mut inst_b: Child = start_server(&cfg, port_b).await;
    let entrances = (free_tcp_port(), free_tcp_port());
    let _lb = Nginx::start(&load_balancer(entrances, port_a, port_b), entrances.1);
    let (via_a, via_b) = (format!("ws://127.0.0.1:{}/v1", entrances.0), format!("ws://127.0.0.1:{}/v1", entrances.1));

    // Alice (instance A) and Bob (instance B) chat peer to peer in one room; Carol (A) and
    // Dave (B), in another, may only use a relay and have none, so theirs goes through
    // the servers.
    let mut alice = Cli::spawn(cli(&via_a, "lobby", "alice", &[])).await;
    let mut bob = Cli::spawn(cli(&via_b, "lobby", "bob", &[])).await;
    alice.expect("channel-open", |_| true).await;
    bob.expect("channel-open", |_| true).await;
    let relay_only = ["--ice-policy", "relay", "--server-fallback"];
    let mut carol = Cli::spawn(cli(&via_a, "backroom", "carol", &relay_only)).await;
    let mut dave = Cli::spawn(cli(&via_b, "backroom", "dave", &relay_only)).await;
    until_joined(&mut carol, &["dave"]).await;
    let wait = Duration::from_secs(30);
    alice.say("p2p at first").await;
    assert_eq!(fate(&mut alice, &mut bob, "p2p at first", Some("p2p"), wait).await, Fate::Delivered);
    carol.say("through the servers at first").await;
    let m = dave.expect("message", |v| v["kind"] == "chat").await;
    assert_eq!((m["text"].as_str(), m["via"].as_str()), (Some("through the servers at first"), Some("server")));
    let mut seen = Vec::new();
    let mut check = |what: &str, p2p: Vec<Value>, server: Vec<Value>| {
        seen.extend(p2p);
        seen.extend(server);
        eprintln!("{what}: chat went on");
    };

    // 1. Redis restarts (empty).
    redis.stop();
    redis.start_again();
    let p2p = chat_works(&mut bob, &mut alice, "p2p after a Redis restart", wait).await;
    let server = chat_works(&mut dave, &mut carol, "through the servers after a Redis restart", wait).await;
    check("redis restart", p2p, server);

    // 2. Instance A is drained: its clients resume on B through the load balancer.
    kill(inst_a.id().unwrap(), "-TERM");
    assert!(tokio::time::timeout(Duration::from_secs(20), inst_a.wait()).await.is_ok(), "the drain ends");
    let p2p = chat_works(&mut alice, &mut bob, "p2p after a drain", wait).await;
    let server = chat_works(&mut carol, &mut dave, "through the server after a drain", wait).await;
    check("drain", p2p, server);

    // 3. A comes back; B is killed: everyone resumes on A.
    inst_a = start_server(&cfg, port_a).await;
    kill(inst_b.id().unwrap(), "-KILL");
    let _ = inst_b.wait().await;
    let p2p = chat_works(&mut bob, &mut alice, "p2p after a kill", wait).await;
    let server = chat_works(&mut dave, &mut carol, "through the server after a kill", wait).await;
    check("kill", p2p, server);

    note(&mut seen, &mut [&mut alice, &mut bob, &mut carol, &mut dave], Duration::from_millis(500)).await;
    presence_unchanged(&seen);
    let welcomes: Vec<&Value> = seen.iter().filter(|v| v["event"] == "welcome").collect();
    let ids = [&alice.id, &bob.id, &carol.id, &dave.id];
    assert!(welcomes.iter().all(|w| ids.iter().any(|id| w["peerId"] == id.as_str())), "new identities: {welcomes:?}");
    drop(inst_a);
}

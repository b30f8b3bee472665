//! A network cut between two chat-cli peers on separate hosts (network namespaces joined
//! by veth pairs; needs root, as CI runs). The signalling server stays reachable; only
//! the peer-to-peer link goes down. The SDK recovers by itself, the user sees the state,
//! and a line typed during the cut is either delivered (resent once the path is back) or
//! reported as not delivered: never silently lost.

mod support;

use std::time::Duration;

use signal_server::Server;
use support::netns::TwoHosts;
use support::*;
use tokio::time::Instant;

async fn start(hosts: &TwoHosts, port: u16) -> (Cli, Cli) {
    let mut peers = Vec::new();
    for (ns, gw, name) in [(&hosts.a, &hosts.gw_a, "alice"), (&hosts.b, &hosts.gw_b, "bob")] {
        let mut cmd = TwoHosts::command(ns, BIN);
        let url = format!("ws://{gw}:{port}/v1");
        // Plain ws:// to another host (the server in the root namespace) must be allowed.
        cmd.args(["--url", &url, "--key", KEY, "--room", "lobby", "--name", name, "--json", "--allow-plaintext"]);
        peers.push(Cli::spawn(cmd).await);
    }
    let (mut a, mut b) = (peers.remove(0), peers.remove(0));
    a.expect("channel-open", |_| true).await;
    b.expect("channel-open", |_| true).await;
    (a, b)
}

async fn server() -> signal_server::ServerHandle {
    let mut cfg = config("");
    cfg.listen = "0.0.0.0:0".parse().unwrap();
    Server::spawn(cfg).await.unwrap()
}

/// Says numbered lines until one is delivered, within `wait`.
async fn chat_works(from: &mut Cli, to: &mut Cli, text: &str, wait: Duration) {
    let deadline = Instant::now() + wait;
    for n in 0.. {
        let line = format!("{text} #{n}");
        from.say(&line).await;
        let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        if fate(from, to, &line, None, left.min(Duration::from_secs(15))).await == Fate::Delivered {
            return;
        }
        assert!(Instant::now() < deadline, "{text:?}: no line got through within {wait:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_second_cut_heals_and_the_line_typed_meanwhile_is_delivered_or_reported() {
    let hosts = TwoHosts::create();
    let s = server().await;
    let (mut a, mut b) = start(&hosts, s.addr().port()).await;
    chat_works(&mut a, &mut b, "before the cut", Duration::from_secs(10)).await;

    hosts.cut();
    a.say("typed during a short cut").await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    hosts.restore();
    // Resent every second until acked: the path is back within its 10 s deadline, but
    // ICE may still be repairing it, so a report is an acceptable fate too.
    let fate = fate(&mut a, &mut b, "typed during a short cut", None, Duration::from_secs(20)).await;
    eprintln!("the line typed during the 5 s cut was {fate:?}");
    chat_works(&mut a, &mut b, "after the short cut", Duration::from_secs(45)).await;
    chat_works(&mut b, &mut a, "and back", Duration::from_secs(45)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixty_second_cut_is_seen_reported_and_recovered_from() {
    let hosts = TwoHosts::create();
    let s = server().await;
    let (mut a, mut b) = start(&hosts, s.addr().port()).await;
    chat_works(&mut b, &mut a, "before the cut", Duration::from_secs(10)).await;

    hosts.cut();
    let cut_at = Instant::now();
    // The person sees it: the peer leaves `connected`.
    a.expect_within(Duration::from_secs(30), "state-change", |v| v["to"] == "reconnecting").await;
    eprintln!("alice saw the cut after {:?}", cut_at.elapsed());
    a.say("typed during a long cut").await;
    assert_eq!(fate(&mut a, &mut b, "typed during a long cut", None, Duration::from_secs(15)).await, Fate::Reported);
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(cut_at.elapsed())).await;
    hosts.restore();
    let back = Instant::now();
    chat_works(&mut a, &mut b, "after the long cut", Duration::from_secs(90)).await;
    eprintln!("chat worked again {:?} after the link came back", back.elapsed());
    chat_works(&mut b, &mut a, "and back", Duration::from_secs(30)).await;
}

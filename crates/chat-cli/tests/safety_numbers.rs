//! Safety numbers in chat-cli, as people use them: both sides print the same number,
//! `/verify` remembers the other side in `--state-dir`, a restart keeps the certificate
//! (still verified), and a man in the middle who swaps the fingerprints makes the numbers
//! differ and the verified peer a loud warning.

mod support;

use serde_json::Value;
use signal_server::Server;
use support::*;
use tokio::process::Command;

fn start(url: &str, name: &str, dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["--url", url, "--key", KEY, "--room", "lobby", "--name", name, "--json", "--state-dir"]);
    cmd.arg(dir);
    cmd
}

/// The next `security` event about `peer_id`.
async fn security(cli: &mut Cli, peer_id: &str) -> Value {
    cli.expect("security", |v| v["peerId"] == peer_id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_verified_peer_stays_verified_until_a_man_in_the_middle_swaps_its_certificate() {
    let s = Server::spawn(config("")).await.unwrap();
    let dirs = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (dirs.path().join("alice"), dirs.path().join("bob"));
    let url = s.url();

    // Both sides print the same number; nobody is verified yet.
    let mut a = Cli::spawn(start(&url, "alice", &dir_a)).await;
    let mut b = Cli::spawn(start(&url, "bob", &dir_b)).await;
    let (sa, sb) = (security(&mut a, &b.id).await, security(&mut b, &a.id).await);
    assert_eq!(sa["safetyNumber"], sb["safetyNumber"], "{sa} {sb}");
    assert_eq!(sa["trust"], "unverified");
    assert_eq!(sa["name"], "bob");

    // Alice compared it with Bob: verified.
    a.say("/verify bob").await;
    let v = a.expect("security", |v| v["peerId"] == b.id.as_str() && v["trust"] == "verified").await;
    assert_eq!(v["safetyNumber"], sa["safetyNumber"]);
    a.say("/safety").await;
    a.expect("security", |v| v["peerId"] == b.id.as_str() && v["trust"] == "verified").await;

    // Bob restarts with his state: the same certificate, still verified.
    assert_eq!(b.finish().await, 0);
    let b = Cli::spawn(start(&url, "bob", &dir_b)).await;
    let again = security(&mut a, &b.id).await;
    assert_eq!(again["trust"], "verified", "{again}");
    assert_eq!(again["safetyNumber"], sa["safetyNumber"]);
    assert_eq!(b.finish().await, 0);
    assert_eq!(a.finish().await, 0);

    // Both come back through a relay that swaps the fingerprints in the SDPs.
    let fake = format!("sha-256 {}", ["AB"; 32].join(":"));
    let swap = move |t: String| peerchat_testkit::ws_relay::swap_fingerprints(&t, &fake);
    let relay = peerchat_testkit::ws_relay::start(s.addr(), std::sync::Arc::new(swap)).await;
    let mitm = format!("ws://{relay}/v1");
    let mut a = Cli::spawn(start(&mitm, "alice", &dir_a)).await;
    let mut b = Cli::spawn(start(&mitm, "bob", &dir_b)).await;
    let (wa, wb) = (security(&mut a, &b.id).await, security(&mut b, &a.id).await);
    assert_eq!(wa["trust"], "changed", "alice verified bob's certificate, and this is another: {wa}");
    assert_ne!(wa["safetyNumber"], wb["safetyNumber"], "reading the numbers to each other reveals it");
    assert_ne!(wa["safetyNumber"], sa["safetyNumber"]);
    assert_eq!(b.finish().await, 0);
    assert_eq!(a.finish().await, 0);
}

#[tokio::test]
async fn verifying_before_a_number_is_known_or_an_unknown_peer_is_a_clear_error() {
    let s = Server::spawn(config("")).await.unwrap();
    let dirs = tempfile::tempdir().unwrap();
    let mut a = Cli::spawn(start(&s.url(), "alice", dirs.path())).await;
    a.say("/verify nobody").await;
    let e = a.expect("error", |_| true).await;
    assert_eq!(e["kind"], "unknown_peer", "{e}");
    a.say("/safety").await;
    let e = a.expect("error", |_| true).await;
    assert_eq!(e["kind"], "no_safety_number", "{e}");
    assert_eq!(a.finish().await, 0);
}

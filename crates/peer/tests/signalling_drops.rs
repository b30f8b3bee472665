//! Signalling outages do not stop peer-to-peer data: a server restart mid-chat and a
//! killed signalling socket both end with the same identities, working presence and
//! chat that never paused. A server stricter than it announced (close 4011) makes the
//! peer reconnect after its backoff, never give up.

mod support;
use peerchat_peer::{PeerEvent, PeerState, SignallingState};
use signal_server::{Config, Server};
use std::time::Duration;
use support::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

async fn wait_signalling(p: &mut TestPeer, want: SignallingState) {
    wait_event(p, |e| match e {
        PeerEvent::Signalling(s) if *s == want => Some(()),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_keeps_flowing_across_a_server_restart_and_identities_survive() {
    let secret = "secret = \"a-restart-secret-of-enough-length\"";
    let first = Server::spawn(config(secret)).await.unwrap();
    let addr = first.addr();
    let (mut a, mut b, ra, mut rb) = connected_pair(&first).await;
    let (a_id, b_id) = (a.peer_id().unwrap(), b.peer_id().unwrap());
    let (out, mut inc) = channel_pair(&ra, &mut rb).await;
    roundtrip(&out, &mut inc, "before").await;

    first.shutdown();
    first.stopped().await;
    wait_signalling(&mut a, SignallingState::Reconnecting).await;
    // The server is down: the DataChannel still carries chat.
    roundtrip(&out, &mut inc, "while the server is down").await;
    assert_eq!(ra.state(), PeerState::Connected);

    let mut cfg: Config = config(secret);
    cfg.listen = addr;
    let _second = Server::spawn(cfg).await.unwrap();
    wait_signalling(&mut a, SignallingState::Connected).await;
    wait_signalling(&mut b, SignallingState::Connected).await;
    roundtrip(&out, &mut inc, "after the restart").await;
    assert_eq!(a.peer_id().unwrap(), a_id);
    assert_eq!(b.peer_id().unwrap(), b_id);
    // Presence is right: each still sees exactly the other, and server routing works.
    let remotes = a.remotes().await;
    assert_eq!(remotes.len(), 1);
    assert_eq!(remotes[0].id(), b_id);
    a.send_to(&b_id, &serde_json::json!({"type":"hello","name":"alice"})).await.unwrap();
    let got = wait_event(&mut b, |e| match e {
        PeerEvent::Message { from, .. } => Some(from.clone()),
        _ => None,
    })
    .await;
    assert_eq!(got, a_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_another_secret_reconciles_to_one_remote_per_person() {
    let first = server().await;
    let addr = first.addr();
    let (mut a, mut b, _ra, _rb) = connected_pair(&first).await;
    let old_ids = (a.peer_id().unwrap(), b.peer_id().unwrap());
    first.shutdown();
    first.stopped().await;
    let mut cfg = Config::for_keys(&[KEY]);
    cfg.listen = addr;
    let _second = Server::spawn(cfg).await.unwrap();
    let fresh_welcome = |e: &PeerEvent| match e {
        PeerEvent::Welcome { peer_id, resumed: false } => Some(peer_id.clone()),
        _ => None,
    };
    let (new_a, new_b) = (wait_event(&mut a, fresh_welcome).await, wait_event(&mut b, fresh_welcome).await);
    assert!(new_a != old_ids.0 && new_b != old_ids.1, "{old_ids:?} -> {new_a} {new_b}");
    // New identities: each side ends with exactly one remote, the other's new id, connected.
    tokio::time::timeout(WAIT, async {
        loop {
            let (ida, idb) = (a.peer_id(), b.peer_id());
            let (ra, rb) = (a.remotes().await, b.remotes().await);
            let done = ra.len() == 1
                && rb.len() == 1
                && Some(ra[0].id().to_string()) == idb
                && Some(rb[0].id().to_string()) == ida
                && ra[0].state() == PeerState::Connected
                && rb[0].state() == PeerState::Connected;
            if done {
                return;
            }
            // Keep the event queues drained.
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), a.next_event()).await {}
            while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), b.next_event()).await {}
        }
    })
    .await
    .expect("reconciled");
    // `peer_id` follows the new identity (what `send_to`'s self-check and chat ids use).
    assert_eq!((a.peer_id(), b.peer_id()), (Some(new_a), Some(new_b)));
}

/// A TCP proxy whose connections can all be cut at once.
async fn proxy(target: std::net::SocketAddr) -> (std::net::SocketAddr, watch::Sender<u32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (cut_tx, cut_rx) = watch::channel(0u32);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let mut cut = cut_rx.clone();
            cut.borrow_and_update();
            tokio::spawn(async move {
                let Ok(mut upstream) = TcpStream::connect(target).await else { return };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                    _ = cut.changed() => {
                        let _ = client.shutdown().await;
                    }
                }
            });
        }
    });
    (addr, cut_tx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_signalling_socket_resumes_without_anyone_noticing() {
    let s = server().await;
    let (paddr, cut) = proxy(s.addr()).await;
    let mut opts = options(&s);
    opts.url = format!("ws://{paddr}/v1");
    let mut a = TestPeer::new(opts);
    a.join("lobby", "alice").await.unwrap();
    let mut b = joined(&s, "lobby", "bob").await;
    let mut ra = next_joined(&mut a).await;
    let rb = next_joined(&mut b).await;
    assert!(tokio::time::timeout(WAIT, ra.wait_for(PeerState::Connected)).await.unwrap());
    let (out, mut inc) = channel_pair(&rb, &mut ra).await;
    let id = a.peer_id().unwrap();

    cut.send_modify(|n| *n += 1);
    wait_signalling(&mut a, SignallingState::Reconnecting).await;
    roundtrip(&out, &mut inc, "during the drop").await;
    wait_signalling(&mut a, SignallingState::Connected).await;
    assert_eq!(a.peer_id().unwrap(), id, "resumed with the same id");
    roundtrip(&out, &mut inc, "after the drop").await;
    // Bob saw no leave.
    let left = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            if let Some(PeerEvent::PeerLeft(_)) = b.next_event().await {
                return;
            }
        }
    })
    .await;
    assert!(left.is_err(), "bob saw alice leave");
}

/// A WebSocket relay to the server at `target` that drops `limits` from every `welcome`,
/// as a server stricter than it says (or an older one) would look: the SDK then paces
/// under the protocol's defaults, which this server does not allow. Close frames (the
/// 4011) pass through as they are.
async fn limits_hidden(target: std::net::SocketAddr) -> std::net::SocketAddr {
    let hide = |t: String| {
        if !t.contains(r#""type":"welcome""#) {
            return t;
        }
        let mut v: serde_json::Value = serde_json::from_str(&t).unwrap();
        v.as_object_mut().unwrap().remove("limits");
        v.to_string()
    };
    peerchat_testkit::ws_relay::start(target, std::sync::Arc::new(hide)).await
}

/// A server stricter than it announced closes a fast sender with 4011: the SDK says so,
/// reconnects after its backoff as the same peer, and carries on (it never gives up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_for_sending_too_fast_the_peer_reconnects_and_carries_on() {
    logs();
    let s = Server::spawn(config("rate_per_sec = 5\nrate_burst = 10")).await.unwrap();
    let mut opts = options(&s);
    opts.url = format!("ws://{}/v1", limits_hidden(s.addr()).await);
    let mut a = TestPeer::new(opts);
    bounded("join", a.join("lobby", "alice")).await.unwrap();
    let mut b = joined(&s, "lobby", "bob").await;
    let b_id = b.peer_id().unwrap();
    let a_id = a.peer_id().unwrap();
    next_joined(&mut a).await;

    // 40 messages at once: paced for the defaults (100/s, burst 200), far over 10.
    let bodies: Vec<serde_json::Value> = (0..40).map(|i| serde_json::json!({ "n": i })).collect();
    let burst = bodies.iter().map(|body| a.send_to(&b_id, body));
    let outcomes = bounded("the burst", futures_util::future::join_all(burst)).await;
    assert!(outcomes.iter().any(Result::is_err), "the server let 40 frames through a burst of 10");
    wait_event(&mut a, |e| matches!(e, PeerEvent::Error(peerchat_peer::PeerError::RateLimited)).then_some(())).await;
    wait_signalling(&mut a, SignallingState::Connected).await;
    assert_eq!(a.peer_id().unwrap(), a_id, "resumed as the same peer");

    // Carrying on at a pace the server allows: delivered.
    a.send_to(&b_id, &serde_json::json!({"after": true})).await.expect("a send after the reconnect");
    wait_event(&mut b, |e| match e {
        PeerEvent::Message { data, .. } if data.get("after").is_some() => Some(()),
        _ => None,
    })
    .await;
}

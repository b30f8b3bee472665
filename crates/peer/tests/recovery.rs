//! The SDK repairs connections by itself: a forced ICE restart keeps the connection and
//! its channels; a rebuilt connection gets a new native peer connection and state
//! changes back to `connected`, after which a freshly opened channel works; glare (both
//! sides offering at once) resolves.

mod support;
use peerchat_peer::{PeerState, StateChange};
use std::sync::Arc;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_ice_restart_keeps_the_connection_and_its_channels() {
    let s = server().await;
    let (_a, _b, ra, mut rb) = connected_pair(&s).await;
    let (out, mut inc) = channel_pair(&ra, &mut rb).await;
    roundtrip(&out, &mut inc, "before").await;
    let pc_before = ra.pc().unwrap();
    ra.restart_ice().await;
    roundtrip(&out, &mut inc, "during").await;
    assert!(tokio::time::timeout(WAIT, ra.wait_for(PeerState::Connected)).await.unwrap());
    roundtrip(&out, &mut inc, "after").await;
    assert!(Arc::ptr_eq(&pc_before, &ra.pc().unwrap()), "an ICE restart keeps the peer connection");
}

/// Either side may force a restart: the impolite side sends the restart offer, the polite
/// side probes the path. Both come back `connected` on the same peer connection, without
/// waiting for a routine control ping (set far apart here) or the restart timeout (after
/// which a rebuild would replace the peer connection).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_ice_restart_on_either_side_comes_back_on_the_same_connection() {
    let s = server().await;
    let slow_pings = || {
        let mut o = options(&s);
        o.engine.control_ping_interval = std::time::Duration::from_secs(60);
        o.engine.control_dead_after = std::time::Duration::from_secs(180);
        o
    };
    let mut a = TestPeer::new(slow_pings());
    a.join("lobby", "alice").await.unwrap();
    let mut b = TestPeer::new(slow_pings());
    b.join("lobby", "bob").await.unwrap();
    let (ra, rb) = (next_joined(&mut a).await, next_joined(&mut b).await);
    assert!(tokio::time::timeout(WAIT, ra.wait_for(PeerState::Connected)).await.unwrap());
    assert!(tokio::time::timeout(WAIT, rb.wait_for(PeerState::Connected)).await.unwrap());
    assert_ne!(ra.polite(), rb.polite());
    for side in [&ra, &rb] {
        let pc_before = side.pc().unwrap();
        let mut changes = side.state_changes();
        side.restart_ice().await;
        let back = tokio::time::timeout(std::time::Duration::from_secs(8), async {
            let mut left = false;
            while let Some(c) = changes.next().await {
                if c.to == PeerState::Connected && left {
                    return true;
                }
                left |= c.to == PeerState::Reconnecting;
            }
            false
        })
        .await;
        assert_eq!(back, Ok(true), "polite={}: reconnecting, then connected again", side.polite());
        assert!(Arc::ptr_eq(&pc_before, &side.pc().unwrap()), "polite={}: not rebuilt", side.polite());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_connection_comes_back_connected_with_a_new_pc() {
    let s = server().await;
    let (_a, _b, mut ra, rb) = connected_pair(&s).await;
    let pc_before = ra.pc().unwrap();
    let mut changes_a = ra.state_changes();
    let mut changes_b = rb.state_changes();
    ra.rebuild().await;
    // Each side passes through `reconnecting` and comes back `connected` (under load an
    // ICE hiccup may add transitions; the app only cares about the last `connected`).
    for changes in [&mut changes_a, &mut changes_b] {
        let mut seen = Vec::new();
        while seen.last() != Some(&PeerState::Connected) || !seen.contains(&PeerState::Reconnecting) {
            let c: StateChange = tokio::time::timeout(WAIT, changes.next()).await.unwrap().unwrap();
            assert_ne!(c.to, PeerState::Closed);
            seen.push(c.to);
        }
    }
    assert!(!Arc::ptr_eq(&pc_before, &ra.pc().unwrap()), "a rebuild replaces the peer connection");
    // The seed pattern: open a fresh channel after `connected`.
    let (out, mut inc) = channel_pair(&rb, &mut ra).await;
    roundtrip(&out, &mut inc, "after rebuild").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glare_when_both_sides_rebuild_at_once_resolves() {
    let s = server().await;
    let (_a, _b, ra, mut rb) = connected_pair(&s).await;
    tokio::join!(ra.rebuild(), rb.rebuild());
    assert!(tokio::time::timeout(WAIT, ra.wait_for(PeerState::Connected)).await.unwrap());
    assert!(tokio::time::timeout(WAIT, rb.wait_for(PeerState::Connected)).await.unwrap());
    let (out, mut inc) = channel_pair(&ra, &mut rb).await;
    roundtrip(&out, &mut inc, "after glare").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_peers_form_a_full_mesh() {
    let s = server().await;
    let mut a = joined(&s, "lobby", "a").await;
    let mut b = joined(&s, "lobby", "b").await;
    let mut c = joined(&s, "lobby", "c").await;
    // Each keeps the remote peers it saw, with the channels they open.
    let mut seen = Vec::new();
    for p in [&mut a, &mut b, &mut c] {
        let both = [next_joined(p).await, next_joined(p).await];
        for r in &both {
            assert!(tokio::time::timeout(WAIT, r.wait_for(PeerState::Connected)).await.unwrap(), "{:?}", r.remote);
        }
        seen.push(both);
    }
    let (c_id, a_id) = (c.peer_id(), a.peer_id());
    let [in_a, _, in_c] = &mut seen[..] else { unreachable!("three peers") };
    let c_in_a = in_a.iter().find(|r| Some(r.id().to_string()) == c_id).unwrap();
    let a_in_c = in_c.iter_mut().find(|r| Some(r.id().to_string()) == a_id).unwrap();
    let (out, mut inc) = channel_pair(c_in_a, a_in_c).await;
    roundtrip(&out, &mut inc, "a to c").await;
}

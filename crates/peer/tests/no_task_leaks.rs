//! The SDK's tasks do not pile up: after ten rebuilt connections (each with a channel
//! used and dropped) the runtime holds no more tasks than before, and a peer that leaves
//! takes its tasks with it. Counted with tokio's runtime metrics.

mod support;

use std::time::Duration;

use peerchat_peer::{PeerEvent, PeerState, StateChange};
use support::*;

/// Waits up to 10 s for the runtime's live tasks to drop to `at_most` (tasks end a moment
/// after what they serve closes); the counts seen, if they never do.
async fn tasks_settle(at_most: usize) -> Result<(), Vec<usize>> {
    let metrics = tokio::runtime::Handle::current().metrics();
    let mut seen = Vec::new();
    for _ in 0..50 {
        let n = metrics.num_alive_tasks();
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

async fn back_to_connected(changes: &mut peerchat_peer::StateChanges) {
    let mut seen = Vec::new();
    while seen.last() != Some(&PeerState::Connected) || !seen.contains(&PeerState::Reconnecting) {
        let c: StateChange = bounded("state change", changes.next()).await.expect("peer open");
        seen.push(c.to);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebuilds_and_departures_leave_no_tasks_behind() {
    let s = server().await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let before_b = metrics.num_alive_tasks();
    let (mut a, b, ra, mut rb) = connected_pair(&s).await;
    let (out, mut inc) = channel_pair(&ra, &mut rb).await;
    roundtrip(&out, &mut inc, "first").await;
    drop((out, inc));
    let base = metrics.num_alive_tasks();

    for i in 0..10 {
        let (mut ca, mut cb) = (ra.state_changes(), rb.state_changes());
        ra.rebuild().await;
        back_to_connected(&mut ca).await;
        back_to_connected(&mut cb).await;
        let (out, mut inc) = channel_pair(&ra, &mut rb).await;
        roundtrip(&out, &mut inc, &format!("after rebuild {i}")).await;
    }
    assert_eq!(tasks_settle(base).await, Ok(()), "live tasks after ten rebuilds (before: {base})");
    eprintln!(
        "live tasks: {before_b} before the peers, {base} with both connected, {} after ten rebuilds",
        metrics.num_alive_tasks()
    );

    b.close().await;
    drop(rb);
    bounded("bob leaving", async { while !matches!(a.next_event().await, Some(PeerEvent::PeerLeft(_)) | None) {} })
        .await;
    drop(ra);
    // Bob's peer and alice's side of the pair are gone: fewer tasks than with both.
    assert_eq!(tasks_settle(base - 1).await, Ok(()), "live tasks after bob left (with him: {base})");
    a.close().await;
    drop(a);
    assert_eq!(tasks_settle(before_b).await, Ok(()), "live tasks once both peers closed (before them: {before_b})");
}

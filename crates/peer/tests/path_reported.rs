//! The path of a connected remote peer is reported: the selected candidate pair (here
//! two host candidates on loopback: direct), the RTT once a control ping came back, and
//! the bytes the connection carried; withdrawn when the peer is no longer connected.

mod support;

use peerchat_peer::{CandidateKind, PeerState, Route};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_peer_reports_a_direct_path_with_rtt_and_bytes() {
    let s = server().await;
    let (a, _b, ra, mut rb) = connected_pair(&s).await;
    let mut updates = ra.path_updates();
    let path = bounded("a path with an RTT", async {
        loop {
            if let Some(p) = ra.path().filter(|p| p.rtt.is_some()) {
                return p;
            }
            updates.next().await.expect("remote peer alive");
        }
    })
    .await;
    assert_eq!(path.local, CandidateKind::Host, "{path:?}");
    // The other side's check may arrive before its candidate (a peer-reflexive end), but
    // once the candidate is signalled the path names it: no NAT is in the way here.
    let host = bounded("the remote end named by its candidate", async {
        loop {
            if let Some(p) = ra.path().filter(|p| p.remote != CandidateKind::Prflx) {
                return p;
            }
            updates.next().await.expect("remote peer alive");
        }
    })
    .await;
    assert_eq!(host.remote, CandidateKind::Host, "{host:?}");
    assert_eq!(host.route(), Route::Direct, "{host:?}");
    assert_eq!(path.protocol, "udp");
    assert!(path.local_address.starts_with("127.0.0.1:"), "{path:?}");
    assert!(path.remote_address.starts_with("127.0.0.1:"), "{path:?}");
    let rtt = path.rtt.unwrap();
    assert!(rtt < std::time::Duration::from_secs(1), "{rtt:?} on loopback");
    assert!(path.bytes_sent > 0 && path.bytes_received > 0, "{path:?}");
    assert!(rb.path().is_some(), "both sides report a path");

    // Data moves: the counters grow at the next refresh.
    let (out, mut inc) = channel_pair(&ra, &mut rb).await;
    roundtrip(&out, &mut inc, &"x".repeat(10_000)).await;

    bounded("leave", a.leave()).await.unwrap();
    assert_eq!(ra.state(), PeerState::Closed);
    assert_eq!(ra.path(), None, "no path once the peer is gone");
}

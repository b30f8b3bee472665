//! Safety numbers over real connections: both sides of a pair compute the same one; a
//! certificate kept in a file keeps it across restarts; and a signalling relay that swaps
//! the DTLS fingerprints in the SDPs (a man in the middle) makes the two sides' numbers
//! differ.

mod support;
use std::sync::Arc;

use peerchat_peer::{Certificate, PeerState, RemotePeer};
use support::*;

/// Waits until `r` knows both fingerprints.
async fn security(r: &RemotePeer) -> peerchat_peer::PeerSecurity {
    if let Some(s) = r.security() {
        return s;
    }
    bounded("the fingerprints", r.security_updates().next()).await.expect("the peer is still there")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_sides_of_a_connection_read_the_same_safety_number() {
    let s = server().await;
    let (a, b, ra, rb) = connected_pair(&s).await;
    let (sa, sb) = (security(&ra).await, security(&rb).await);
    assert_eq!(sa.safety_number, sb.safety_number);
    assert_eq!(&sa.local, a.fingerprint().unwrap(), "alice's own half is her certificate");
    assert_eq!(&sb.local, b.fingerprint().unwrap());
    assert_eq!(sa.remote, sb.local, "alice sees bob's certificate");
    assert_eq!(sb.remote, sa.local);
    assert_ne!(sa.local, sb.local);
    a.close().await;
    b.close().await;
}

/// Alice, restarted with `cert` (or a fresh certificate when `None`), connects to bob
/// again; returns the safety number bob sees.
async fn number_after_restart(s: &signal_server::ServerHandle, b: &mut TestPeer, cert: Option<Certificate>) -> String {
    let mut opts = options(s);
    opts.certificate = cert;
    let a = TestPeer::new(opts);
    bounded("join", a.join("lobby", "alice")).await.unwrap();
    let a_id = a.peer_id().unwrap();
    let ra = wait_event(b, |e| match e {
        peerchat_peer::PeerEvent::PeerJoined(r, _) if r.id() == a_id => Some(r.clone()),
        _ => None,
    })
    .await;
    assert!(bounded("connected", ra.wait_for(PeerState::Connected)).await);
    let n = security(&ra).await.safety_number.to_string();
    bounded("close", a.close()).await;
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_kept_in_a_file_keeps_the_number_across_restarts() {
    let s = server().await;
    let mut b = joined(&s, "lobby", "bob").await;
    let dir = std::env::temp_dir().join(format!("peerchat-safety-{}", std::process::id()));
    let path = dir.join("dtls.pem");
    let (first_cert, _) = peerchat_peer::identity::load_or_create(&path).unwrap();
    let first = number_after_restart(&s, &mut b, Some(first_cert)).await;
    let (kept, how) = peerchat_peer::identity::load_or_create(&path).unwrap();
    assert_eq!(how, peerchat_peer::identity::Loaded::Existing);
    assert_eq!(number_after_restart(&s, &mut b, Some(kept)).await, first, "the same certificate, the same number");
    assert_ne!(number_after_restart(&s, &mut b, None).await, first, "a new certificate changes it");
    b.close().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_that_swaps_the_fingerprints_makes_the_numbers_differ() {
    let s = server().await;
    // The man in the middle answers each side with a certificate of its own.
    let mitm = Certificate::generate().unwrap().fingerprint().to_string();
    let relay = peerchat_testkit::ws_relay::start(
        s.addr(),
        Arc::new(move |t| peerchat_testkit::ws_relay::swap_fingerprints(&t, &mitm)),
    )
    .await;
    let via_relay = |name: &'static str| {
        let mut opts = options(&s);
        opts.url = format!("ws://{relay}/v1");
        async move {
            let p = TestPeer::new(opts);
            bounded("join", p.join("lobby", name)).await.unwrap();
            p
        }
    };
    let mut a = via_relay("alice").await;
    let mut b = via_relay("bob").await;
    let (ra, rb) = (next_joined(&mut a).await, next_joined(&mut b).await);
    let (sa, sb) = (security(&ra).await, security(&rb).await);
    assert_ne!(&sa.remote, b.fingerprint().unwrap(), "alice was shown another certificate than bob's");
    assert_ne!(&sb.remote, a.fingerprint().unwrap());
    assert_ne!(sa.safety_number, sb.safety_number, "reading the numbers to each other reveals the swap");
    // The swapped fingerprints match no certificate either peer holds: the DTLS handshake
    // fails (a loopback connection is up in well under a second otherwise).
    let up = tokio::time::timeout(std::time::Duration::from_secs(5), ra.wait_for(PeerState::Connected)).await;
    assert!(up.is_err(), "the engine connected to a certificate the SDP did not name");
    a.close().await;
    b.close().await;
}

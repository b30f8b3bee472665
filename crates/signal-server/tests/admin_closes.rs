//! Closes the server initiates: key revoked (4001), admin disconnect (4020), shutdown
//! (going_away, then 1001). Policy closes end the session at once.

mod support;
use signal_server::KeyConfig;
use std::time::Duration;
use support::*;

#[tokio::test]
async fn revoking_a_key_closes_its_sockets_4001_and_refuses_new_ones() {
    let s = server_with(signal_server::Config::for_keys(&[KEY, "pk_stays"])).await;
    let mut keep = try_connect(&url(&s, "pk_stays"), None).await.unwrap();
    keep.subscribe("lobby", "keep").await;
    let mut gone = connect(&s).await;
    gone.subscribe("lobby", "gone").await;
    keep.recv_type("presence").await;

    let remaining = vec![KeyConfig::with_defaults(signal_server::PublishableKey::new("pk_stays"))];
    assert_eq!(s.set_keys(remaining).await, 1);
    assert_eq!(gone.closed().await.0, 4001);
    assert_eq!(left(&keep.recv_type("presence").await), vec![gone.peer_id.clone()]);
    let r = try_connect(&url(&s, KEY), None).await.err().expect("revoked key refused");
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn admin_disconnect_closes_4020_and_ends_the_session() {
    let s = server().await;
    let (mut a, mut b) = pair_in(&s, "lobby", "a", "b").await;
    assert!(s.disconnect_peer(&b.peer_id).await);
    assert!(!s.disconnect_peer("nobody").await);
    assert_eq!(b.closed().await.0, 4020);
    assert_eq!(left(&a.recv_type("presence").await), vec![b.peer_id.clone()]);
    let again = resume(&s, &b.token).await;
    assert_eq!(again.welcome["resumed"], false, "an ended session cannot be resumed");
}

#[tokio::test]
async fn shutdown_sends_going_away_then_closes_1001() {
    let s = server().await;
    let mut a = connect(&s).await;
    a.subscribe("lobby", "a").await;
    s.shutdown();
    let g = a.recv_type("going_away").await;
    assert_eq!(g["retryAfterMs"], 1000);
    assert_eq!(a.closed().await.0, 1001);
    tokio::time::timeout(Duration::from_secs(5), s.stopped()).await.expect("drained within 5 s");
    assert!(tokio::net::TcpStream::connect(s.addr()).await.is_err(), "no longer accepting");
}

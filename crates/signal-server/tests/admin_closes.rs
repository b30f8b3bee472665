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

/// A reload that narrows a key's channels removes its members from the channels it no
/// longer grants: the others see them leave, and each is told why. Channels still
/// allowed keep their members.
#[tokio::test]
async fn narrowing_a_keys_channels_removes_its_members_from_the_others() {
    let s = server().await;
    let (mut a, mut b) = pair_in(&s, "secret-room", "a", "b").await;
    b.subscribe("room-1", "b").await;
    a.subscribe("room-1", "a").await;
    b.recv_type("presence").await;

    let mut narrowed = KeyConfig::with_defaults(signal_server::PublishableKey::new(KEY));
    narrowed.channels = vec!["room-*".into()];
    assert_eq!(s.set_keys(vec![narrowed]).await, 0, "no socket is closed");
    for c in [&mut a, &mut b] {
        // One of them may first see the other leave secret-room.
        let e = loop {
            let f = c.recv().await;
            if f["type"] == "error" {
                break f;
            }
            assert_eq!(f["type"], "presence", "{f}");
        };
        assert_eq!(e["code"], "channel_not_authorized", "{e}");
        assert!(e["message"].as_str().unwrap().contains("secret-room"), "{e}");
    }
    // Still together in room-1: a publish there arrives; secret-room is closed to them.
    let reply = a.request(serde_json::json!({"type":"publish","channel":"room-1","data":"still here"})).await;
    assert_eq!(reply["type"], "ack", "{reply}");
    assert_eq!(b.recv_type("message").await["data"], "still here");
    let reply = a.request(serde_json::json!({"type":"publish","channel":"secret-room","data":"x"})).await;
    assert_eq!(reply["code"], "not_subscribed", "{reply}");
}

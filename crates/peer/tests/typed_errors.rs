//! Failures surface as typed errors: a bad key, a full quota, sending to yourself,
//! sending before joining, unknown peers, and closes the server imposes.

mod support;
use peerchat_peer::{PeerError, PeerEvent, PublishableKey};
use serde_json::json;
use signal_server::Server;
use support::*;

#[tokio::test]
async fn a_bad_key_fails_join_with_invalid_key() {
    let s = server().await;
    let mut o = options(&s);
    o.key = PublishableKey::new("pk_wrong");
    let mut p = TestPeer::new(o);
    assert_eq!(p.join("lobby", "x").await, Err(PeerError::InvalidKey));
    let fatal = wait_event(&mut p, |e| match e {
        PeerEvent::Error(e) => Some(e.clone()),
        _ => None,
    })
    .await;
    assert_eq!(fatal, PeerError::InvalidKey);
    assert!(fatal.is_fatal());
}

#[tokio::test]
async fn a_forbidden_origin_fails_with_origin_not_allowed() {
    let cfg = signal_server::Config::build(
        signal_server::FileConfig::parse(&format!("[[keys]]\nkey = \"{KEY}\"\norigins = [\"https://ok.test\"]"), "t")
            .unwrap(),
        Some("127.0.0.1:0".into()),
        vec![],
    )
    .unwrap();
    let s = Server::spawn(cfg).await.unwrap();
    let mut o = options(&s);
    o.origin = Some("https://evil.test".into());
    assert_eq!(TestPeer::new(o.clone()).join("lobby", "x").await, Err(PeerError::OriginNotAllowed));
    o.origin = Some("https://ok.test".into());
    TestPeer::new(o).join("lobby", "x").await.expect("allowed origin joins");
}

#[tokio::test]
async fn a_bad_url_fails_with_bad_url() {
    let mut o = options(&server().await);
    o.url = "http://not-a-websocket".into();
    assert!(matches!(TestPeer::new(o).join("lobby", "x").await, Err(PeerError::BadUrl(_))));
}

#[tokio::test]
async fn sends_before_joining_or_to_yourself_are_refused_locally() {
    let s = server().await;
    let p = TestPeer::new(options(&s));
    assert_eq!(p.send(&json!(1)).await, Err(PeerError::NotJoined));
    assert_eq!(p.send_to("someone", &json!(1)).await, Err(PeerError::NotJoined));
    p.join("lobby", "me").await.unwrap();
    let me = p.peer_id().unwrap();
    assert_eq!(p.send_to(&me, &json!(1)).await, Err(PeerError::SelfSend));
    assert!(matches!(p.send_to("bad id!", &json!(1)).await, Err(PeerError::InvalidArgs(_))));
    assert_eq!(p.send_to("nobody-here", &json!(1)).await, Err(PeerError::UnknownPeer));
    assert_eq!(p.join("other", "me").await, Err(PeerError::AlreadyJoined));
}

#[tokio::test]
async fn quota_exhaustion_is_over_message_quota() {
    let cfg = signal_server::Config::build(
        signal_server::FileConfig::parse(&format!("[[keys]]\nkey = \"{KEY}\"\nmessages_per_period = 2"), "t").unwrap(),
        Some("127.0.0.1:0".into()),
        vec![],
    )
    .unwrap();
    let s = Server::spawn(cfg).await.unwrap();
    let p = joined(&s, "lobby", "me").await;
    p.send(&json!("one")).await.unwrap();
    p.send(&json!("two")).await.unwrap();
    assert_eq!(p.send(&json!("three")).await, Err(PeerError::OverMessageQuota));
}

#[tokio::test]
async fn server_closes_map_to_typed_fatal_errors() {
    let s = server().await;
    let mut p = joined(&s, "lobby", "me").await;
    assert!(s.disconnect_peer(&p.peer_id().unwrap()).await);
    let e = wait_event(&mut p, |e| match e {
        PeerEvent::Error(e) => Some(e.clone()),
        _ => None,
    })
    .await;
    assert_eq!(e, PeerError::AdminDisconnect);
    let mut revoked = joined(&s, "lobby", "other").await;
    s.set_keys(vec![signal_server::KeyConfig::with_defaults(PublishableKey::new("pk_else"))]).await;
    let e = wait_event(&mut revoked, |e| match e {
        PeerEvent::Error(e) => Some(e.clone()),
        _ => None,
    })
    .await;
    assert_eq!(e, PeerError::KeyRevoked);
}

#[tokio::test]
async fn a_full_room_is_channel_full() {
    let s = Server::spawn(config("max_peers_per_channel = 1")).await.unwrap();
    let mut _first = joined(&s, "lobby", "one").await;
    let p = TestPeer::new(options(&s));
    assert_eq!(p.join("lobby", "two").await, Err(PeerError::ChannelFull));
}

#[tokio::test]
async fn a_join_over_the_per_address_cap_waits_for_a_slot_instead_of_failing() {
    let s = Server::spawn(config("trusted_proxies = []\nmax_connections_per_ip = 1")).await.unwrap();
    let holder = joined(&s, "lobby", "holder").await;
    let mut o = options(&s);
    o.reconnect = Some(peerchat_peer::ReconnectPolicy {
        initial_delay: std::time::Duration::from_millis(50),
        max_delay: std::time::Duration::from_millis(200),
        ..Default::default()
    });
    let mut p = TestPeer::new(o);
    let join = tokio::spawn({
        let peer = p.peer.clone();
        async move { peer.join("lobby", "waiting").await }
    });
    // Refused with HTTP 429 at least once: the SDK says it is reconnecting, not failed.
    wait_event(&mut p, |e| {
        matches!(e, PeerEvent::Signalling(peerchat_peer::SignallingState::Reconnecting)).then_some(())
    })
    .await;
    assert!(!join.is_finished(), "the join waits");
    // The holder's connection ends (an administrative disconnect closes its socket).
    assert!(s.disconnect_peer(&holder.peer_id().unwrap()).await);
    bounded("the join", join).await.unwrap().expect("joined once the address had a free slot");
}

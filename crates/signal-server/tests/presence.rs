//! Welcome, subscribe (snapshot then ack), joined/left deltas, unsubscribe.

mod support;
use serde_json::json;
use support::*;

#[tokio::test]
async fn welcome_carries_identity_and_limits() {
    let s = server().await;
    let a = connect(&s).await;
    let w = &a.welcome;
    assert!(peerchat_protocol::is_valid_peer_id(&a.peer_id));
    assert_eq!(w["resumed"], false);
    assert_eq!(w["maxMessageSize"], 65536);
    assert!(w["serverTime"].as_u64().unwrap() > 1_600_000_000_000);
    assert!(w["iceServers"].as_array().unwrap().is_empty());
    assert!(!a.token.is_empty());
    let b = connect(&s).await;
    assert_ne!(a.peer_id, b.peer_id, "every fresh session gets its own id");
}

#[tokio::test]
async fn ice_servers_from_config_reach_clients() {
    let s = server_with(config(
        "[[keys]]\nkey = \"pk_test_x\"\n[[ice_servers]]\nurls = [\"turn:turn.example.com:3478\"]\nusername = \"u\"\ncredential = \"c\"",
    ))
    .await;
    let a = connect(&s).await;
    assert_eq!(
        a.welcome["iceServers"],
        json!([{"urls":["turn:turn.example.com:3478"],"username":"u","credential":"c"}])
    );
}

#[tokio::test]
async fn snapshot_lists_others_then_deltas_follow() {
    let s = server().await;
    let mut a = connect(&s).await;
    let snap = a.subscribe("lobby", "alice").await;
    assert!(joined(&snap).is_empty(), "first member sees nobody: {snap}");
    assert!(left(&snap).is_empty());

    let mut b = connect(&s).await;
    let snap = b.subscribe("lobby", "bob").await;
    assert_eq!(snap["joined"], json!([{"peerId": a.peer_id, "name": "alice"}]), "snapshot lists others only");

    let delta = a.recv_type("presence").await;
    assert_eq!(delta["joined"], json!([{"peerId": b.peer_id, "name": "bob"}]));
    assert_eq!(delta["left"], json!([]));

    let reply = b.request(json!({"type":"unsubscribe","channel":"lobby"})).await;
    assert_eq!(reply["type"], "ack");
    let delta = a.recv_type("presence").await;
    assert_eq!(left(&delta), vec![b.peer_id.clone()]);
    assert!(joined(&delta).is_empty());
}

#[tokio::test]
async fn resubscribing_resends_snapshot_and_renaming_refreshes_others() {
    let s = server().await;
    let (mut a, mut b) = pair_in(&s, "lobby", "alice", "bob").await;

    let snap = b.subscribe("lobby", "bob").await;
    assert_eq!(joined(&snap), vec![a.peer_id.clone()]);
    a.silent_for(std::time::Duration::from_millis(200)).await;

    b.subscribe("lobby", "robert").await;
    let refresh = a.recv_type("presence").await;
    assert_eq!(refresh["joined"], json!([{"peerId": b.peer_id, "name": "robert"}]));
}

#[tokio::test]
async fn channels_are_independent() {
    let s = server().await;
    let mut a = connect(&s).await;
    let mut b = connect(&s).await;
    a.subscribe("one", "a").await;
    let snap = b.subscribe("two", "b").await;
    assert!(joined(&snap).is_empty());
    a.silent_for(std::time::Duration::from_millis(200)).await;
}

#[tokio::test]
async fn unsubscribe_from_a_channel_not_joined_is_not_subscribed() {
    let s = server().await;
    let mut a = connect(&s).await;
    let reply = a.request(json!({"type":"unsubscribe","channel":"nowhere"})).await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "not_subscribed");
}

#[tokio::test]
async fn closing_without_unsubscribe_keeps_presence_during_grace() {
    let s = server().await;
    let (mut a, b) = pair_in(&s, "lobby", "alice", "bob").await;
    let b_id = b.peer_id.clone();
    b.close().await;
    a.silent_for(std::time::Duration::from_millis(300)).await;
    let mut c = connect(&s).await;
    let snap = c.subscribe("lobby", "carol").await;
    assert!(joined(&snap).contains(&b_id), "peers in their grace period are still listed: {snap}");
}

#[tokio::test]
async fn joining_another_channel_is_announced_only_there() {
    let s = server().await;
    let (mut a, mut b) = pair_in(&s, "one", "alice", "bob").await;
    let mut c = connect(&s).await;
    c.subscribe("two", "carol").await;
    b.subscribe("two", "bob").await;
    assert_eq!(joined(&c.recv_type("presence").await), vec![b.peer_id.clone()]);
    a.silent_for(std::time::Duration::from_millis(200)).await;
}

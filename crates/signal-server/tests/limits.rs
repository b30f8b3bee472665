//! Every configurable limit: message rate (4011), sessions per key (4010, grace included),
//! message quota, channel allow-list, peers per channel, channels per peer, name and
//! channel lengths.

mod support;
use serde_json::json;
use std::time::Duration;
use support::*;

#[tokio::test]
async fn burst_over_the_rate_closes_4011() {
    let s = server().await;
    let (mut watcher, mut a) = pair_in(&s, "lobby", "w", "a").await;
    // 200 burst: 1 subscribe already spent; 260 more pings cannot all fit.
    for _ in 0..260 {
        if futures_util::SinkExt::send(&mut a.ws, tokio_tungstenite::tungstenite::Message::text(r#"{"type":"ping"}"#))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut pongs = 0;
    let code = loop {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut a.ws)).await.expect("frames") {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(_))) => pongs += 1,
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => break u16::from(f.code),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(code, 4011);
    assert!((195..=205).contains(&pongs), "about the burst was served before the close: {pongs}");
    // The session waits for a resume: a client that slows down comes back as itself.
    let back = resume(&s, &a.token).await;
    assert_eq!((back.peer_id.as_str(), &back.welcome["resumed"]), (a.peer_id.as_str(), &json!(true)));
    watcher.silent_for(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn a_configured_rate_is_sustainable() {
    let s = server_with(config("[server]\nrate_per_sec = 50\nrate_burst = 5\n[[keys]]\nkey = \"pk_test_x\"")).await;
    let mut a = connect(&s).await;
    // 20 frames at 25/s stay under 50/s with a burst of 5.
    for _ in 0..20 {
        a.send(json!({"type":"ping"})).await;
        a.recv_type("pong").await;
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    // Then a burst of 20 exceeds it.
    for _ in 0..20 {
        a.send(json!({"type":"ping"})).await;
    }
    assert_eq!(a.closed().await.0, 4011);
}

/// Connects with `url` and expects the close 4010 right after the upgrade.
async fn refused_4010(url: &str) {
    let mut req = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    req.headers_mut().remove("origin");
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("the upgrade itself succeeds");
    let msg = tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut ws)).await.unwrap().unwrap().unwrap();
    match msg {
        tokio_tungstenite::tungstenite::Message::Close(Some(f)) => {
            assert_eq!(u16::from(f.code), 4010)
        }
        other => panic!("expected close 4010, got {other:?}"),
    }
}

#[tokio::test]
async fn sessions_over_the_key_limit_close_4010_after_the_upgrade() {
    let s =
        server_with(config("[[keys]]\nkey = \"pk_test_x\"\nmax_connections = 2\n[[keys]]\nkey = \"pk_other\"")).await;
    let (mut watcher, a) = pair_in(&s, "lobby", "w", "a").await;
    refused_4010(&url(&s, KEY)).await;
    try_connect(&url(&s, "pk_other"), None).await.expect("limits are per key");
    // The dropped session waits for its resume, in the room: it keeps its slot.
    let token = a.token.clone();
    a.close().await;
    refused_4010(&url(&s, KEY)).await;
    // Its resume needs no new slot.
    let back = resume(&s, &token).await;
    assert_eq!(back.welcome["resumed"], true);
    // Leaving for good frees the slot.
    s.disconnect_peer(&back.peer_id).await;
    assert_eq!(left(&watcher.recv_type("presence").await), vec![back.peer_id.clone()]);
    connect(&s).await;
}

#[tokio::test]
async fn joining_and_dropping_in_a_loop_cannot_fill_a_room_with_ghosts() {
    let s = server_with(config("[[keys]]\nkey = \"pk_test_x\"\nmax_connections = 4")).await;
    let mut watcher = connect(&s).await;
    watcher.subscribe("lobby", "w").await;
    let mut ghosts = Vec::new();
    for i in 0..3 {
        let mut g = connect(&s).await;
        g.subscribe("lobby", &format!("ghost {i}")).await;
        ghosts.push(g.peer_id.clone());
        g.close().await;
    }
    // Three sessions in their grace period and the watcher: the key is full.
    refused_4010(&url(&s, KEY)).await;
    let mut seen = Vec::new();
    while seen.len() < ghosts.len() {
        seen.extend(joined(&watcher.recv_type("presence").await));
    }
    assert_eq!(seen, ghosts, "no more members than the key has slots");
}

#[tokio::test]
async fn message_quota_drops_publish_and_send_but_not_signal_or_inbound() {
    let s = server_with(config(
        "[[keys]]\nkey = \"pk_test_x\"\nmessages_per_period = 3\nperiod_secs = 3600\n[[keys]]\nkey = \"pk_other\"",
    ))
    .await;
    let mut a = connect(&s).await;
    let mut b = connect(&s).await;
    let mut c = try_connect(&url(&s, "pk_other"), None).await.unwrap();
    a.subscribe("lobby", "a").await;
    b.subscribe("lobby", "b").await;
    c.subscribe("lobby", "c").await;
    a.recv_type("presence").await;
    a.recv_type("presence").await;
    b.recv_type("presence").await;
    assert_eq!(a.request(json!({"type":"publish","channel":"lobby","data":1})).await["type"], "ack");
    assert_eq!(a.request(json!({"type":"send","to":b.peer_id,"data":2})).await["type"], "ack");
    assert_eq!(b.recv_type("message").await["data"], 1);
    assert_eq!(b.recv_type("message").await["data"], 2);
    assert_eq!(c.recv_type("message").await["data"], 1);
    assert_eq!(b.request(json!({"type":"send","to":a.peer_id,"data":3})).await["type"], "ack");
    assert_eq!(a.recv_type("message").await["data"], 3);

    let over = a.request(json!({"type":"publish","channel":"lobby","data":4})).await;
    assert_eq!(over["code"], "over_message_quota");
    let over = b.request(json!({"type":"send","to":a.peer_id,"data":5})).await;
    assert_eq!(over["code"], "over_message_quota", "the quota is per key, shared by its sockets");
    let sig = a.request(json!({"type":"signal","to":b.peer_id,"data":{"gen":1,"candidate":null}})).await;
    assert_eq!(sig["type"], "ack", "signals do not count against the quota");
    assert_eq!(b.recv_type("signal").await["from"], a.peer_id);

    assert_eq!(c.request(json!({"type":"send","to":a.peer_id,"data":6})).await["type"], "ack");
    assert_eq!(a.recv_type("message").await["data"], 6, "inbound still flows when over quota");
    b.silent_for(Duration::from_millis(100)).await;
    c.silent_for(Duration::from_millis(100)).await;
}

#[tokio::test]
async fn quota_window_resets_after_the_period() {
    let s = server_with(config("[[keys]]\nkey = \"pk_test_x\"\nmessages_per_period = 1\nperiod_secs = 1")).await;
    let mut a = connect(&s).await;
    a.subscribe("lobby", "a").await;
    assert_eq!(a.request(json!({"type":"publish","channel":"lobby","data":1})).await["type"], "ack");
    let refused_at = std::time::Instant::now();
    assert_eq!(a.request(json!({"type":"publish","channel":"lobby","data":1})).await["code"], "over_message_quota");
    // The next period admits it again (asked every 100 ms; a refused frame spends
    // nothing).
    loop {
        let r = a.request(json!({"type":"publish","channel":"lobby","data":1})).await;
        if r["type"] == "ack" {
            break;
        }
        assert_eq!(r["code"], "over_message_quota", "{r}");
        assert!(refused_at.elapsed() < WAIT, "the quota never came back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn channels_outside_the_key_globs_are_not_authorized() {
    let s = server_with(config("[[keys]]\nkey = \"pk_test_x\"\nchannels = [\"room-*\", \"lobby\"]")).await;
    let mut a = connect(&s).await;
    let e = a.request(json!({"type":"subscribe","channel":"secret","name":"a"})).await;
    assert_eq!(e["code"], "channel_not_authorized");
    let e = a.request(json!({"type":"subscribe","channel":"lobby2","name":"a"})).await;
    assert_eq!(e["code"], "channel_not_authorized");
    a.subscribe("room-42", "a").await;
    a.subscribe("lobby", "a").await;
}

#[tokio::test]
async fn a_full_channel_refuses_with_channel_full() {
    let s = server_with(config("[server]\nmax_peers_per_channel = 2\n[[keys]]\nkey = \"pk_test_x\"")).await;
    let mut a = connect(&s).await;
    let mut b = connect(&s).await;
    let mut c = connect(&s).await;
    a.subscribe("lobby", "a").await;
    b.subscribe("lobby", "b").await;
    let e = c.request(json!({"type":"subscribe","channel":"lobby","name":"c"})).await;
    assert_eq!(e["code"], "channel_full");
    a.recv_type("presence").await;
    a.silent_for(Duration::from_millis(100)).await;
    b.request(json!({"type":"unsubscribe","channel":"lobby"})).await;
    c.subscribe("lobby", "c").await;
}

#[tokio::test]
async fn channels_per_peer_are_bounded() {
    let s = server_with(config("[server]\nmax_channels_per_peer = 2\n[[keys]]\nkey = \"pk_test_x\"")).await;
    let mut a = connect(&s).await;
    a.subscribe("one", "a").await;
    a.subscribe("two", "a").await;
    let e = a.request(json!({"type":"subscribe","channel":"three","name":"a"})).await;
    assert_eq!(e["code"], "invalid_args");
    a.subscribe("two", "a").await;
}

#[tokio::test]
async fn name_and_channel_lengths_are_bounded() {
    let s = server_with(config("[server]\nmax_name_bytes = 8\nmax_channel_bytes = 10\n[[keys]]\nkey = \"pk_test_x\""))
        .await;
    let mut a = connect(&s).await;
    a.subscribe("0123456789", "abcdefgh").await;
    let e = a.request(json!({"type":"subscribe","channel":"01234567890","name":"a"})).await;
    assert_eq!(e["code"], "invalid_args");
    let e = a.request(json!({"type":"subscribe","channel":"c","name":"abcdefghi"})).await;
    assert_eq!(e["code"], "invalid_args");
    let e = a.request(json!({"type":"subscribe","channel":"","name":"a"})).await;
    assert_eq!(e["code"], "invalid_args");
    // Multi-byte names count bytes, not characters.
    let e = a.request(json!({"type":"subscribe","channel":"c","name":"ééééé"})).await;
    assert_eq!(e["code"], "invalid_args");
}

/// Sends `frame` with a fresh requestId and returns the answer to it (ack or error),
/// skipping presence frames and snapshots on the way.
async fn answer(c: &mut Client, mut frame: serde_json::Value) -> serde_json::Value {
    let r = c.req();
    frame["requestId"] = json!(r);
    c.send(frame).await;
    loop {
        let v = c.recv().await;
        if v["requestId"] == r {
            return v;
        }
        assert_eq!(v["type"], "presence", "{v}");
    }
}

#[tokio::test]
async fn joins_renames_and_leaves_are_budgeted_per_session() {
    let s = server_with(config(
        "[server]\nroom_changes_per_min = 60\nroom_changes_burst = 4\n[[keys]]\nkey = \"pk_test_x\"",
    ))
    .await;
    let mut a = connect(&s).await;
    for ch in ["r1", "r2", "r3"] {
        a.subscribe(ch, "a").await;
    }
    // A rename re-announces the peer in r1 and r2 besides r3: three; one is left.
    let rename = json!({"type":"subscribe","channel":"r3","name":"renamed"});
    let over = answer(&mut a, rename.clone()).await;
    assert_eq!(over["code"], "slow_down", "{over}");
    // Nothing changed: r1 still knows the peer as "a".
    let mut watcher = connect(&s).await;
    let snap = watcher.subscribe("r1", "w").await;
    assert!(snap.to_string().contains(r#""name":"a""#), "{snap}");
    // One change a minute per 60: after about two seconds the rename fits.
    let start = std::time::Instant::now();
    let renamed = loop {
        let v = answer(&mut a, rename.clone()).await;
        if v["type"] == "ack" {
            break v;
        }
        assert_eq!(v["code"], "slow_down", "{v}");
        assert!(start.elapsed() < WAIT, "the budget never refilled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(renamed["type"], "ack");
    assert!(start.elapsed() >= Duration::from_millis(1500), "refilled too soon: {:?}", start.elapsed());
    let over = answer(&mut a, json!({"type":"unsubscribe","channel":"r1"})).await;
    assert_eq!(over["code"], "slow_down", "{over}");
}

#[tokio::test]
async fn signals_have_their_own_quota_and_do_not_eat_the_message_quota() {
    let s = server_with(config(
        "[[keys]]\nkey = \"pk_test_x\"\nsignals_per_period = 2\nmessages_per_period = 5\nperiod_secs = 3600",
    ))
    .await;
    let (mut b, mut a) = pair_in(&s, "lobby", "b", "a").await;
    let signal = json!({"type":"signal","to":b.peer_id,"data":{"gen":1,"candidate":null}});
    for _ in 0..2 {
        assert_eq!(answer(&mut a, signal.clone()).await["type"], "ack");
        assert_eq!(b.recv_type("signal").await["from"], a.peer_id);
    }
    let over = answer(&mut a, signal).await;
    assert_eq!(over["code"], "over_signal_quota", "{over}");
    // Connecting used no message quota: all five messages still go.
    for i in 0..5 {
        assert_eq!(answer(&mut a, json!({"type":"send","to":b.peer_id,"data":i})).await["type"], "ack");
        assert_eq!(b.recv_type("message").await["data"], i);
    }
    b.silent_for(Duration::from_millis(100)).await;
}

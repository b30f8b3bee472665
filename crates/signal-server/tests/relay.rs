//! publish, send and signal: delivery, `from` set by the server, and the typed errors.

mod support;
use serde_json::json;
use std::time::Duration;
use support::*;

async fn pair() -> (signal_server::ServerHandle, Client, Client) {
    let s = server().await;
    let (a, b) = pair_in(&s, "lobby", "alice", "bob").await;
    (s, a, b)
}

#[tokio::test]
async fn publish_reaches_every_other_subscriber_but_not_the_sender() {
    let (s, mut a, mut b) = pair().await;
    let mut c = connect(&s).await;
    c.subscribe("lobby", "carol").await;
    a.recv_type("presence").await;
    b.recv_type("presence").await;

    let reply = a.request(json!({"type":"publish","channel":"lobby","data":{"n":[1,2,3],"s":"é"}})).await;
    assert_eq!(reply["type"], "ack");
    for rx in [&mut b, &mut c] {
        let m = rx.recv_type("message").await;
        assert_eq!(m["from"], a.peer_id);
        assert_eq!(m["channel"], "lobby");
        assert_eq!(m["data"], json!({"n":[1,2,3],"s":"é"}));
    }
    a.silent_for(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn send_reaches_one_peer_without_channel() {
    let (_s, mut a, mut b) = pair().await;
    let reply = a.request(json!({"type":"send","to":b.peer_id,"data":{"type":"hello","name":"alice"}})).await;
    assert_eq!(reply["type"], "ack");
    let m = b.recv_type("message").await;
    assert_eq!(m["from"], a.peer_id);
    assert!(m.get("channel").is_none(), "direct messages carry no channel: {m}");
    assert_eq!(m["data"]["name"], "alice");
}

#[tokio::test]
async fn data_may_be_any_json_including_null() {
    let (_s, mut a, mut b) = pair().await;
    for data in [json!(null), json!(7), json!("text"), json!([true, false])] {
        a.send(json!({"type":"send","to":b.peer_id,"data":data})).await;
        assert_eq!(b.recv_type("message").await["data"], data);
    }
}

#[tokio::test]
async fn signal_is_relayed_with_from() {
    let (_s, mut a, mut b) = pair().await;
    let sig = json!({"gen":1,"description":{"type":"offer","sdp":"v=0\r\n"}});
    let reply = a.request(json!({"type":"signal","to":b.peer_id,"data":sig})).await;
    assert_eq!(reply["type"], "ack");
    let m = b.recv_type("signal").await;
    assert_eq!(m["from"], a.peer_id);
    assert_eq!(m["data"], sig);
}

#[tokio::test]
async fn forged_from_is_overwritten() {
    let (_s, mut a, mut b) = pair().await;
    a.send(json!({"type":"publish","channel":"lobby","from":b.peer_id,"data":1})).await;
    a.send(json!({"type":"send","to":b.peer_id,"from":"mallory","data":2})).await;
    a.send(json!({"type":"signal","to":b.peer_id,"from":"mallory","data":{"gen":1,"candidate":null}})).await;
    for _ in 0..3 {
        let m = b.recv().await;
        assert_eq!(m["from"], a.peer_id, "server sets from: {m}");
    }
}

#[tokio::test]
async fn sending_to_yourself_is_self_send() {
    let (_s, mut a, _b) = pair().await;
    let me = a.peer_id.clone();
    for ty in ["send", "signal"] {
        let reply = a.request(json!({"type":ty,"to":me,"data":{}})).await;
        assert_eq!(reply["code"], "self_send", "{ty}: {reply}");
    }
}

#[tokio::test]
async fn unknown_or_unrelated_peers_are_unknown_peer() {
    let (s, mut a, _b) = pair().await;
    let reply = a.request(json!({"type":"send","to":"no-such-peer","data":1})).await;
    assert_eq!(reply["code"], "unknown_peer");
    let mut stranger = connect(&s).await;
    stranger.subscribe("elsewhere", "s").await;
    let reply = a.request(json!({"type":"signal","to":stranger.peer_id,"data":{"gen":1,"candidate":null}})).await;
    assert_eq!(reply["code"], "unknown_peer", "a peer that shares no channel is unknown");
    stranger.silent_for(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn publish_to_a_channel_not_joined_is_not_subscribed() {
    let (_s, mut a, mut b) = pair().await;
    let reply = a.request(json!({"type":"publish","channel":"other","data":1})).await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "not_subscribed");
    b.silent_for(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn ping_is_answered_with_pong_echoing_t_exactly() {
    let s = server().await;
    let mut a = connect(&s).await;
    a.send_text(r#"{"type":"ping","t":1700000000000123}"#).await;
    let text = match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut a.ws)).await {
        Ok(Some(Ok(m))) => m.into_text().unwrap().to_string(),
        other => panic!("no pong: {other:?}"),
    };
    assert_eq!(text, r#"{"type":"pong","t":1700000000000123}"#);
    a.send(json!({"type":"ping"})).await;
    assert_eq!(a.recv().await, json!({"type":"pong"}));
}

#[tokio::test]
async fn frames_without_request_id_get_no_ack() {
    let (_s, mut a, mut b) = pair().await;
    a.send(json!({"type":"publish","channel":"lobby","data":1})).await;
    b.recv_type("message").await;
    a.silent_for(Duration::from_millis(200)).await;
}

#[tokio::test]
async fn string_request_ids_are_echoed() {
    let (_s, mut a, _b) = pair().await;
    a.send(json!({"type":"publish","channel":"lobby","data":1,"requestId":"abc-1"})).await;
    assert_eq!(a.recv().await, json!({"type":"ack","requestId":"abc-1"}));
}

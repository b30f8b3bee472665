//! Messages over 65536 bytes close the socket with 1009; messages at the limit pass.

mod support;
use serde_json::json;
use support::*;

#[tokio::test]
async fn a_frame_at_the_limit_is_relayed() {
    let s = server().await;
    let (mut a, mut b) = pair_in(&s, "lobby", "a", "b").await;
    let skeleton = json!({"type":"send","to":b.peer_id,"data":""}).to_string();
    let filler = "x".repeat(65536 - skeleton.len());
    let frame = json!({"type":"send","to":b.peer_id,"data":filler}).to_string();
    assert_eq!(frame.len(), 65536);
    a.send_text(&frame).await;
    assert_eq!(b.recv_type("message").await["data"].as_str().unwrap().len(), filler.len());
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_1009_and_ends_the_session() {
    let s = server().await;
    let (mut watcher, mut a) = pair_in(&s, "lobby", "w", "a").await;
    let frame = json!({"type":"publish","channel":"lobby","data":"y".repeat(70_000)}).to_string();
    a.send_text(&frame).await;
    assert_eq!(a.closed().await.0, 1009);
    let delta = watcher.recv_type("presence").await;
    assert_eq!(left(&delta), vec![a.peer_id.clone()]);
}

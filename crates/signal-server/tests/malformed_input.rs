//! Malformed frames get a typed `invalid_args` error (or a policy close), never a panic,
//! and the server keeps serving everyone else.

mod support;
use futures_util::SinkExt;
use serde_json::json;
use std::time::Duration;
use support::*;
use tokio_tungstenite::tungstenite::Message;

async fn assert_invalid(c: &mut Client, text: &str) -> serde_json::Value {
    c.send_text(text).await;
    let e = c.recv_type("error").await;
    assert_eq!(e["code"], "invalid_args", "for input {text:.60}: {e}");
    e
}

#[tokio::test]
async fn every_kind_of_bad_frame_is_invalid_args_and_the_socket_stays_open() {
    let s = server().await;
    let mut a = connect(&s).await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let inputs = [
        "not json".to_string(),
        "[1,2,3]".to_string(),
        "\"just a string\"".to_string(),
        r#"{"no":"type"}"#.to_string(),
        r#"{"type":42}"#.to_string(),
        r#"{"type":"subscribe","channel":1,"name":"n"}"#.to_string(),
        r#"{"type":"subscribe","channel":"c"}"#.to_string(),
        r#"{"type":"publish","channel":"c"}"#.to_string(),
        r#"{"type":"send","data":1}"#.to_string(),
        r#"{"type":"signal","to":"x","data":"not an object"}"#.to_string(),
        r#"{"type":"ping","t":1e999}"#.to_string(),
        format!(r#"{{"type":"publish","channel":"c","data":{deep}}}"#),
    ];
    for (i, text) in inputs.iter().enumerate() {
        assert_invalid(&mut a, text).await;
        if i % 5 == 4 {
            // Well-formed frames reset the malformed streak (ten in a row close the socket).
            a.send(json!({"type":"ping"})).await;
            a.recv_type("pong").await;
        }
    }
    let snap = a.subscribe("still-open", "a").await;
    assert_eq!(snap["type"], "presence");
}

#[tokio::test]
async fn request_id_is_echoed_on_errors_when_readable() {
    let s = server().await;
    let mut a = connect(&s).await;
    let e = assert_invalid(&mut a, r#"{"type":"subscribe","channel":5,"name":"n","requestId":77}"#).await;
    assert_eq!(e["requestId"], 77);
    let e = assert_invalid(&mut a, r#"{"type":"frobnicate","requestId":"r"}"#).await;
    assert_eq!(e["requestId"], "r");
    assert!(e["message"].as_str().unwrap().contains("unknown frame type"));
    assert_invalid(&mut a, r#"{"type":"ping","requestId":{"nested":true}}"#).await;
}

#[tokio::test]
async fn binary_frames_are_invalid_args() {
    let s = server().await;
    let mut a = connect(&s).await;
    a.ws.send(Message::binary(vec![0u8, 159, 146, 150])).await.unwrap();
    let e = a.recv_type("error").await;
    assert_eq!(e["code"], "invalid_args");
}

#[tokio::test]
async fn names_with_lone_surrogates_or_control_characters_are_refused() {
    let s = server().await;
    let mut a = connect(&s).await;
    assert_invalid(&mut a, r#"{"type":"subscribe","channel":"c","name":"\udc00"}"#).await;
    let e = a.request(json!({"type":"subscribe","channel":"c","name":"bell\u{7}"})).await;
    assert_eq!(e["code"], "invalid_args");
    let e = a.request(json!({"type":"subscribe","channel":"c","name":"   "})).await;
    assert_eq!(e["code"], "invalid_args");
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_1007() {
    let s = server().await;
    let mut a = connect(&s).await;
    // A text frame whose payload is not UTF-8, written below tungstenite's checks.
    let frame = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
        vec![b'{', 0xff, 0xfe, b'}'],
        tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
            tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
        ),
        true,
    );
    a.ws.send(Message::Frame(frame)).await.unwrap();
    assert_eq!(a.closed().await.0, 1007);
}

#[tokio::test]
async fn ten_malformed_frames_in_a_row_close_1008_and_end_the_session() {
    let s = server().await;
    let (mut watcher, mut a) = pair_in(&s, "lobby", "w", "a").await;
    for _ in 0..9 {
        assert_invalid(&mut a, "garbage").await;
    }
    a.send_text("garbage").await;
    a.recv_type("error").await;
    assert_eq!(a.closed().await.0, 1008);
    let delta = watcher.recv_type("presence").await;
    assert_eq!(left(&delta), vec![a.peer_id.clone()], "policy closes end the session at once");
}

#[tokio::test]
async fn a_misbehaving_client_does_not_disturb_others() {
    let s = server().await;
    let (mut a, mut b) = pair_in(&s, "lobby", "a", "b").await;
    let mut bad = connect(&s).await;
    for _ in 0..10 {
        bad.send_text("}{").await;
    }
    a.send(json!({"type":"send","to":b.peer_id,"data":"still here"})).await;
    assert_eq!(b.recv_type("message").await["data"], "still here");
    assert_eq!(bad.closed().await.0, 1008);
    b.silent_for(Duration::from_millis(100)).await;
}

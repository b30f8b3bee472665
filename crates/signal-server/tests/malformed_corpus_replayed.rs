//! Every input of the `frame` fuzz corpus (fuzz/corpus/frame: valid frames, and what the
//! fuzzer derived from them), plus hand-made hostile inputs, sent to a running server
//! one by one. Each gets an answer (its reply, or an `invalid_args` error) or a policy
//! close, the server keeps answering pings after each, and two bystanders keep
//! exchanging messages throughout.

mod support;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// Inputs no fuzzer needs to find.
fn hostile() -> Vec<Vec<u8>> {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let mut v: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\0".to_vec(),
        b"{\"type\":\"ping\",\"t\":1e999999}".to_vec(),
        b"{\"type\":\"subscribe\",\"type\":\"publish\"}".to_vec(),
        "{\"type\":\"subscribe\",\"channel\":\"\u{202e}\u{0}\",\"name\":\"\u{1F600}\"}".as_bytes().to_vec(),
        format!("{{\"type\":\"publish\",\"channel\":\"c\",\"data\":{}}}", "{\"a\":".repeat(64) + "1" + &"}".repeat(64))
            .into_bytes(),
        deep.into_bytes(),
        vec![0xff, 0xfe, 0x00, 0x7b],
    ];
    v.push(format!("{{\"type\":\"send\",\"to\":\"{}\",\"data\":1}}", "x".repeat(70_000)).into_bytes());
    v
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/frame");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // A running fuzzer may replace files meanwhile; those are skipped.
    files.into_iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// What happened to one input.
#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum Outcome {
    /// A reply of its own, or nothing (frames without a `requestId` need none).
    Served,
    Rejected,
    /// The server closed the socket (code).
    Closed(u16),
}

/// Sends `input`, then a ping, and reads until that ping's pong or a close.
async fn replay(c: &mut Client, input: &[u8], n: u64) -> Outcome {
    let msg = match std::str::from_utf8(input) {
        Ok(t) => Message::text(t.to_string()),
        Err(_) => Message::binary(input.to_vec()),
    };
    if c.ws.send(msg).await.is_err() {
        return Outcome::Closed(0);
    }
    let _ = c.ws.send(Message::text(json!({"type":"ping","t":n}).to_string())).await;
    let mut outcome = Outcome::Served;
    loop {
        let msg = tokio::time::timeout(WAIT, c.ws.next()).await.expect("the server answers within the wait");
        match msg {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).expect("the server sends JSON");
                if v["type"] == "pong" && v["t"] == n {
                    return outcome;
                }
                if v["type"] == "error" && v["code"] == "invalid_args" {
                    outcome = Outcome::Rejected;
                }
            }
            Some(Ok(Message::Close(f))) => return Outcome::Closed(f.map_or(1005, |f| u16::from(f.code))),
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Outcome::Closed(1006),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_frame_corpus_and_hostile_inputs_get_answers_or_policy_closes() {
    let s = server_with(config(
        "[server]\nrate_per_sec = 100000\nrate_burst = 100000\n[[keys]]\nkey = \"pk_test_x\"\nmax_connections = 100000",
    ))
    .await;
    let (mut a, mut b) = pair_in(&s, "bystanders", "a", "b").await;
    let mut inputs = corpus();
    assert!(inputs.len() >= 20, "the corpus is in the repo ({} inputs)", inputs.len());
    inputs.extend(hostile());
    let mut c = connect(&s).await;
    let mut counts = std::collections::HashMap::new();
    for (i, input) in inputs.iter().enumerate() {
        let outcome = replay(&mut c, input, i as u64).await;
        *counts.entry(outcome).or_insert(0) += 1;
        if let Outcome::Closed(code) = outcome {
            assert!([1007, 1008, 1009].contains(&code), "input {i} closed the socket with {code}");
            c = connect(&s).await;
        }
        if i % 100 == 0 {
            a.send(json!({"type":"send","to":b.peer_id,"data":i})).await;
            assert_eq!(b.recv_type("message").await["data"], i, "bystanders unaffected at input {i}");
        }
    }
    eprintln!("{} inputs: {counts:?}", inputs.len());
    assert!(counts.get(&Outcome::Rejected).copied().unwrap_or(0) > 0);
    a.send(json!({"type":"send","to":b.peer_id,"data":"after all"})).await;
    assert_eq!(b.recv_type("message").await["data"], "after all");
}

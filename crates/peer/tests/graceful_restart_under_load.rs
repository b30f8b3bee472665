//! A graceful server restart (a deploy) in the middle of a stream of server-routed
//! messages: the old server drains with `going_away`, a new one with the same secret
//! takes the port, the clients resume, and every message the server accepted (its `send`
//! was acknowledged) reaches the receiver exactly once. Messages refused during the
//! switch are refused loudly (an error to the sender), never dropped in silence.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use peerchat_peer::PeerEvent;
use signal_server::{Config, Server};
use support::*;

const SECRET: &str = "secret = \"graceful-restart-secret-0123456789\"";
const MESSAGES: u64 = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_the_server_accepted_arrives_once_across_a_graceful_restart() {
    let first = Server::spawn(config(SECRET)).await.unwrap();
    let addr = first.addr();
    let mut a = joined(&first, "lobby", "sender").await;
    let mut b = joined(&first, "lobby", "receiver").await;
    next_joined(&mut a).await;
    let b_id = b.peer_id().unwrap();

    // The receiver counts every copy of every sequence number.
    let counter = tokio::spawn(async move {
        let mut copies: HashMap<u64, u32> = HashMap::new();
        while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(8), b.next_event()).await {
            if let PeerEvent::Message { data, .. } = ev {
                if let Some(seq) = data["seq"].as_u64() {
                    *copies.entry(seq).or_default() += 1;
                }
            }
        }
        copies
    });

    // The sender streams, one acknowledged `send` at a time, every 5 ms; a third of the
    // way in, the server is replaced.
    let mut accepted = Vec::new();
    let mut refused = 0u64;
    let (mut first, mut second) = (Some(first), None);
    for seq in 0..MESSAGES {
        if let Some(first) = first.take_if(|_| seq == MESSAGES / 3) {
            first.shutdown();
            let mut cfg: Config = config(SECRET);
            cfg.listen = addr;
            let restart = async move {
                first.stopped().await;
                Server::spawn(cfg).await.unwrap()
            };
            second = Some(tokio::spawn(restart));
        }
        match a.send_to(&b_id, &serde_json::json!({ "seq": seq })).await {
            Ok(()) => accepted.push(seq),
            Err(e) => {
                refused += 1;
                eprintln!("seq {seq} refused: {e}");
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _second = second.unwrap().await.unwrap();
    let copies = counter.await.unwrap();

    let lost: Vec<u64> = accepted.iter().copied().filter(|s| !copies.contains_key(s)).collect();
    let twice: Vec<u64> = copies.iter().filter(|(_, n)| **n > 1).map(|(s, _)| *s).collect();
    eprintln!("{} accepted, {refused} refused, {} lost, {} duplicated", accepted.len(), lost.len(), twice.len());
    assert!(lost.is_empty(), "accepted by the server but never delivered: {lost:?}");
    assert!(twice.is_empty(), "delivered twice: {twice:?}");
    assert!(accepted.len() as u64 > MESSAGES / 2, "most sends go through ({} of {MESSAGES})", accepted.len());
    assert!(accepted.iter().any(|s| *s > MESSAGES / 3), "sends were accepted after the restart too");
}

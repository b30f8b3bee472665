//! Joining a busy room with the server's default limits (100 frames/s, burst 200): the
//! newcomer greets every member through the server and offers to half of them, far more
//! than the burst, and is never closed for it: the SDK paces under `welcome.limits`.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use peerchat_chat::{ChatConfig, ChatEvent, ChatSession};
use peerchat_peer::{PeerOptions, PublishableKey, SignallingState};
use signal_server::config::Config;
use signal_server::server::Server;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const KEY: &str = "pk_big_room";
const MEMBERS: usize = 499;
/// 499 greetings and about 250 offers with their candidates at 90 frames/s: about 10 s.
const WAIT: Duration = Duration::from_secs(90);

/// A member speaking the wire protocol: joins `big`, then reports the newcomer's hello.
async fn member(url: &str, i: usize, hellos: mpsc::Sender<usize>) -> tokio::task::JoinHandle<()> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("member connects");
    let sub = serde_json::json!({"type":"subscribe","channel":"big","name":format!("m{i}"),"requestId":1});
    ws.send(Message::text(sub.to_string())).await.unwrap();
    // Read from the start: every later join sends this member a presence delta.
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            let Ok(text) = msg.to_text() else { continue };
            let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else { continue };
            if v["type"] == "message" && v["data"]["type"] == "hello" {
                let _ = hellos.send(i).await;
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_room_of_500_with_default_limits_greets_everyone_without_a_4011() {
    let server = Server::spawn(Config::for_keys(&[KEY])).await.unwrap();
    let url = format!("{}?key={KEY}", server.url());
    let (tx, mut hellos) = mpsc::channel(MEMBERS);
    let mut readers = Vec::new();
    for i in 0..MEMBERS {
        readers.push(member(&url, i, tx.clone()).await);
    }
    let mut opts = PeerOptions::new(server.url(), PublishableKey::new(KEY));
    opts.engine.udp_addrs = vec!["127.0.0.1:0".into()];
    let (_session, mut events) = ChatSession::start(ChatConfig::new(opts, "big", "newcomer")).await.unwrap();

    let mut greeted = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while greeted.len() < MEMBERS {
        tokio::select! {
            Some(i) = hellos.recv() => { greeted.insert(i); }
            ev = events.next() => match ev {
                Some(ChatEvent::Error { kind, message, .. }) => panic!("{kind}: {message} ({} greeted)", greeted.len()),
                Some(ChatEvent::Signalling { state }) if matches!(state, SignallingState::Reconnecting | SignallingState::Closed) => {
                    panic!("signalling {state:?} after {} greetings", greeted.len())
                }
                Some(_) => {}
                None => panic!("the session ended after {} greetings", greeted.len()),
            },
            _ = tokio::time::sleep_until(deadline) => panic!("{} of {MEMBERS} greeted within {WAIT:?}", greeted.len()),
        }
    }
    for r in readers {
        r.abort();
    }
}

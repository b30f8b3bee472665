//! A resume token that leaked (a proxy that logged it, a copied URL) used by someone else
//! while its owner is connected: the owner is told, with an error it can report
//! (`SessionTakenOver`, fatal: it stops rather than fight over the session), and the
//! owner's next token would have made that copy worthless had it resumed first.

mod support;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use peerchat_peer::{PeerError, PeerEvent};
use support::*;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stolen_token_used_while_the_owner_is_connected_is_reported_to_the_owner() {
    let s = server().await;
    // A relay that keeps every resume token it sees, as a logging proxy would.
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let keep = seen.clone();
    let relay = peerchat_testkit::ws_relay::start(
        s.addr(),
        Arc::new(move |t: String| {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&t) {
                if let Some(token) = v["resumeToken"].as_str() {
                    keep.lock().unwrap().push(token.to_string());
                }
            }
            t
        }),
    )
    .await;
    let mut opts = options(&s);
    opts.url = format!("ws://{relay}/v1");
    let mut victim = TestPeer::new(opts);
    let id = bounded("join", victim.join("lobby", "ada")).await.unwrap();
    let stolen = seen.lock().unwrap().last().cloned().expect("the relay saw a token");

    let mut req = s.url().into_client_request().unwrap();
    req.headers_mut().insert("peerchat-key", KEY.parse().unwrap());
    req.headers_mut().insert("peerchat-resume", stolen.parse().unwrap());
    let (mut thief, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let welcome = bounded("the thief's welcome", thief.next()).await.unwrap().unwrap();
    let welcome: serde_json::Value = serde_json::from_str(welcome.to_text().unwrap()).unwrap();
    assert_eq!((welcome["resumed"].as_bool(), welcome["peerId"].as_str()), (Some(true), Some(id.as_str())));

    let reported = wait_event(&mut victim, |e| match e {
        PeerEvent::Error(err) => Some(err.clone()),
        _ => None,
    })
    .await;
    assert_eq!(reported, PeerError::SessionTakenOver);
    assert!(reported.is_fatal(), "the owner stops instead of taking the session back");
    assert_eq!(reported.kind(), "session_taken_over");
}

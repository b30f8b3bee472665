//! Server pings and the idle timeout, on tokio's paused clock.

mod support;
use futures_util::StreamExt;
use std::time::Duration;
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(start_paused = true)]
async fn the_server_pings_every_interval() {
    let s = server().await; // ping every 30 s
    let mut a = connect(&s).await;
    let started = tokio::time::Instant::now();
    let msg = tokio::time::timeout(Duration::from_secs(31), a.ws.next()).await.expect("a ping").unwrap().unwrap();
    assert!(matches!(msg, Message::Ping(_)), "got {msg:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(30) && waited < Duration::from_secs(31), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_silent_client_is_dropped_after_the_idle_timeout_and_then_leaves() {
    let s = server().await; // idle 60 s, grace 30 s
    let (mut watcher, mute) = pair_in(&s, "lobby", "w", "m").await;
    // The watcher keeps reading (and so answers pings); `mute` never reads again.
    let started = tokio::time::Instant::now();
    let delta = loop {
        match tokio::time::timeout(Duration::from_secs(200), watcher.ws.next())
            .await
            .expect("presence")
            .unwrap()
            .unwrap()
        {
            Message::Text(t) => break serde_json::from_str::<serde_json::Value>(&t).unwrap(),
            _ => continue,
        }
    };
    assert_eq!(left(&delta), vec![mute.peer_id.clone()]);
    let waited = started.elapsed();
    // Dropped at the first ping tick at or after 60 s of silence, then 30 s of grace.
    assert!(waited >= Duration::from_secs(90) && waited <= Duration::from_secs(121), "{waited:?}");
    assert_eq!(s.stats().await.connections, 1, "only the watcher is still connected");
}

#[tokio::test(start_paused = true)]
async fn a_client_that_answers_pings_stays() {
    let s = server().await;
    let mut a = connect(&s).await;
    // Reading lets tungstenite answer every ping for 5 minutes.
    let r = tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            match a.ws.next().await {
                Some(Ok(Message::Ping(_))) => continue,
                other => return other,
            }
        }
    })
    .await;
    assert!(r.is_err(), "still open after 5 minutes: {r:?}");
    assert_eq!(s.stats().await.connections, 1);
}

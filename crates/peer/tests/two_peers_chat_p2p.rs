//! Two peers join a room through the real server, connect over real WebRTC on loopback,
//! and exchange chat messages on channels each side opens (and receives).

mod support;
use peerchat_peer::{ChannelInit, DataChannelOptions, Message, PeerState};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_connect_and_chat_over_datachannels() {
    let s = server().await;
    let mut a = joined(&s, "lobby", "alice").await;
    let mut b = joined(&s, "lobby", "bob").await;
    let mut ra = next_joined(&mut a).await; // bob, as seen by alice
    let mut rb = next_joined(&mut b).await; // alice, as seen by bob
    assert_eq!(ra.id(), b.peer_id().unwrap());
    assert_eq!(rb.id(), a.peer_id().unwrap());
    assert_ne!(ra.polite(), rb.polite(), "exactly one side of the pair is polite");
    let t = std::time::Instant::now();
    assert!(tokio::time::timeout(WAIT, ra.wait_for(PeerState::Connected)).await.unwrap());
    assert!(tokio::time::timeout(WAIT, rb.wait_for(PeerState::Connected)).await.unwrap());
    eprintln!("connected in {:?}", t.elapsed());
    assert!(ra.pc().is_some());

    let opts = DataChannelOptions::default();
    let (out_a, _) =
        bounded("open_channel a", ra.open_channel("messages", ChannelInit::unreliable(), opts)).await.unwrap();
    let (out_b, _) =
        bounded("open_channel b", rb.open_channel("messages", ChannelInit::unreliable(), opts)).await.unwrap();
    let mut in_b = tokio::time::timeout(WAIT, rb.next_channel()).await.unwrap().unwrap();
    let mut in_a = tokio::time::timeout(WAIT, ra.next_channel()).await.unwrap().unwrap();
    assert_eq!(in_b.label(), "messages");
    bounded("send a", out_a.send(r#"{"type":"chat","id":"1","text":"hi bob"}"#)).await.unwrap();
    bounded("send b", out_b.send(r#"{"type":"chat","id":"2","text":"hi alice"}"#)).await.unwrap();
    let got_b = tokio::time::timeout(WAIT, in_b.recv()).await.unwrap().unwrap();
    let got_a = tokio::time::timeout(WAIT, in_a.recv()).await.unwrap().unwrap();
    assert_eq!(got_b, Message::Text(r#"{"type":"chat","id":"1","text":"hi bob"}"#.into()));
    assert_eq!(got_a, Message::Text(r#"{"type":"chat","id":"2","text":"hi alice"}"#.into()));
    bounded("close a", a.close()).await;
    bounded("close b", b.close()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaving_closes_every_remote_peer_and_rejoining_finds_them_again() {
    let s = server().await;
    let (mut a, mut b, ra, _rb) = connected_pair(&s).await;
    bounded("leave", a.leave()).await.unwrap();
    let left = wait_event(&mut a, |e| match e {
        peerchat_peer::PeerEvent::PeerLeft(r) => Some(r.clone()),
        _ => None,
    })
    .await;
    assert_eq!(left.id(), ra.id());
    assert_eq!(ra.state(), PeerState::Closed);
    assert!(ra.pc().is_none(), "the connection is closed");
    assert!(bounded("remotes", a.remotes()).await.is_empty());
    assert_eq!(bounded("send", a.send(&serde_json::json!(1))).await, Err(peerchat_peer::PeerError::NotJoined));
    // Bob sees Alice leave at once; when she comes back they connect again.
    wait_event(&mut b, |e| matches!(e, peerchat_peer::PeerEvent::PeerLeft(_)).then_some(())).await;
    bounded("join again", a.join("lobby", "alice")).await.unwrap();
    let again = next_joined(&mut a).await;
    assert_eq!(again.id(), b.peer_id().unwrap());
    assert!(tokio::time::timeout(WAIT, again.wait_for(PeerState::Connected)).await.unwrap());
}

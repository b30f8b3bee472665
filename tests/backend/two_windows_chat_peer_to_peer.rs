//! Two windows of one app on the embedded server: the key is provisioned into the
//! keyring, names arrive via the server-routed hello, chat travels over a DataChannel,
//! and closing a window makes its peer leave the other's list at once.

use std::time::Instant;

use peerchat_chat::{ChatEvent, MessageKind, Via};
use peerchat_desktop::keystore::SecretStore;

use crate::support::{app, window};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_windows_chat_peer_to_peer() {
    let (t, store) = app();
    let b = &t.backend;
    let status = b.status("main").await;
    assert!(status.first_run && status.local && status.key.is_none());

    let status = b.use_local_server("main", false).await.unwrap();
    assert!(!status.first_run);
    let key = status.key.expect("the local key is provisioned");
    assert_eq!(key.source, peerchat_desktop::keystore::KeySource::Keyring);
    let stored = store.get(&status.server_url).unwrap().expect("the key is in the keyring");
    assert!(!key.masked.contains(stored.expose()), "the UI only sees a masked key");

    let (mut w1, s1) = window("main");
    let (mut w2, s2) = window("chat-2");
    let a = b.join("main", "lobby", "alice", s1).await.unwrap();
    let c = b.join("chat-2", "lobby", "bob", s2).await.unwrap();
    assert!(a.local && c.local);
    assert_eq!(b.joined("main").unwrap().peer_id, a.peer_id);

    // Names arrive through the server before any channel is open.
    let hello =
        w2.wait_for("alice's hello", |e| matches!(e, ChatEvent::Message { kind: MessageKind::Hello, .. })).await;
    assert!(matches!(hello, ChatEvent::Message { ref name, via: Via::Server, .. } if name == "alice"));
    w1.wait_for("channel to bob", |e| matches!(e, ChatEvent::ChannelOpen { peer_id, .. } if *peer_id == c.peer_id))
        .await;
    w2.wait_for("channel to alice", |e| matches!(e, ChatEvent::ChannelOpen { peer_id, .. } if *peer_id == a.peer_id))
        .await;

    let sent = b.send_message("main", "<img src=x onerror=alert(1)>").await.unwrap();
    assert_eq!(sent.sent.p2p, vec![c.peer_id.clone()]);
    assert!(sent.sent.server.is_empty());
    let got = w2.wait_for("alice's line", |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, .. })).await;
    match got {
        ChatEvent::Message { from, name, via, text, id, .. } => {
            assert_eq!((from.as_str(), name.as_str(), via), (a.peer_id.as_str(), "alice", Via::P2p));
            assert_eq!(text, "<img src=x onerror=alert(1)>", "text arrives verbatim");
            assert_eq!(id.as_deref(), Some(sent.sent.id.as_str()));
        }
        other => panic!("unexpected {other:?}"),
    }

    // Closing a window leaves at once (unsubscribe), not after the 30 s grace period.
    let started = Instant::now();
    b.leave("chat-2").await;
    w1.wait_for("bob leaving", |e| matches!(e, ChatEvent::PeerLeft { peer_id } if *peer_id == c.peer_id)).await;
    assert!(started.elapsed().as_secs() < 10, "left after {:?}", started.elapsed());
    assert!(b.joined("chat-2").is_none());
    let err = b.send_message("main", "anyone?").await.unwrap_err();
    assert_eq!(err.kind, "no_peers");
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_that_goes_away_leaves_on_its_own() {
    let (t, _) = app();
    let b = &t.backend;
    b.use_local_server("main", false).await.unwrap();
    let (mut w1, s1) = window("main");
    let (w2, s2) = window("chat-2");
    b.join("main", "room", "alice", s1).await.unwrap();
    let bob = b.join("chat-2", "room", "bob", s2).await.unwrap();
    w1.wait_for("bob", |e| matches!(e, ChatEvent::PeerJoined { .. })).await;
    drop(w2); // the window is gone: its sink refuses the next event
    w1.wait_for("bob leaving", |e| matches!(e, ChatEvent::PeerLeft { peer_id } if *peer_id == bob.peer_id)).await;
    assert!(b.joined("chat-2").is_none());
    b.shutdown().await;
}

//! Two app processes on one machine: the second finds the first's embedded server on
//! the fixed loopback port (same keyring, same key) and the two chat.

use std::sync::Arc;

use peerchat_chat::{ChatEvent, MessageKind, Via};
use peerchat_desktop::keystore::MemoryStore;
use peerchat_peer::SignallingState;

use crate::support::{app_with, two_processes, window};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_process_reuses_the_local_server() {
    let (first, second) = two_processes().await;

    let (mut w1, s1) = window("main");
    let (mut w2, s2) = window("main");
    first.backend.join("main", "lobby", "ann", s1).await.unwrap();
    second.backend.join("main", "lobby", "ben", s2).await.unwrap();
    w1.wait_for("channel", |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    w2.wait_for("channel", |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    second.backend.send_message("main", "hi from the other process").await.unwrap();
    let got = w1.wait_for("ben's line", |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, .. })).await;
    assert!(matches!(got, ChatEvent::Message { ref text, via: Via::P2p, .. } if text == "hi from the other process"));
    second.backend.shutdown().await;
    first.backend.shutdown().await;
}

#[tokio::test]
async fn a_port_held_by_another_program_is_a_clear_error() {
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    let t = app_with(Arc::new(MemoryStore::default()), port);
    let err = t.backend.use_local_server("main", false).await.unwrap_err();
    assert_eq!(err.kind, "local_server");
    assert!(err.message.contains(&port.to_string()), "{}", err.message);
}

/// The process that ran the local server quits: the other takes the port over (same key,
/// same resume secret), its windows reconnect and resume, and keep chatting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_process_takes_over_when_the_server_process_quits() {
    let (first, second) = two_processes().await;
    assert_eq!(first.backend.local_server_is_ours().await, Some(true));
    assert_eq!(second.backend.local_server_is_ours().await, Some(false));

    let (_a1, s) = window("main");
    let ann = first.backend.join("main", "lobby", "ann", s).await.unwrap();
    let (mut b1, s) = window("main");
    let ben = second.backend.join("main", "lobby", "ben", s).await.unwrap();
    let (mut b2, s) = window("chat-2");
    let bea = second.backend.join("chat-2", "lobby", "bea", s).await.unwrap();
    b1.wait_for("channel to bea", |e| matches!(e, ChatEvent::ChannelOpen { peer_id, .. } if *peer_id == bea.peer_id))
        .await;
    b2.wait_for("channel to ben", |e| matches!(e, ChatEvent::ChannelOpen { peer_id, .. } if *peer_id == ben.peer_id))
        .await;

    first.backend.shutdown().await;
    b1.wait_for("ann leaving", |e| matches!(e, ChatEvent::PeerLeft { peer_id } if *peer_id == ann.peer_id)).await;
    b1.wait_for("reconnecting", |e| matches!(e, ChatEvent::Signalling { state: SignallingState::Reconnecting })).await;
    // Reconnected to the adopted server; bea was never reported gone.
    let back = b1
        .wait_for("signalling back, with bea still here", |e| {
            assert!(!matches!(e, ChatEvent::PeerLeft { peer_id } if *peer_id == bea.peer_id), "bea left: {e:?}");
            matches!(e, ChatEvent::Signalling { state: SignallingState::Connected })
        })
        .await;
    assert!(matches!(back, ChatEvent::Signalling { .. }));
    assert_eq!(second.backend.local_server_is_ours().await, Some(true));
    assert_eq!(second.backend.joined("main").unwrap().peer_id, ben.peer_id);

    second.backend.send_message("main", "still here").await.unwrap();
    b2.wait_for(
        "ben's line",
        |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, text, .. } if text == "still here"),
    )
    .await;
    // The adopted server introduces newcomers.
    let (_b3, s) = window("chat-3");
    let bo = second.backend.join("chat-3", "lobby", "bo", s).await.unwrap();
    b1.wait_for("bo", |e| matches!(e, ChatEvent::PeerJoined { peer_id, .. } if *peer_id == bo.peer_id)).await;
    second.backend.shutdown().await;
}

//! Two app processes on one machine: the second finds the first's embedded server on
//! the fixed loopback port (same keyring, same key) and the two chat.

use std::sync::Arc;

use peerchat_app::keystore::MemoryStore;
use peerchat_chat::{ChatEvent, MessageKind, Via};

use crate::support::{app_with, free_port, window};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_process_reuses_the_local_server() {
    let keyring = Arc::new(MemoryStore::default());
    let port = free_port();
    let first = app_with(keyring.clone(), port);
    let second = app_with(keyring, port);
    first.backend.use_local_server("main", false).await.unwrap();
    second.backend.use_local_server("main", false).await.unwrap();

    let (mut w1, s1) = window("main");
    let (mut w2, s2) = window("main");
    first.backend.join("main", "lobby", "ann", s1).await.unwrap();
    second.backend.join("main", "lobby", "ben", s2).await.unwrap();
    w1.wait_for("channel", |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    w2.wait_for("channel", |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    second.backend.send_message("main", "hi from the other process").unwrap();
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

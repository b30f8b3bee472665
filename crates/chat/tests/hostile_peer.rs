//! A hostile peer on the raw SDK against a chat session: channels with labels the chat
//! does not use are closed at once, and chat lines beyond the bounds (an id of a
//! kilobyte, through the channel or the server) are refused with an error event that
//! names the sender; the session goes on chatting.

mod support;

use peerchat_chat::{ChatConfig, ChatEvent, ChatSession, MessageKind};
use peerchat_peer::{ChannelInit, DataChannelOptions, Peer, PeerEvent, PeerOptions, PeerState, PublishableKey};
use signal_server::config::Config;
use signal_server::server::Server;
use support::{next_matching, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unexpected_channels_are_closed_and_oversized_lines_refused_with_an_error() {
    let server = Server::spawn(Config::for_keys(&["pk_hostile"])).await.unwrap();
    let opts = || {
        let mut o = PeerOptions::new(server.url(), PublishableKey::new("pk_hostile"));
        o.engine.udp_addrs = vec!["127.0.0.1:0".into()];
        o
    };
    let (_alice, mut events) = ChatSession::start(ChatConfig::new(opts(), "room", "alice")).await.unwrap();
    let (mallory, mut mallory_events) = Peer::new(opts());
    mallory.join("room", "mallory").await.unwrap();
    let r = tokio::time::timeout(WAIT, async {
        loop {
            if let Some(PeerEvent::PeerJoined(r, _)) = mallory_events.next().await {
                return r;
            }
        }
    })
    .await
    .unwrap();
    assert!(tokio::time::timeout(WAIT, r.wait_for(PeerState::Connected)).await.unwrap());

    let (chat, _) = r.open_channel("messages", ChannelInit::reliable(), DataChannelOptions::default()).await.unwrap();
    tokio::time::timeout(WAIT, chat.opened()).await.unwrap().unwrap();

    // A chat line with a kilobyte id, over the chat channel and through the server.
    let long_id = "x".repeat(1024);
    chat.send(format!(r#"{{"type":"chat","id":"{long_id}","text":"hi"}}"#)).await.unwrap();
    let refused =
        next_matching(&mut events, |e| matches!(e, ChatEvent::Error { kind, .. } if kind == "bad_message")).await;
    let ChatEvent::Error { peer_id, message, .. } = refused else { unreachable!() };
    assert_eq!(peer_id.as_deref(), mallory.peer_id().as_deref());
    assert!(message.contains("128 bytes"), "{message}");
    let alice_id = r.id().to_string();
    let data = serde_json::json!({"type": "chat", "id": long_id, "text": "hi"});
    mallory.send_to(&alice_id, &data).await.unwrap();
    next_matching(&mut events, |e| matches!(e, ChatEvent::Error { kind, .. } if kind == "bad_message")).await;

    // The session still takes a well-formed line.
    chat.send(r#"{"type":"chat","id":"m-1","text":"fine"}"#).await.unwrap();
    let got = next_matching(&mut events, |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, .. })).await;
    assert!(matches!(got, ChatEvent::Message { ref text, .. } if text == "fine"), "{got:?}");
    // Last (closing channels the other side opened can make the SDK rebuild the
    // connection, issue 18): twenty channels the chat never reads: each is closed by the other side.
    let mut evil = Vec::new();
    for i in 0..20 {
        let label = format!("evil-{i}");
        let (dc, _) = r.open_channel(&label, ChannelInit::reliable(), DataChannelOptions::default()).await.unwrap();
        evil.push(dc);
    }
    for dc in &evil {
        tokio::time::timeout(WAIT, dc.closed()).await.expect("an unexpected channel was left open");
    }

    mallory.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_come_from_presence_and_a_shared_name_shows_an_id_suffix() {
    let server = Server::spawn(Config::for_keys(&["pk_names"])).await.unwrap();
    let opts = || PeerOptions::new(server.url(), PublishableKey::new("pk_names"));
    let (_alice, mut events) = ChatSession::start(ChatConfig::new(opts(), "room", "alice")).await.unwrap();
    let joined = |e: &ChatEvent| matches!(e, ChatEvent::PeerJoined { .. });

    // Mallory joins as herself, then claims another name in a hello.
    let (mallory, _mallory_events) = Peer::new(opts());
    let m_id = mallory.join("room", "mallory").await.unwrap();
    let ev = next_matching(&mut events, joined).await;
    assert_eq!(ev, ChatEvent::PeerJoined { peer_id: m_id.clone(), name: "mallory".into() });
    let alice_id = _alice.peer_id();
    mallory.send_to(&alice_id, &serde_json::json!({"type": "hello", "name": "alice's boss"})).await.unwrap();
    mallory.send_to(&alice_id, &serde_json::json!({"type": "chat", "id": "m-1", "text": "trust me"})).await.unwrap();
    let got = next_matching(&mut events, |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, .. })).await;
    let ChatEvent::Message { name, .. } = got else { unreachable!() };
    assert_eq!(name, "mallory", "a hello does not rename anyone");

    // Two people called bob: both are shown with a short id suffix.
    let (bob1, _bob1_events) = Peer::new(opts());
    let b1 = bob1.join("room", "bob").await.unwrap();
    let ev = next_matching(&mut events, joined).await;
    assert_eq!(ev, ChatEvent::PeerJoined { peer_id: b1.clone(), name: "bob".into() });
    let (bob2, _bob2_events) = Peer::new(opts());
    let b2 = bob2.join("room", "bob").await.unwrap();
    let ev = next_matching(&mut events, joined).await;
    assert_eq!(ev, ChatEvent::PeerJoined { peer_id: b2.clone(), name: format!("bob #{}", &b2[..4]) });
    let ev = next_matching(&mut events, |e| matches!(e, ChatEvent::PeerRenamed { .. })).await;
    assert_eq!(ev, ChatEvent::PeerRenamed { peer_id: b1.clone(), name: format!("bob #{}", &b1[..4]) });
    // And someone taking our own name.
    let (fake, _fake_events) = Peer::new(opts());
    let f = fake.join("room", "alice").await.unwrap();
    let ev = next_matching(&mut events, joined).await;
    assert_eq!(ev, ChatEvent::PeerJoined { peer_id: f.clone(), name: format!("alice #{}", &f[..4]) });

    // One bob leaves: the other is plain "bob" again.
    bob2.leave().await.unwrap();
    let ev = next_matching(&mut events, |e| matches!(e, ChatEvent::PeerRenamed { .. })).await;
    assert_eq!(ev, ChatEvent::PeerRenamed { peer_id: b1, name: "bob".into() });
    for p in [mallory, bob1, bob2, fake] {
        p.close().await;
    }
}

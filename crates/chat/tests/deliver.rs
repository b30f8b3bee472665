//! A line kept for someone who was away goes to that peer alone when it is back, under
//! the id it was given when it was said, and its receipt comes back as for any line.

mod support;

use peerchat_chat::{ChatConfig, ChatError, ChatEvent, ChatSession, MessageKind, Via};
use peerchat_peer::{PeerOptions, PublishableKey};
use signal_server::config::Config;
use signal_server::server::Server;
use support::next_matching;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_line_reaches_the_returning_peer_alone_and_is_acknowledged() {
    support::logs();
    let server = Server::spawn(Config::for_keys(&["pk_deliver"])).await.unwrap();
    let opts = || PeerOptions::new(server.url(), PublishableKey::new("pk_deliver"));
    let (a, mut a_events) = ChatSession::start(ChatConfig::new(opts(), "room", "ann")).await.unwrap();
    // Said while nobody was there: the line gets its id now and goes out later.
    let id = a.next_line_id();
    assert_ne!(id, a.next_line_id(), "every line gets its own id");
    assert!(matches!(a.deliver("nobody", &id, "later", 1), Err(ChatError::UnknownPeer(_))));

    let (b, mut b_events) = ChatSession::start(ChatConfig::new(opts(), "room", "ben")).await.unwrap();
    let b_id = b.peer_id();
    next_matching(&mut a_events, |e| matches!(e, ChatEvent::PeerJoined { peer_id, .. } if *peer_id == b_id)).await;
    // Before the channel to ben is open: the line waits for it.
    a.deliver(&b_id, &id, "said while you were away", 1_700_000_000_000).unwrap();
    let got = next_matching(&mut b_events, |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, .. })).await;
    match got {
        ChatEvent::Message { via, text, id: got_id, written_ms, .. } => {
            assert_eq!((via, text.as_str()), (Via::P2p, "said while you were away"));
            assert_eq!(written_ms, Some(1_700_000_000_000), "when it was written travels with it");
            assert_eq!(got_id.as_deref(), Some(id.as_str()));
        }
        other => panic!("{other:?}"),
    }
    let ack = next_matching(&mut a_events, |e| matches!(e, ChatEvent::Delivered { .. })).await;
    assert_eq!(ack, ChatEvent::Delivered { peer_id: b_id.clone(), id: id.clone() });
    assert!(a.channel_open(&b_id));
    let people = a.people();
    assert_eq!(people.len(), 1, "{people:?}");
    assert_eq!((people[0].peer_id.as_str(), people[0].name.as_str()), (b_id.as_str(), "ben"));
    assert_eq!(people[0].fingerprint, a.security(&b_id).map(|v| v.fingerprint));
    // Cy, who comes next, was not the one it waited for: a line said to everyone
    // afterwards is the first chat line cy sees.
    let (c, mut c_events) = ChatSession::start(ChatConfig::new(opts(), "room", "cy")).await.unwrap();
    next_matching(&mut a_events, |e| matches!(e, ChatEvent::ChannelOpen { peer_id, .. } if *peer_id == c.peer_id()))
        .await;
    a.send_line("for all").unwrap();
    let got = next_matching(&mut c_events, |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, .. })).await;
    assert!(matches!(got, ChatEvent::Message { ref text, .. } if text == "for all"), "{got:?}");

    let long = "x".repeat(peerchat_chat::MAX_TEXT_BYTES + 1);
    assert!(matches!(a.deliver(&b_id, "a-9", &long, 1), Err(ChatError::TooLong { .. })));
    a.leave().await;
    assert!(matches!(a.deliver(&b_id, &id, "x", 1), Err(ChatError::Ended)));
    b.leave().await;
    c.leave().await;
    server.shutdown();
}

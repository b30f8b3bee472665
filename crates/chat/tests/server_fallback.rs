//! A line for a peer whose channel is not open yet goes through the server (with
//! `server_fallback`), from any thread; bad lines get typed errors.

mod support;

use peerchat_chat::{ChatConfig, ChatError, ChatEvent, ChatSession, MessageKind, Via};
use peerchat_peer::{PeerOptions, PublishableKey};
use signal_server::config::Config;
use signal_server::server::Server;
use support::next_matching;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_without_a_channel_goes_through_the_server_from_any_thread() {
    let server = Server::spawn(Config::for_keys(&["pk_fallback"])).await.unwrap();
    let opts = || PeerOptions::new(server.url(), PublishableKey::new("pk_fallback"));
    let mut a_cfg = ChatConfig::new(opts(), "room", "ann");
    a_cfg.server_fallback = true;
    let (a, mut a_events) = ChatSession::start(a_cfg).await.unwrap();

    // Nobody else yet: typed errors, nothing sent.
    assert!(matches!(a.send_line("hello?"), Err(ChatError::NoPeers)));
    assert!(matches!(a.send_line("   "), Err(ChatError::Empty)));
    let long = "x".repeat(peerchat_chat::MAX_TEXT_BYTES + 1);
    assert!(matches!(a.send_line(&long), Err(ChatError::TooLong { .. })));

    let (b, mut b_events) = ChatSession::start(ChatConfig::new(opts(), "room", "ben")).await.unwrap();
    let joined = next_matching(&mut a_events, |e| matches!(e, ChatEvent::PeerJoined { .. })).await;
    let ChatEvent::PeerJoined { peer_id: b_id, .. } = joined else { unreachable!() };

    // Right after the join no channel is open: the line goes through the server. It is
    // sent from a plain thread, outside any runtime (as a UI thread would).
    let a2 = a.clone();
    let sent = std::thread::spawn(move || a2.send_line("via the server")).join().unwrap().unwrap();
    assert_eq!(sent.server, vec![b_id.clone()]);
    assert!(sent.p2p.is_empty());
    let got = next_matching(&mut b_events, |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, .. })).await;
    match got {
        ChatEvent::Message { via, text, name, id, .. } => {
            assert_eq!((via, text.as_str(), name.as_str()), (Via::Server, "via the server", "ann"));
            assert_eq!(id, Some(sent.id));
        }
        other => panic!("{other:?}"),
    }

    // Once the channel is open, lines go peer to peer.
    next_matching(&mut a_events, |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    let sent = a.send_line("direct").unwrap();
    assert_eq!(sent.p2p, vec![b_id]);
    let got = next_matching(&mut b_events, |e| matches!(e, ChatEvent::Message { kind: MessageKind::Chat, .. })).await;
    assert!(matches!(got, ChatEvent::Message { via: Via::P2p, ref text, .. } if text == "direct"));

    a.leave().await;
    assert!(matches!(a.send_line("late"), Err(ChatError::Ended)));
    b.leave().await;
    server.shutdown();
}

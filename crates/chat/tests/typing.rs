//! "Is typing…" goes to the peers over the chat channel, at most every few seconds.

mod support;

use peerchat_chat::{ChatConfig, ChatError, ChatEvent, ChatSession};
use peerchat_peer::{PeerOptions, PublishableKey};
use signal_server::config::Config;
use signal_server::server::Server;
use support::next_matching;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typing_note_reaches_the_peer_and_is_not_repeated_at_once() {
    let server = Server::spawn(Config::for_keys(&["pk_typing"])).await.unwrap();
    let opts = || PeerOptions::new(server.url(), PublishableKey::new("pk_typing"));
    let (a, mut a_events) = ChatSession::start(ChatConfig::new(opts(), "room", "ann")).await.unwrap();
    let (b, mut b_events) = ChatSession::start(ChatConfig::new(opts(), "room", "ben")).await.unwrap();
    next_matching(&mut a_events, |e| matches!(e, ChatEvent::ChannelOpen { .. })).await;
    // From a plain thread, as a UI thread would call it.
    let a2 = a.clone();
    assert!(std::thread::spawn(move || a2.typing()).join().unwrap().unwrap(), "the note went out");
    assert!(!a.typing().unwrap(), "not again within 3 s");
    let got = next_matching(&mut b_events, |e| matches!(e, ChatEvent::Typing { .. })).await;
    assert_eq!(got, ChatEvent::Typing { peer_id: a.peer_id() });
    a.leave().await;
    assert!(matches!(a.typing(), Err(ChatError::Ended)));
    b.leave().await;
    server.shutdown();
}

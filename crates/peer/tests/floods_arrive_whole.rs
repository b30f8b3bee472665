//! A reliable ordered channel delivers every message of a flood of one-byte messages, in
//! order, to a receiver that reads nothing until the sender is done or held back: the
//! engine used to acknowledge and then discard messages once more than 32,768 waited
//! unread on one stream, and the stream never delivered again (vendor/README.md,
//! rtc-sctp 0001 and 0002).

mod support;
use std::time::Duration;

use peerchat_peer::{ChannelInit, PeerOptions, PeerState};
use support::*;
use tokio::sync::watch;

/// More than 32,768 (half the stream sequence space), the point where the engine lost
/// messages.
const MESSAGES: usize = 40_000;

/// How long a send may wait before the receiver is let read: a sender held back by the
/// receive window (the fix) waits until the receiver reads; one that is never held back
/// (the fault) finishes first.
const HELD_BACK: Duration = Duration::from_millis(300);

/// The whole test's bound: the flood, and in the worst case a few retransmission timeouts.
const WHOLE: Duration = Duration::from_secs(90);

async fn a_flood_arrives_whole_with_a_window_of(window: u32) {
    let s = server().await;
    let with_window = || {
        let mut o: PeerOptions = options(&s);
        o.engine.sctp_receive_buffer = window;
        o
    };
    let (mut a, mut b) = (TestPeer::new(with_window()), TestPeer::new(with_window()));
    bounded("alice joins", a.join("lobby", "alice")).await.unwrap();
    bounded("bob joins", b.join("lobby", "bob")).await.unwrap();
    let ra = next_joined(&mut a).await;
    let mut rb = next_joined(&mut b).await;
    assert!(bounded("alice connects", ra.wait_for(PeerState::Connected)).await);
    assert!(bounded("bob connects", rb.wait_for(PeerState::Connected)).await);
    let out = open(&ra, "flood", ChannelInit::reliable()).await;
    let mut inc = bounded("the channel arrives", rb.next_channel()).await.expect("peer open");
    bounded("the channel opens", out.opened()).await.unwrap();

    // The sender says when it is done or held back; the receiver starts reading then.
    let (go_tx, mut go_rx) = watch::channel(false);
    let sender = tokio::spawn(async move {
        for i in 0..MESSAGES {
            let send = out.send(numbered(i));
            tokio::pin!(send);
            let sent = match tokio::time::timeout(HELD_BACK, &mut send).await {
                Ok(r) => r,
                Err(_) => {
                    go_tx.send_replace(true);
                    send.await
                }
            };
            sent.unwrap_or_else(|e| panic!("send {i}: {e}"));
        }
        go_tx.send_replace(true);
        out
    });
    bounded("the sender is done or held back", go_rx.wait_for(|go| *go)).await.unwrap();

    if let Err(got) = read_numbered(&mut inc, MESSAGES, WHOLE).await {
        panic!("{got} of {MESSAGES} messages arrived within {WHOLE:?} (window {window} B)");
    }
    let _out = bounded("the sender finishes", sender).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_thousand_one_byte_messages_arrive_whole_with_the_default_window() {
    a_flood_arrives_whole_with_a_window_of(1024 * 1024).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_thousand_one_byte_messages_arrive_whole_with_a_16_mib_window() {
    // 16 MiB holds more than 32,768 waiting messages even at the per-message cost the
    // window now counts: here the receiver must refuse (not acknowledge) what its stream
    // cannot take yet, and the sender sends it again.
    a_flood_arrives_whole_with_a_window_of(16 * 1024 * 1024).await;
}

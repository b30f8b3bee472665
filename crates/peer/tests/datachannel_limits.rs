//! The DataChannel wrapper's limits: the send after `max_queued_sends` pending ones fails
//! at once with the sizes; a message over the negotiated maximum fails with `TooLarge`;
//! concurrent sends never exceed the buffer cap and arrive in order.

mod support;
use peerchat_peer::{ChannelInit, DataChannelError, DataChannelOptions, Message};
use std::sync::Arc;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_past_max_queued_sends_overflows_with_sizes() {
    let s = server().await;
    let (_a, _b, ra, mut rb) = connected_pair(&s).await;
    let opts = DataChannelOptions {
        max_buffered_amount: 64 * 1024,
        buffered_amount_low_threshold: 32 * 1024,
        max_queued_sends: 8,
    };
    let (out, _) = ra.open_channel("bulk", ChannelInit::reliable(), opts).await.unwrap();
    let mut inc = tokio::time::timeout(WAIT, rb.next_channel()).await.unwrap().unwrap();
    out.opened().await.unwrap();
    let out = Arc::new(out);
    // 64 concurrent sends of 60 KiB into a 64 KiB buffer: at most 8 may be pending.
    let mut tasks = Vec::new();
    for i in 0..64u8 {
        let out = out.clone();
        tasks.push(tokio::spawn(async move { out.send(vec![i; 60 * 1024]).await }));
    }
    let mut overflow = None;
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(DataChannelError::Overflow(e)) => overflow = Some(e),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let e = overflow.expect("some sends overflowed");
    assert_eq!(e.max_queued_sends, 8);
    assert!(e.queued_sends >= 8);
    assert_eq!(e.max_buffered_amount, 64 * 1024);
    assert_eq!(e.message_size, 60 * 1024);
    assert!(ok >= 8, "the first sends went through: {ok}");
    // Everything accepted arrives.
    for _ in 0..ok {
        let m = tokio::time::timeout(WAIT, inc.recv()).await.unwrap().unwrap();
        assert_eq!(m.len(), 60 * 1024);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_over_the_maximum_is_too_large_and_the_channel_survives() {
    let s = server().await;
    let (_a, _b, ra, mut rb) = connected_pair(&s).await;
    let (out, mut inc) = channel_pair(&ra, &mut rb).await;
    let max = out.max_message_size();
    assert!(max >= 65_536, "negotiated maximum {max}");
    let err = out.send(vec![0u8; max + 1]).await.unwrap_err();
    assert_eq!(err, DataChannelError::TooLarge { size: max + 1, max });
    out.send(vec![7u8; max]).await.expect("a message at the maximum is sent");
    assert_eq!(tokio::time::timeout(WAIT, inc.recv()).await.unwrap().unwrap(), Message::Binary(vec![7u8; max]));
    roundtrip(&out, &mut inc, "still open").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequenced_sends_arrive_in_order_without_loss() {
    let s = server().await;
    let (_a, _b, ra, mut rb) = connected_pair(&s).await;
    let (out, mut inc) = channel_pair(&ra, &mut rb).await;
    let n = 2_000u32;
    let sender = tokio::spawn(async move {
        for i in 0..n {
            out.send(format!("{i}")).await.unwrap();
        }
        out
    });
    for i in 0..n {
        let m = tokio::time::timeout(WAIT, inc.recv()).await.unwrap().unwrap();
        assert_eq!(m, Message::Text(format!("{i}")));
    }
    sender.await.unwrap();
}

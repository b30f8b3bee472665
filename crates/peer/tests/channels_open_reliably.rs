//! Channels opened on a live connection open at the side that opened them, and arrive
//! only at the other side: the engine must never mistake one of our own channels for one
//! the other side opened (vendor patch 0002).

mod support;
use peerchat_peer::{ChannelInit, DataChannelOptions, IncomingChannels, RemotePeer};
use support::*;

/// How many channels each side opens while the other does the same: on loopback the
/// other side's acknowledgement can beat the engine's registration of a new channel.
const CHANNELS: usize = 60;

/// Opens `CHANNELS` channels named `{prefix}{i}` without waiting between them; returns
/// them once each has opened.
async fn open_many(remote: &RemotePeer, prefix: &str) -> Vec<peerchat_peer::DataChannel> {
    let opts = DataChannelOptions::default();
    let mut out = Vec::new();
    for i in 0..CHANNELS {
        let label = format!("{prefix}{i}");
        let (dc, _) =
            bounded("open_channel", remote.open_channel(&label, ChannelInit::reliable(), opts)).await.unwrap();
        out.push(dc);
    }
    for dc in &out {
        let label = dc.label().to_string();
        bounded(&format!("channel {label} opens"), dc.opened()).await.unwrap_or_else(|e| panic!("{label} closed: {e}"));
    }
    out
}

/// The labels of the next `CHANNELS` incoming channels.
async fn incoming(channels: &mut IncomingChannels) -> Vec<String> {
    let mut labels = Vec::new();
    for _ in 0..CHANNELS {
        let (dc, _) = bounded("incoming channel", channels.next()).await.expect("peer open");
        labels.push(dc.label().to_string());
    }
    labels
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_opened_by_both_sides_at_once_open_where_opened_and_arrive_only_on_the_other_side() {
    let s = server().await;
    let (_a, _b, mut ra, mut rb) = connected_pair(&s).await;
    let (a_sees_b, b_sees_a) = (ra.remote.clone(), rb.remote.clone());
    let (_out_a, _out_b, mut in_a, mut in_b) = tokio::join!(
        open_many(&a_sees_b, "a"),
        open_many(&b_sees_a, "b"),
        incoming(&mut ra.channels),
        incoming(&mut rb.channels)
    );
    // The engine announces channels opened at once in no fixed order (its own choice;
    // W3C leaves the order of `datachannel` events across streams to the transport).
    in_a.sort();
    in_b.sort();
    let expect = |prefix: &str| {
        let mut v = (0..CHANNELS).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>();
        v.sort();
        v
    };
    assert_eq!(in_b, expect("a"), "b gets exactly a's channels");
    assert_eq!(in_a, expect("b"), "a gets exactly b's channels, none of its own");
}

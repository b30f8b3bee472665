//! What has arrived is delivered when the application reads it: the engine pulls only 256
//! messages ahead of the application and used to retry the rest only when something else
//! woke it (a datagram, or one of its own timers), so a burst read late came in steps of
//! 256 messages a few hundred milliseconds apart, or a second apart once ICE had settled
//! (vendor/README.md, rtc 0001).

mod support;
use std::time::Duration;

use peerchat_peer::{ChannelInit, PeerState};
use support::*;
use tokio::sync::oneshot;

/// Enough for the engine to park the stream a dozen times over.
const BURST: usize = 3_000;

/// A liveness bound, not a speed goal: the burst is read in milliseconds; waiting for the
/// engine's own timers to resume the parked stream took 3-4 s on this machine (a dozen
/// steps of 256 messages), and for keepalives it would take a dozen seconds.
const NO_WAITING: Duration = Duration::from_millis(1500);

/// Bob joins on a runtime of his own, sends `BURST` one-byte messages to the first peer he
/// sees, waits until all are acknowledged, says so, and then freezes his runtime (no
/// datagram of his leaves any more) until `thaw` is sent.
fn frozen_sender(opts: peerchat_peer::PeerOptions, sent: oneshot::Sender<()>) -> std::sync::mpsc::Sender<()> {
    let (thaw, frozen) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let mut b = TestPeer::new(opts);
            bounded("bob joins", b.join("lobby", "bob")).await.unwrap();
            let ra = next_joined(&mut b).await;
            assert!(bounded("bob connects", ra.wait_for(PeerState::Connected)).await);
            let out = open(&ra, "burst", ChannelInit::reliable()).await;
            bounded("the channel opens", out.opened()).await.unwrap();
            for i in 0..BURST {
                bounded("a send", out.send(numbered(i))).await.unwrap_or_else(|e| panic!("send {i}: {e}"));
            }
            bounded("all acknowledged", async {
                while out.buffered_amount().await > 0 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            let _ = sent.send(());
            // Frozen: this runtime's only thread waits here, so none of bob's tasks runs.
            let _ = frozen.recv();
            b.close().await;
        });
    });
    thaw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_that_has_arrived_is_read_at_once_though_the_sender_went_silent() {
    let s = server().await;
    let mut a = joined(&s, "lobby", "alice").await;
    let mut bob_opts = options(&s);
    // Bob's engine on his own runtime, so freezing it silences him entirely.
    bob_opts.engine.reactor_threads = 0;
    let (sent_tx, sent_rx) = oneshot::channel();
    let thaw = frozen_sender(bob_opts, sent_tx);
    let mut rb = next_joined(&mut a).await;
    let mut inc = bounded("bob's channel", rb.next_channel()).await.expect("peer open");
    bounded("bob sent everything and went silent", sent_rx).await.unwrap();

    let started = std::time::Instant::now();
    let whole = read_numbered(&mut inc, BURST, NO_WAITING).await;
    let _ = thaw.send(());
    if let Err(got) = whole {
        panic!("{got} of {BURST} messages read within {NO_WAITING:?}: the rest waited for the engine to wake");
    }
    eprintln!("{BURST} messages read in {:?}", started.elapsed());
}

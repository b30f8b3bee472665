//! `close` right after the peer's own tasks have ended (a refused key ends them at once)
//! returns. A command sent while the core task was ending used to be stranded in its
//! channel, and `close` waited for its answer forever: 8 of 300 chat-cli runs with a
//! refused key hung, and this loop hung by attempt ~450 with the CPU busy. It is a race,
//! so the loop is long; it cannot fail when the race is handled.

mod support;
use std::time::Duration;

use peerchat_peer::{Peer, PeerError, PublishableKey};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_after_a_refused_key_returns_every_time() {
    let s = server().await;
    let mut o = options(&s);
    o.key = PublishableKey::new("pk_refused");
    for i in 0..3000 {
        let (p, _events) = Peer::new(o.clone());
        assert_eq!(p.join("lobby", "x").await, Err(PeerError::InvalidKey));
        if tokio::time::timeout(Duration::from_secs(5), p.close()).await.is_err() {
            panic!("close hung on attempt {i}");
        }
    }
}

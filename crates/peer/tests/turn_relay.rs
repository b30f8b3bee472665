//! Two peers that may only use relay candidates connect through a real coturn (on
//! 127.0.0.1, `allow-loopback-peers`) with the per-peer credentials the server hands out
//! in `welcome`, and traffic on that relayed path moves at the pace of the network, not
//! of the engine's timers.
//!
//! The second test guards vendor/README.md patch 0001: before it, every packet the engine
//! sent or answered through a TURN relay waited for the next timer of its event loop, so
//! one round trip on loopback took ~190 ms (BENCHMARKS.md, NAT rows). 100 round trips
//! took ~19 s then and take well under a second now; the bound of 10 s sits between the
//! two with a wide margin on both sides.

mod support;

use std::time::Duration;

use peerchat_peer::{CandidateKind, IceTransportPolicy, PeerState, Route};
use peerchat_testkit::coturn::Coturn;
use peerchat_testkit::ports::free_tcp_udp_port;
use signal_server::{Config, Server, ServerHandle};
use support::*;

const SECRET: &str = "sdk-turn-secret-0123456789";

async fn server_announcing(turn: &Coturn) -> ServerHandle {
    let text = format!(
        "[server]\n[[keys]]\nkey = \"{KEY}\"\n[turn]\nsecret = \"{SECRET}\"\nurls = [\"{}\"]\nttl_secs = 600\n",
        turn.url()
    );
    let file = signal_server::FileConfig::parse(&text, "test").unwrap();
    Server::spawn(Config::build(file, Some("127.0.0.1:0".into()), vec![]).unwrap()).await.expect("server binds")
}

async fn relay_only(s: &ServerHandle, name: &str) -> TestPeer {
    let mut o = options(s);
    o.ice_transport_policy = IceTransportPolicy::Relay;
    let p = TestPeer::new(o);
    bounded("join", p.join("lobby", name)).await.expect("join succeeds");
    p
}

fn coturn() -> Coturn {
    let port = free_tcp_udp_port("127.0.0.1");
    Coturn::start_with(None, "127.0.0.1", port, SECRET, "peerchat.test", &["allow-loopback-peers"])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_peers_connect_through_coturn_and_report_a_relayed_path() {
    let turn = coturn();
    let s = server_announcing(&turn).await;
    let mut a = relay_only(&s, "alice").await;
    let mut b = relay_only(&s, "bob").await;
    let (ra, mut rb) = (next_joined(&mut a).await, next_joined(&mut b).await);
    assert!(bounded("a connects", ra.wait_for(PeerState::Connected)).await);
    assert!(bounded("b connects", rb.wait_for(PeerState::Connected)).await);
    let (out, mut inc) = channel_pair(&ra, &mut rb).await;
    roundtrip(&out, &mut inc, "through the relay").await;
    let path = ra.path().expect("a connected peer has a path");
    assert_eq!(path.route(), Route::Relayed, "{path:?}");
    assert_eq!(path.local, CandidateKind::Relay, "{path:?}");
    // Our end is an allocation on that coturn, in its relay port range.
    let port: u16 = path.local_address.rsplit(':').next().unwrap().parse().unwrap();
    assert!(path.local_address.starts_with("127.0.0.1:") && port >= 49152, "{path:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_through_a_relay_do_not_wait_for_engine_timers() {
    let turn = coturn();
    let s = server_announcing(&turn).await;
    let mut a = relay_only(&s, "alice").await;
    let mut b = relay_only(&s, "bob").await;
    let (ra, mut rb) = (next_joined(&mut a).await, next_joined(&mut b).await);
    assert!(bounded("a connects", ra.wait_for(PeerState::Connected)).await);
    assert!(bounded("b connects", rb.wait_for(PeerState::Connected)).await);
    let (mut out, mut inc) = channel_pair(&ra, &mut rb).await;
    let echo = tokio::spawn(async move {
        while let Some(m) = inc.recv().await {
            if inc.send(m).await.is_err() {
                return;
            }
        }
    });
    let hundred = async {
        for n in 0..100 {
            out.send(n.to_string()).await.expect("send");
            let back = out.recv().await.expect("channel open");
            assert_eq!(back, peerchat_peer::Message::Text(n.to_string()));
        }
    };
    tokio::time::timeout(Duration::from_secs(10), hundred)
        .await
        .expect("100 relayed round trips within 10 s (each waited ~190 ms for a timer before patch 0001)");
    echo.abort();
}

//! Test support: a real signalling server on 127.0.0.1:0 and peers on the real SDK.
#![allow(dead_code)]

use std::time::Duration;

use peerchat_peer::{Peer, PeerEvent, PeerOptions, PublishableKey, RemotePeer};
use signal_server::{Config, Server, ServerHandle};

pub const KEY: &str = "pk_test_sdk";
pub const WAIT: Duration = Duration::from_secs(15);

pub async fn server() -> ServerHandle {
    Server::spawn(Config::for_keys(&[KEY])).await.expect("server binds")
}

pub fn options(server: &ServerHandle) -> PeerOptions {
    let mut o = PeerOptions::new(server.url(), PublishableKey::new(KEY));
    o.engine.udp_addrs = vec!["127.0.0.1:0".into()];
    o
}

pub async fn joined(server: &ServerHandle, room: &str, name: &str) -> Peer {
    let p = Peer::new(options(server));
    tokio::time::timeout(WAIT, p.join(room, name)).await.expect("join in time").expect("join succeeds");
    p
}

/// Waits for an event matching `f`, skipping others.
pub async fn wait_event<T>(p: &Peer, mut f: impl FnMut(&PeerEvent) -> Option<T>) -> T {
    tokio::time::timeout(WAIT, async {
        loop {
            let ev = p.next_event().await.expect("peer still open");
            if let Some(t) = f(&ev) {
                return t;
            }
        }
    })
    .await
    .expect("event within the wait")
}

pub async fn next_joined(p: &Peer) -> RemotePeer {
    wait_event(p, |e| match e {
        PeerEvent::PeerJoined(r) => Some(r.clone()),
        _ => None,
    })
    .await
}

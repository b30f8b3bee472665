//! Test support: a real signalling server on 127.0.0.1:0 and peers on the real SDK.
#![allow(dead_code)]

use std::time::Duration;

use peerchat_peer::{
    ChannelInit, DataChannel, DataChannelOptions, IncomingChannels, Message, Messages, Peer, PeerEvent, PeerEvents,
    PeerOptions, PublishableKey, RemotePeer,
};
use signal_server::{Config, Server, ServerHandle};

pub const KEY: &str = "pk_test_sdk";
pub const WAIT: Duration = Duration::from_secs(15);

/// Logs to the test's captured output as `RUST_LOG` says (nothing when it is unset), so
/// a failing run can be rerun with the engine's and the SDK's own account of it.
pub fn logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

pub async fn server() -> ServerHandle {
    logs();
    Server::spawn(Config::for_keys(&[KEY])).await.expect("server binds")
}

pub fn options(server: &ServerHandle) -> PeerOptions {
    let mut o = PeerOptions::new(server.url(), PublishableKey::new(KEY));
    o.engine.udp_addrs = vec!["127.0.0.1:0".into()];
    o
}

/// A peer with its events, as a test holds it (derefs to the [`Peer`]).
pub struct TestPeer {
    pub peer: Peer,
    pub events: PeerEvents,
}

impl TestPeer {
    pub fn new(opts: PeerOptions) -> TestPeer {
        let (peer, events) = Peer::new(opts);
        TestPeer { peer, events }
    }

    /// The next event; `None` once the peer is closed.
    pub async fn next_event(&mut self) -> Option<PeerEvent> {
        self.events.next().await
    }
}

impl std::ops::Deref for TestPeer {
    type Target = Peer;
    fn deref(&self) -> &Peer {
        &self.peer
    }
}

/// A remote peer with the channels it opens to us (derefs to the [`RemotePeer`]).
pub struct TestRemote {
    pub remote: RemotePeer,
    pub channels: IncomingChannels,
}

impl TestRemote {
    /// The next channel this remote peer opens, with its messages.
    pub async fn next_channel(&mut self) -> Option<Chan> {
        self.channels.next().await.map(|(dc, rx)| Chan { dc, rx })
    }
}

impl std::ops::Deref for TestRemote {
    type Target = RemotePeer;
    fn deref(&self) -> &RemotePeer {
        &self.remote
    }
}

/// A channel and the messages that arrive on it (derefs to the [`DataChannel`]).
pub struct Chan {
    pub dc: DataChannel,
    pub rx: Messages,
}

impl Chan {
    pub async fn recv(&mut self) -> Option<Message> {
        self.rx.recv().await
    }
}

impl std::ops::Deref for Chan {
    type Target = DataChannel;
    fn deref(&self) -> &DataChannel {
        &self.dc
    }
}

/// Opens a channel on `r` with `label`.
pub async fn open(r: &RemotePeer, label: &str, init: ChannelInit) -> Chan {
    let (dc, rx) = r.open_channel(label, init, DataChannelOptions::default()).await.expect("channel opens");
    Chan { dc, rx }
}

pub async fn joined(server: &ServerHandle, room: &str, name: &str) -> TestPeer {
    let p = TestPeer::new(options(server));
    tokio::time::timeout(WAIT, p.join(room, name)).await.expect("join in time").expect("join succeeds");
    p
}

/// Awaits `f`, failing the test (naming `what`) if it takes longer than [`WAIT`]: a hang
/// becomes a failure that says where.
pub async fn bounded<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f).await.unwrap_or_else(|_| panic!("{what} did not finish within {WAIT:?}"))
}

/// Waits for an event matching `f`, skipping others.
pub async fn wait_event<T>(p: &mut TestPeer, mut f: impl FnMut(&PeerEvent) -> Option<T>) -> T {
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

/// The next remote peer to join, with its channels.
pub async fn next_joined(p: &mut TestPeer) -> TestRemote {
    tokio::time::timeout(WAIT, async {
        loop {
            if let PeerEvent::PeerJoined(remote, channels) = p.next_event().await.expect("peer still open") {
                return TestRemote { remote, channels };
            }
        }
    })
    .await
    .expect("a peer joins within the wait")
}

/// A connected pair: (peer a, peer b, b as seen by a, a as seen by b).
pub async fn connected_pair(s: &ServerHandle) -> (TestPeer, TestPeer, TestRemote, TestRemote) {
    let mut a = joined(s, "lobby", "alice").await;
    let mut b = joined(s, "lobby", "bob").await;
    let ra = next_joined(&mut a).await;
    let rb = next_joined(&mut b).await;
    assert!(tokio::time::timeout(WAIT, ra.wait_for(peerchat_peer::PeerState::Connected)).await.unwrap());
    assert!(tokio::time::timeout(WAIT, rb.wait_for(peerchat_peer::PeerState::Connected)).await.unwrap());
    (a, b, ra, rb)
}

/// Opens a chat channel from `from` (a remote handle) and returns it with the matching
/// incoming channel on the other side (`to`).
pub async fn channel_pair(from: &RemotePeer, to: &mut TestRemote) -> (Chan, Chan) {
    let out = open(from, "messages", ChannelInit::reliable()).await;
    let inc = tokio::time::timeout(WAIT, to.next_channel()).await.expect("channel arrives").expect("peer open");
    tokio::time::timeout(WAIT, out.opened()).await.unwrap().unwrap();
    (out, inc)
}

/// Sends `text` and asserts it arrives on `inc`.
pub async fn roundtrip(out: &DataChannel, inc: &mut Chan, text: &str) {
    out.send(text).await.expect("send");
    let got = tokio::time::timeout(WAIT, inc.recv()).await.expect("message in time").expect("channel open");
    assert_eq!(got, Message::Text(text.to_string()));
}

/// A server config with `[server]` fields and the test key.
pub fn config(server_fields: &str) -> Config {
    Config::for_keys_with(server_fields, &[KEY]).expect("test config is valid")
}

/// Message `i` of a numbered run of one-byte messages (the byte repeats every 251, so a
/// lost, repeated or reordered message shows).
pub fn numbered(i: usize) -> Vec<u8> {
    vec![(i % 251) as u8]
}

/// Reads `n` numbered messages on `rx`, in order, within `within`; if they do not all
/// arrive in time, how many did. Any other message fails the test.
pub async fn read_numbered(rx: &mut Chan, n: usize, within: Duration) -> Result<(), usize> {
    let mut got = 0usize;
    let read = async {
        while got < n {
            match rx.recv().await {
                Some(Message::Binary(b)) if b == numbered(got) => got += 1,
                other => panic!("message {got}: {other:?}"),
            }
        }
    };
    match tokio::time::timeout(within, read).await {
        Ok(()) => Ok(()),
        Err(_) => Err(got),
    }
}

//! Interop: a peer written against the W3C WebRTC API, as a browser page would write it
//! (`tools/bench-ref/w3c-peer.mjs`: the global `WebSocket` and node-datachannel's W3C
//! polyfill over libdatachannel, following only docs/protocol.md), finds chat-cli (the
//! SDK on the `webrtc` crate) through the real server, connects peer to peer and chats
//! both ways, whichever side makes the first offer; the control channel's pings are
//! answered, and a leaving chat-cli is seen leaving.

mod support;

use std::path::PathBuf;

use signal_server::Server;
use support::*;
use tokio::process::Command;

/// Rounds allowed to see both offer roles (peer ids are random: the greater one offers).
const MAX_ROUNDS: usize = 12;

fn w3c_peer(url: &str, name: &str) -> Command {
    let tools = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/bench-ref");
    assert!(
        tools.join("node_modules/node-datachannel").exists(),
        "node-datachannel is not installed: run `npm ci --prefix tools/bench-ref` (scripts/test.sh does)"
    );
    let mut cmd = Command::new("node");
    cmd.arg(tools.join("w3c-peer.mjs")).args(["--url", url, "--key", KEY, "--room", "lobby", "--name", name]);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_w3c_api_peer_and_chat_cli_chat_peer_to_peer_whichever_side_offers() {
    let (mut w3c_offered, mut sdk_offered) = (false, false);
    for round in 0..MAX_ROUNDS {
        if w3c_offered && sdk_offered {
            break;
        }
        let s = Server::spawn(config("")).await.unwrap();
        let url = s.url();
        let mut rust = Cli::start(&url, KEY, "rust").await;
        let mut w3c = Cli::spawn(w3c_peer(&url, "w3c")).await;
        // The peer conventions: the greater peer id makes the first offer.
        if w3c.id > rust.id {
            w3c_offered = true;
        } else {
            sdk_offered = true;
        }
        let who = format!("round {round}: w3c {} / sdk {}", w3c.id, rust.id);

        let joined = w3c.expect("peer-joined", |v| v["peerId"] == rust.id.as_str()).await;
        assert_eq!(joined["name"], "rust", "{who}");
        rust.expect("state-change", |v| v["peerId"] == w3c.id.as_str() && v["to"] == "connected").await;
        w3c.expect("connected", |v| v["peerId"] == rust.id.as_str()).await;
        // Each side reads the channel the other opened, so wait for both.
        rust.expect("channel-open", |v| v["peerId"] == w3c.id.as_str()).await;
        w3c.expect("channel-open", |v| v["peerId"] == rust.id.as_str() && v["label"] == "messages").await;

        rust.say("hello from the SDK").await;
        let m = w3c.expect("message", |v| v["kind"] == "chat").await;
        assert_eq!((m["text"].as_str(), m["via"].as_str()), (Some("hello from the SDK"), Some("p2p")), "{who}");
        assert_eq!(m["from"], rust.id.as_str(), "{who}");

        w3c.say(r#"{"say":"hello from a W3C page"}"#).await;
        let m = rust.expect("message", |v| v["via"] == "p2p").await;
        assert_eq!(m["text"], "hello from a W3C page", "{who}");
        assert_eq!(m["from"], w3c.id.as_str(), "{who}");

        // The SDK answers the control channel's pings.
        w3c.expect("pong", |v| v["peerId"] == rust.id.as_str()).await;

        let rust_id = rust.id.clone();
        assert_eq!(rust.finish().await, 0, "{who}");
        w3c.expect("peer-left", |v| v["peerId"] == rust_id.as_str()).await;
        assert_eq!(w3c.finish().await, 0, "{who}: end of stdin exits 0");
    }
    assert!(w3c_offered && sdk_offered, "both offer roles within {MAX_ROUNDS} rounds");
}

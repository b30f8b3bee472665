//! A WebSocket relay in front of a signalling server that can rewrite what the server
//! sends to its clients: an operator who lies (a welcome without its limits) or a man in
//! the middle (SDPs with other DTLS fingerprints), as a test needs one. The client's
//! path, query and `peerchat-*` headers go through unchanged; close frames too.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::Message;

/// Rewrites one text frame from the server to a client.
pub type Rewrite = Arc<dyn Fn(String) -> String + Send + Sync>;

/// Starts a relay to the server at `target`; returns the address clients connect to.
/// It lives as long as the test's runtime.
pub async fn start(target: SocketAddr, rewrite: Rewrite) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay binds");
    let addr = listener.local_addr().expect("relay address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(relay(stream, target, rewrite.clone()));
        }
    });
    addr
}

// The handshake callback's error type is tungstenite's (a whole HTTP response).
#[allow(clippy::result_large_err)]
async fn relay(stream: tokio::net::TcpStream, target: SocketAddr, rewrite: Rewrite) {
    let mut asked = None;
    let remember = |req: &Request, resp: Response| {
        asked = Some((req.uri().to_string(), req.headers().clone()));
        Ok(resp)
    };
    let down = tokio_tungstenite::accept_hdr_async(stream, remember).await;
    let (Ok(down), Some((path, headers))) = (down, asked) else { return };
    let Ok(mut req) = format!("ws://{target}{path}").into_client_request() else { return };
    for (name, value) in headers.iter().filter(|(n, _)| n.as_str().starts_with("peerchat-")) {
        req.headers_mut().insert(name.clone(), value.clone());
    }
    let Ok((up, _)) = tokio_tungstenite::connect_async(req).await else { return };
    let (mut down_tx, mut down_rx) = down.split();
    let (mut up_tx, mut up_rx) = up.split();
    let to_server = async {
        while let Some(Ok(m)) = down_rx.next().await {
            if up_tx.send(m).await.is_err() {
                break;
            }
        }
    };
    let to_client = async {
        while let Some(Ok(m)) = up_rx.next().await {
            let m = match m {
                Message::Text(t) => Message::text(rewrite(t.to_string())),
                other => other,
            };
            if down_tx.send(m).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(to_server, to_client);
}

/// Replaces the value of every `a=fingerprint:` line in the JSON frame `text` with `fake`
/// (`sha-256 AB:…`): what a man in the middle who terminates DTLS on both sides does.
pub fn swap_fingerprints(text: &str, fake: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("a=fingerprint:") {
        let start = at + "a=fingerprint:".len();
        out.push_str(&rest[..start]);
        out.push_str(fake);
        // The value ends at the SDP line's end (`\r\n`, escaped in the JSON frame).
        let end = rest[start..].find("\\r\\n").map_or(rest.len(), |e| start + e);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

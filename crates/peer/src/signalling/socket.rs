//! The signalling WebSocket: connect (mapping refusals to typed errors), then read typed
//! server frames and write client frames. Nothing about sessions or rooms.

use futures_util::{SinkExt, StreamExt};
use peerchat_protocol::{ClientFrame, PublishableKey, ServerFrame};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::error::PeerError;

/// Largest server frame accepted. Relayed frames can slightly exceed the 64 KiB client
/// limit, and presence snapshots of big rooms more so.
const MAX_SERVER_FRAME: usize = 1024 * 1024;

/// Why a connection attempt failed.
#[derive(Debug)]
pub enum ConnectError {
    /// Retrying cannot help (bad key, bad URL, forbidden origin).
    Fatal(PeerError),
    /// Network trouble or a server error: retry later.
    Retry(String),
}

/// One thing read from the socket.
#[derive(Debug)]
pub enum Read {
    Frame(ServerFrame),
    /// A frame this SDK does not understand (a newer server): ignored.
    Unknown,
    /// A ping, pong or malformed frame: the socket is alive.
    Activity,
    /// The server closed with this code (1006 when the socket just ended).
    Closed(u16),
}

pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// The URL with `key` and `resume` query parameters.
pub fn connect_url(base: &str, key: &PublishableKey, resume: Option<&str>) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    let mut url = format!("{base}{sep}key={}", percent_encode(key.expose()));
    if let Some(t) = resume {
        url.push_str("&resume=");
        url.push_str(&percent_encode(t));
    }
    url
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Socket {
    /// Connects and upgrades. The URL (which holds the key) is never logged.
    pub async fn connect(url: &str, origin: Option<&str>) -> Result<Socket, ConnectError> {
        let mut req = url
            .into_client_request()
            .map_err(|_| ConnectError::Fatal(PeerError::BadUrl("not a ws:// or wss:// URL".into())))?;
        if let Some(o) = origin {
            let v = o.parse().map_err(|_| ConnectError::Fatal(PeerError::BadUrl("bad origin".into())))?;
            req.headers_mut().insert("origin", v);
        }
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_SERVER_FRAME))
            .max_frame_size(Some(MAX_SERVER_FRAME))
            .read_buffer_size(16 * 1024);
        match tokio_tungstenite::connect_async_with_config(req, Some(config), true).await {
            Ok((ws, _)) => Ok(Socket { ws }),
            Err(WsError::Http(resp)) => Err(ConnectError::Fatal(match resp.status().as_u16() {
                401 => PeerError::InvalidKey,
                403 => PeerError::OriginNotAllowed,
                404 => PeerError::BadUrl("no signalling endpoint at this path".into()),
                s if s >= 500 => return Err(ConnectError::Retry(format!("HTTP {s}"))),
                s => PeerError::Refused(s),
            })),
            Err(WsError::Url(e)) => Err(ConnectError::Fatal(PeerError::BadUrl(e.to_string()))),
            Err(e) => Err(ConnectError::Retry(e.to_string())),
        }
    }

    /// Reads the next event. Cancel-safe.
    pub async fn read(&mut self) -> Read {
        match self.ws.next().await {
            Some(Ok(Message::Text(t))) => match ServerFrame::parse(&t) {
                Ok(f) => Read::Frame(f),
                Err(e) if e.unknown_type => Read::Unknown,
                Err(e) => {
                    tracing::warn!(error = %e, "malformed frame from the server");
                    Read::Activity
                }
            },
            Some(Ok(Message::Close(f))) => Read::Closed(f.map_or(1005, |f| u16::from(f.code))),
            Some(Ok(_)) => Read::Activity,
            Some(Err(_)) | None => Read::Closed(1006),
        }
    }

    /// Sends one frame.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), WsError> {
        self.ws.send(Message::text(frame.to_json())).await
    }

    /// Closes with 1000 and waits briefly for the server's answer.
    pub async fn close(mut self) {
        use tokio_tungstenite::tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
        let _ = self.ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_carries_key_and_resume_encoded() {
        let k = PublishableKey::new("pk a+b");
        assert_eq!(connect_url("ws://h/v1", &k, None), "ws://h/v1?key=pk%20a%2Bb");
        assert_eq!(connect_url("ws://h/v1?x=1", &k, Some("t.1")), "ws://h/v1?x=1&key=pk%20a%2Bb&resume=t.1");
    }
}

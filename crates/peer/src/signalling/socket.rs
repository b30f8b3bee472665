//! The signalling WebSocket: connect (mapping refusals to typed errors), then read typed
//! server frames and write client frames. Nothing about sessions or rooms; the byte
//! stream under it (TCP, TLS) is `transport.rs`'s.

use futures_util::{SinkExt, StreamExt};
use peerchat_protocol::{ClientFrame, PublishableKey, ServerFrame};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::transport::{DialError, Dialer, Stream, Target};
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
    ws: WebSocketStream<Stream>,
}

/// Header carrying the publishable key (native clients; browsers use `?key=`).
pub const KEY_HEADER: &str = "peerchat-key";
/// Header carrying the resume token.
pub const RESUME_HEADER: &str = "peerchat-resume";

impl Socket {
    /// Connects and upgrades, sending the key and resume token in headers so that they
    /// never appear in a URL that a proxy or access log records. Never logged.
    pub async fn connect(
        dialer: &Dialer,
        url: &str,
        key: &PublishableKey,
        resume: Option<&str>,
        origin: Option<&str>,
    ) -> Result<Socket, ConnectError> {
        let target = Target::parse(url, dialer.options().allow_plaintext).map_err(ConnectError::Fatal)?;
        if dialer.options().require_key_proof {
            match proves_key(dialer, &target, url, key).await? {
                true => {}
                false => {
                    tracing::warn!("the server did not prove that it knows the key; the key was not sent");
                    return Err(ConnectError::Retry("the server did not prove that it knows the key".into()));
                }
            }
        }
        let mut req = url
            .into_client_request()
            .map_err(|_| ConnectError::Fatal(PeerError::BadUrl("not a ws:// or wss:// URL".into())))?;
        let bad = |what: &str| ConnectError::Fatal(PeerError::BadUrl(format!("{what} cannot be sent in a header")));
        let headers = req.headers_mut();
        headers.insert(KEY_HEADER, key.expose().parse().map_err(|_| bad("the key"))?);
        if let Some(t) = resume {
            headers.insert(RESUME_HEADER, t.parse().map_err(|_| bad("the resume token"))?);
        }
        if let Some(o) = origin {
            headers.insert("origin", o.parse().map_err(|_| bad("the origin"))?);
        }
        let stream = dialer.dial(&target).await.map_err(|e| match e {
            DialError::Fatal(e) => ConnectError::Fatal(e),
            DialError::Io(e) => ConnectError::Retry(e.to_string()),
        })?;
        let config = WebSocketConfig::default()
            .max_message_size(Some(MAX_SERVER_FRAME))
            .max_frame_size(Some(MAX_SERVER_FRAME))
            .read_buffer_size(16 * 1024);
        match tokio_tungstenite::client_async_with_config(req, stream, Some(config)).await {
            Ok((ws, _)) => Ok(Socket { ws }),
            Err(WsError::Http(resp)) => Err(ConnectError::Fatal(match resp.status().as_u16() {
                401 => PeerError::InvalidKey,
                403 => PeerError::OriginNotAllowed,
                404 => PeerError::BadUrl("no signalling endpoint at this path".into()),
                // The server caps connections per address; a slot frees when one closes.
                429 => return Err(ConnectError::Retry("too many connections from this address (HTTP 429)".into())),
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

/// Asks the server at `target` to prove that it knows `key` (a key-less upgrade with a
/// random challenge; see `peerchat_protocol::local_proof`), bound to the address this
/// connection reached. `Ok(false)`: it answered, but with no valid proof.
pub async fn proves_key(
    dialer: &Dialer,
    target: &Target,
    url: &str,
    key: &PublishableKey,
) -> Result<bool, ConnectError> {
    use peerchat_protocol::local_proof;
    let mut challenge = [0u8; local_proof::CHALLENGE_BYTES];
    rand::Rng::fill(&mut rand::rng(), &mut challenge[..]);
    let mut req = url
        .into_client_request()
        .map_err(|_| ConnectError::Fatal(PeerError::BadUrl("not a ws:// or wss:// URL".into())))?;
    let value = local_proof::hex(&challenge).parse().map_err(|_| ConnectError::Retry("challenge".into()))?;
    req.headers_mut().insert(local_proof::CHALLENGE_HEADER, value);
    let stream = dialer.dial(target).await.map_err(|e| match e {
        DialError::Fatal(e) => ConnectError::Fatal(e),
        DialError::Io(e) => ConnectError::Retry(e.to_string()),
    })?;
    let reached = match &stream {
        tokio_util::either::Either::Left(tcp) => tcp.peer_addr(),
        tokio_util::either::Either::Right(tls) => tls.get_ref().0.peer_addr(),
    }
    .map_err(|e| ConnectError::Retry(e.to_string()))?
    .to_string();
    let digest = key.digest();
    match tokio_tungstenite::client_async(req, stream).await {
        Err(WsError::Http(resp)) if resp.status().as_u16() == 401 => {
            let body: serde_json::Value =
                resp.body().as_deref().and_then(|b| serde_json::from_slice(b).ok()).unwrap_or_default();
            let proofs = body["proofs"].as_array().map(Vec::as_slice).unwrap_or_default();
            Ok(proofs.iter().filter_map(|p| p.as_str()).any(|p| local_proof::verify(&digest, &challenge, &reached, p)))
        }
        Err(WsError::Http(_)) | Ok(_) => Ok(false),
        Err(e) => Err(ConnectError::Retry(e.to_string())),
    }
}

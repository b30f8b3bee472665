//! A WebSocket connection that only turns bytes into typed inbound events and typed
//! frames into bytes. It knows nothing of sessions or channels.

use futures_util::{SinkExt, StreamExt};
use peerchat_protocol::{ClientFrame, FrameError, ServerFrame};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::tls::ServerStream;

/// The WebSocket settings every server socket uses: the protocol's 64 KiB frame limit
/// (tungstenite's defaults are 64 MiB) and small buffers, so an idle socket costs little.
pub fn ws_config(max_frame_bytes: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(16 * 1024)
        .max_write_buffer_size(4 * max_frame_bytes + 64 * 1024)
        .max_message_size(Some(max_frame_bytes))
        .max_frame_size(Some(max_frame_bytes))
}

/// One thing read from the socket.
#[derive(Debug)]
pub enum Inbound {
    /// A well-formed client frame.
    Frame(ClientFrame),
    /// A text frame that failed to parse.
    Invalid(FrameError),
    /// A binary frame (not part of the protocol).
    Binary,
    /// A WebSocket ping or pong: the client is alive.
    Activity,
    /// The client closed the socket, or it ended.
    Closed,
    /// A message larger than the limit (close 1009).
    TooBig,
    /// A text frame that is not UTF-8 (close 1007).
    BadUtf8,
    /// A transport or protocol error; the socket is unusable.
    Broken(String),
}

/// A server-side WebSocket carrying protocol frames.
pub struct Connection {
    ws: WebSocketStream<ServerStream>,
}

impl Connection {
    pub fn new(ws: WebSocketStream<ServerStream>) -> Self {
        Connection { ws }
    }

    /// Reads the next event. Cancel-safe.
    pub async fn read(&mut self) -> Inbound {
        match self.ws.next().await {
            None => Inbound::Closed,
            Some(Ok(Message::Text(text))) => match ClientFrame::parse(&text) {
                Ok(f) => Inbound::Frame(f),
                Err(e) => Inbound::Invalid(e),
            },
            Some(Ok(Message::Binary(_))) => Inbound::Binary,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => Inbound::Activity,
            Some(Ok(Message::Close(_))) => Inbound::Closed,
            Some(Ok(Message::Frame(_))) => Inbound::Activity,
            Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => Inbound::TooBig,
            Some(Err(WsError::Utf8(_))) => Inbound::BadUtf8,
            Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => Inbound::Closed,
            Some(Err(e)) => Inbound::Broken(e.to_string()),
        }
    }

    /// Queues a typed frame without flushing.
    pub async fn feed_frame(&mut self, frame: &ServerFrame) -> Result<(), WsError> {
        self.feed(Utf8Bytes::from(frame.to_json())).await
    }

    /// Queues pre-serialised frame text without flushing.
    pub async fn feed(&mut self, text: Utf8Bytes) -> Result<(), WsError> {
        self.ws.feed(Message::Text(text)).await
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), WsError> {
        self.ws.flush().await
    }

    /// Sends a WebSocket ping.
    pub async fn ping(&mut self) -> Result<(), WsError> {
        self.ws.send(Message::Ping(Default::default())).await
    }

    /// Sends a close frame with `code` and `reason` and flushes it.
    pub async fn close(&mut self, code: u16, reason: &str) {
        let frame = CloseFrame { code: CloseCode::from(code), reason: reason.into() };
        let _ = self.ws.send(Message::Close(Some(frame))).await;
    }

    /// After a close frame, waits briefly for the client's close (or the end of the stream).
    pub async fn finish(&mut self, within: std::time::Duration) {
        let _ = tokio::time::timeout(within, async { while let Some(Ok(_)) = self.ws.next().await {} }).await;
    }
}

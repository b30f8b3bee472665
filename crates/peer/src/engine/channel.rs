//! A raw engine data channel, with engine-neutral events and methods.

use std::sync::Arc;

use bytes::BytesMut;
use webrtc::data_channel::{DataChannel as WebrtcChannel, DataChannelEvent};

use super::{err, EngineError};

/// What a raw channel reports.
#[derive(Debug)]
pub enum ChannelEvent {
    Open,
    Text(String),
    Binary(Vec<u8>),
    BufferedAmountLow,
    Closed,
}

/// An engine data channel. Cheap to clone.
#[derive(Clone)]
pub struct RawChannel {
    dc: Arc<dyn WebrtcChannel>,
}

impl RawChannel {
    pub(crate) fn new(dc: Arc<dyn WebrtcChannel>) -> Self {
        RawChannel { dc }
    }

    /// The channel's label.
    pub async fn label(&self) -> String {
        self.dc.label().await.unwrap_or_default()
    }

    /// Next event; `Closed` once, then `None`.
    pub async fn next_event(&self) -> Option<ChannelEvent> {
        loop {
            let ev = self.dc.poll().await?;
            return Some(match ev {
                DataChannelEvent::OnOpen => ChannelEvent::Open,
                DataChannelEvent::OnMessage(m) if m.is_string => {
                    ChannelEvent::Text(String::from_utf8_lossy(&m.data).into_owned())
                }
                DataChannelEvent::OnMessage(m) => ChannelEvent::Binary(m.data.to_vec()),
                DataChannelEvent::OnBufferedAmountLow => ChannelEvent::BufferedAmountLow,
                DataChannelEvent::OnClose => ChannelEvent::Closed,
                _ => continue,
            });
        }
    }

    pub async fn send_text(&self, text: &str) -> Result<(), EngineError> {
        self.dc.send_text(text).await.map_err(err)
    }

    pub async fn send_binary(&self, data: &[u8]) -> Result<(), EngineError> {
        self.dc.send(BytesMut::from(data)).await.map_err(err)
    }

    /// Bytes handed to the channel and not yet acknowledged by the other side.
    pub async fn buffered_amount(&self) -> usize {
        self.dc.outstanding_bytes().await.unwrap_or(0)
    }

    pub async fn set_low_threshold(&self, bytes: u32) {
        let _ = self.dc.set_buffered_amount_low_threshold(bytes).await;
    }

    pub async fn close(&self) {
        let _ = self.dc.close().await;
    }
}

//! The control channel's I/O: answering pings, the routine ping that measures the RTT,
//! and handing what arrives to recovery (any message proves the path; a pong may answer
//! recovery's probe).

use tokio::time::Instant;

use super::{now_ms, Control, Input, Task};
use crate::remote::control_message::ControlMessage;

impl Task {
    /// Sends a control message if there is a control channel.
    pub(super) async fn send_control(&self, msg: ControlMessage) {
        if let Some(c) = &self.control {
            let _ = c.send_text(&msg.to_json()).await;
        }
    }

    pub(super) async fn on_control(&mut self, ev: Control) {
        match ev {
            Control::Open => {
                let offer_pending = self.offer_pending().await;
                self.feed(Input::ControlOpen { offer_pending }).await;
            }
            Control::Text(t) => {
                let offer_pending = self.offer_pending().await;
                self.feed(Input::ControlMessage { offer_pending }).await;
                match ControlMessage::parse(&t) {
                    Some(ControlMessage::Ping { t }) => self.send_control(ControlMessage::Pong { t }).await,
                    Some(ControlMessage::Pong { t }) if self.last_ping.is_some_and(|(p, _)| p == t) => {
                        self.on_routine_pong().await;
                    }
                    Some(ControlMessage::Pong { t }) => self.feed(Input::Pong { t, offer_pending }).await,
                    _ => {}
                }
            }
            Control::Closed => {
                tracing::info!(peer = %self.id, gen = self.gen, "connection closed by the other side");
                self.feed(Input::ControlClosed).await;
            }
        }
    }

    /// A ping whose pong measures the RTT (and proves the path alive).
    pub(super) async fn send_routine_ping(&mut self) {
        if self.control.is_some() {
            let t = now_ms();
            self.last_ping = Some((t, Instant::now()));
            self.send_control(ControlMessage::Ping { t }).await;
        }
    }
}

//! The control channel: answering pings, the routine ping and silence check, and the
//! probe (a ping whose pong proves a repaired path carries data both ways).

use crate::remote::control_message::ControlMessage;
use tokio::time::Instant;

use super::{now_ms, Control, Recovery, Task, AWAIT_REMOTE_REBUILD, PROBE_COPIES, PROBE_RESEND, PROBE_WAIT};
use crate::remote::PeerState;

impl Task {
    /// Sends a control ping and waits for its pong before calling the path repaired.
    pub(super) async fn probe_path(&mut self) {
        if self.control.is_none() {
            return;
        }
        self.start_probe().await;
        self.recovery = Some((Recovery::Probe, Instant::now() + PROBE_WAIT));
    }

    /// Sends a probe ping, and schedules it again a few times: a control message lost
    /// while ICE switches paths costs SCTP a 1 s retransmission timeout, while the later
    /// copies make it retransmit the lost one at once (and any pong answers the probe).
    pub(super) async fn start_probe(&mut self) {
        let t = now_ms();
        self.probe = Some(t);
        self.probe_resend = Some((Instant::now() + PROBE_RESEND, PROBE_COPIES));
        self.send_probe().await;
    }

    async fn send_probe(&mut self) {
        let (Some(c), Some(t)) = (&self.control, self.probe) else {
            self.probe_resend = None;
            return;
        };
        let _ = c.send_text(&ControlMessage::Ping { t }.to_json()).await;
    }

    pub(super) async fn on_probe_resend(&mut self) {
        match self.probe_resend {
            Some((_, left)) if left > 0 && self.probe.is_some() => {
                self.probe_resend = Some((Instant::now() + PROBE_RESEND, left - 1));
                self.send_probe().await;
            }
            _ => self.probe_resend = None,
        }
    }

    pub(super) async fn on_control(&mut self, ev: Control) {
        match ev {
            Control::Open => {
                self.control_open = true;
                self.mark_connected().await;
            }
            Control::Text(t) => {
                self.last_control = Instant::now();
                if self.state == PeerState::Reconnecting {
                    self.mark_connected().await;
                }
                match ControlMessage::parse(&t) {
                    Some(ControlMessage::Ping { t }) => {
                        if let Some(c) = &self.control {
                            let _ = c.send_text(&ControlMessage::Pong { t }.to_json()).await;
                        }
                    }
                    Some(ControlMessage::Pong { t }) if self.last_ping.is_some_and(|(p, _)| p == t) => {
                        self.on_routine_pong().await;
                    }
                    Some(ControlMessage::Pong { t }) if self.probe == Some(t) => {
                        let pending_offer = match &self.conn {
                            Some(conn) => self.making_offer || conn.has_local_offer().await,
                            None => true,
                        };
                        if !pending_offer {
                            self.connected();
                        }
                    }
                    _ => {}
                }
            }
            Control::Closed => {
                self.control_open = false;
                tracing::info!(peer = %self.id, gen = self.gen, "connection closed by the other side");
                if self.state == PeerState::Connected {
                    self.set_state(PeerState::Reconnecting);
                }
                self.recovery = Some((Recovery::AwaitRemote, Instant::now() + AWAIT_REMOTE_REBUILD));
            }
        }
    }

    /// A ping whose pong measures the RTT (and proves the path alive).
    pub(super) async fn send_routine_ping(&mut self) {
        if let Some(c) = &self.control {
            let t = now_ms();
            self.last_ping = Some((t, Instant::now()));
            let _ = c.send_text(&ControlMessage::Ping { t }.to_json()).await;
        }
    }

    pub(super) async fn on_tick(&mut self) {
        if !self.control_open {
            return;
        }
        self.send_routine_ping().await;
        self.refresh_path().await;
        let silent = self.last_control.elapsed() >= self.cfg.settings.control_dead_after;
        if silent && self.recovery.is_none() {
            tracing::info!(peer = %self.id, "control channel silent; restarting ICE");
            self.restart_ice().await;
        }
    }
}

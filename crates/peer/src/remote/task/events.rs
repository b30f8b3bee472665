//! What reaches a remote peer's task from outside its recovery: the app's commands
//! (channels to open, restarts, rebuilds, stuck channels) and the engine's events
//! (candidates, link state, channels the other side opens).

use tokio::sync::mpsc;

use super::{
    ChannelInit, DataChannel, DataChannelOptions, EngineEvent, Input, LinkState, OpenChannelError, PeerState,
    RemoteCmd, SignalBody, Task, CHANNEL_OPEN_DEADLINE,
};

impl Task {
    pub(super) async fn on_cmd(&mut self, cmd: RemoteCmd) {
        match cmd {
            RemoteCmd::Signal(p) => self.on_signal(p).await,
            RemoteCmd::OpenChannel { label, init, opts, reply } => {
                let result = match &self.conn {
                    None => Err(OpenChannelError::NotConnected),
                    Some(conn) => match conn.create_channel(&label, ChannelInit { negotiated: None, ..init }).await {
                        Ok(raw) => Ok(DataChannel::wrap(raw, opts, conn.max_message_size().await, false).await),
                        Err(e) => Err(OpenChannelError::Engine(e.0)),
                    },
                };
                match &result {
                    Ok((dc, _)) => {
                        tracing::debug!(peer = %self.id, gen = self.gen, label = dc.label(), "channel opening");
                        self.watch_open(dc.clone());
                    }
                    Err(e) => tracing::debug!(peer = %self.id, gen = self.gen, error = %e, "channel not opened"),
                }
                let _ = reply.send(result);
            }
            RemoteCmd::RestartIce => self.feed(Input::RestartIce).await,
            RemoteCmd::Rebuild => self.feed(Input::Rebuild).await,
            RemoteCmd::ChannelStuck { gen } => {
                let state = self.rec.state();
                tracing::debug!(peer = %self.id, gen, now = self.gen, state = state.as_str(), "channel stuck");
                if gen == self.gen {
                    if state == PeerState::Connected {
                        tracing::warn!(peer = %self.id, gen, "a new channel did not open; rebuilding the connection");
                    }
                    self.feed(Input::ChannelStuck).await;
                }
            }
            RemoteCmd::Close => {}
        }
    }

    pub(super) async fn on_engine(&mut self, ev: EngineEvent) {
        match ev {
            EngineEvent::Candidate(c) => self.send_signal(SignalBody::Candidate(Some(c))),
            EngineEvent::GatheringComplete => {}
            EngineEvent::Link(LinkState::Connected) => {
                let offer_pending = self.offer_pending().await;
                self.feed(Input::LinkUp { offer_pending }).await;
            }
            EngineEvent::Link(LinkState::Disconnected | LinkState::Failed) => self.feed(Input::LinkDown).await,
            EngineEvent::Link(_) => {}
            EngineEvent::RemoteChannel(raw) => {
                let max = match &self.conn {
                    Some(c) => c.max_message_size().await,
                    None => 65_536,
                };
                let incoming = DataChannel::wrap(raw, DataChannelOptions::default(), max, true).await;
                if let Err(e) = self.incoming_tx.try_send(incoming) {
                    tracing::warn!(peer = %self.id, "incoming channel not taken by the app; closing it");
                    let (dc, _) = match e {
                        mpsc::error::TrySendError::Full(c) | mpsc::error::TrySendError::Closed(c) => c,
                    };
                    tokio::spawn(async move { dc.close().await });
                }
            }
        }
    }

    /// Rebuilds the connection if `dc` does not open in time on this generation.
    fn watch_open(&self, dc: DataChannel) {
        let (gen, tx) = (self.gen, self.self_cmd.clone());
        tokio::spawn(async move {
            let stuck = match tokio::time::timeout(CHANNEL_OPEN_DEADLINE, dc.opened()).await {
                Ok(Ok(())) => false,
                // Closed before opening: by the engine (a failed open), or by the app.
                Ok(Err(_)) => dc.open_failed(),
                Err(_) => !dc.closed_here(),
            };
            if stuck {
                tracing::debug!(gen, label = dc.label(), "channel did not open");
                if let Some(tx) = tx.upgrade() {
                    let _ = tx.send(RemoteCmd::ChannelStuck { gen }).await;
                }
            }
        });
    }
}

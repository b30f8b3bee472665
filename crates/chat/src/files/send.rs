//! One outgoing transfer's task: it owns the [`Outgoing`] machine, the file and the
//! channel of the moment. It opens a channel whenever the peer is `connected` and the
//! machine wants one, reads and sends what the machine asks for (a send is never cut
//! short: the stream of bytes must match what the machine counted), hands it the
//! receiver's messages, and reports progress and the end.

use std::sync::Arc;

use peerchat_files::outgoing::Action;
use peerchat_files::{FileMessage, Outcome, Outgoing, TransferError, LABEL};
use peerchat_peer::{ChannelInit, DataChannelOptions, Message, PeerState, RemotePeer};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::progress::Progress;
use super::read_ahead::ReadAhead;
use super::{connected, failed, recv, sleep_until, Channel, Cmd, Direction};
use crate::event::ChatEvent;
use crate::shared::Inner;

/// How long a new channel may take to open.
const OPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long after a channel failed to open the next try waits.
const RETRY_OPEN: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) struct Transfer {
    pub(crate) inner: Arc<Inner>,
    pub(crate) remote: RemotePeer,
    pub(crate) machine: Outgoing,
    /// Read a block ahead of what goes out.
    pub(crate) file: ReadAhead,
    pub(crate) cmds: mpsc::Receiver<Cmd>,
}

impl Transfer {
    pub(crate) async fn run(mut self) {
        let id = self.machine.id().to_string();
        let peer_id = self.remote.id().to_string();
        let mut changes = self.remote.state_changes();
        let mut chan: Option<Channel> = None;
        let mut progress = Progress::default();
        let mut outcome = None;
        // After a channel failed to open, the next try waits until then.
        let mut retry: Option<Instant> = None;
        while outcome.is_none() {
            let may_try = retry.is_none_or(|at| Instant::now() >= at);
            if self.machine.wants_channel() && chan.is_none() && connected(&self.remote) && may_try {
                if let Some(c) = open(&self.remote).await {
                    retry = None;
                    let max = c.dc.max_message_size();
                    chan = Some(c);
                    let actions = self.machine.channel_open(max, Instant::now());
                    outcome = self.apply(actions, &mut chan).await;
                    continue;
                }
                retry = Some(Instant::now() + RETRY_OPEN);
            }
            // What the machine wants sent goes first; events waiting meanwhile are
            // taken without blocking after each chunk.
            let read = chan.as_ref().and(self.machine.next_read());
            if let Some((offset, len)) = read {
                let actions = match self.file.chunk(offset, len).await {
                    Err(e) => self.machine.read_failed(e.to_string()),
                    Ok(data) => {
                        // Hashed before it goes: a chunk that does not go out is sent
                        // again after the resume, from a confirm point before it.
                        let actions = self.machine.sent(offset, &data, Instant::now());
                        let dc = chan.as_ref().map(|c| c.dc.clone());
                        match dc {
                            Some(dc) if dc.send(Message::Binary(data)).await.is_ok() => actions,
                            _ => {
                                chan = None;
                                self.machine.channel_lost(Instant::now());
                                Vec::new()
                            }
                        }
                    }
                };
                outcome = self.apply(actions, &mut chan).await;
                if outcome.is_none() {
                    outcome = self.poll_events(&mut chan, &mut changes, false, None).await;
                }
            } else {
                outcome = self.poll_events(&mut chan, &mut changes, true, retry).await;
            }
            let p = self.machine.progress();
            if let Some(r) = progress.at(Instant::now(), p.bytes, p.size) {
                let ev = super::progress_event(&id, &peer_id, Direction::Send, r);
                self.inner.emit(ev).await;
            }
        }
        self.inner.lock().transfers.remove(&id);
        let told = outcome.as_ref().is_some_and(|(_, said)| *said);
        if let Some(mut c) = chan {
            super::close(&c.dc, &mut c.messages, told).await;
        }
        let ev = match outcome.map(|(o, _)| o) {
            Some(Outcome::Verified { sha256 }) => {
                ChatEvent::FileDone { id, peer_id, direction: Direction::Send, name: None, path: None, sha256 }
            }
            Some(Outcome::Failed(why)) => failed(&id, &peer_id, Direction::Send, &why, None),
            None => return,
        };
        self.inner.emit(ev).await;
    }

    /// Handles one event (waiting for it when `block`); the outcome if it ended.
    async fn poll_events(
        &mut self,
        chan: &mut Option<Channel>,
        changes: &mut peerchat_peer::StateChanges,
        block: bool,
        wake: Option<Instant>,
    ) -> Option<(Outcome, bool)> {
        let deadline = self.machine.next_deadline();
        let actions = tokio::select! {
            biased;
            _ = self.inner.cancel.cancelled() => self.machine.cancel(),
            cmd = self.cmds.recv() => match cmd {
                Some(Cmd::Cancel) | None => self.machine.cancel(),
                Some(_) => Vec::new(),
            },
            msg = recv(chan) => match msg {
                Some(Message::Text(t)) => match FileMessage::parse(&t) {
                    Some(m) => self.machine.on_message(m, Instant::now()),
                    None => protocol(&mut self.machine, "a message that is not one of the file protocol's"),
                },
                Some(Message::Binary(_)) => protocol(&mut self.machine, "bytes from the receiver"),
                None => {
                    *chan = None;
                    self.machine.channel_lost(Instant::now());
                    Vec::new()
                }
            },
            c = changes.next() => match c {
                None => vec![Action::Finish(Outcome::Failed(TransferError::PeerLeft))],
                Some(c) if c.to == PeerState::Closed => vec![Action::Finish(Outcome::Failed(TransferError::PeerLeft))],
                Some(c) if c.to != PeerState::Connected => {
                    if let Some(c) = chan.take() {
                        c.dc.close().await;
                    }
                    self.machine.channel_lost(Instant::now());
                    Vec::new()
                }
                Some(_) => Vec::new(),
            },
            _ = sleep_until(deadline) => self.machine.tick(Instant::now()),
            _ = sleep_until(wake) => Vec::new(),
            _ = std::future::ready(()), if !block => Vec::new(),
        };
        self.apply(actions, chan).await
    }

    /// Does what the machine decided; the outcome if it ended, and whether this side
    /// said the last word.
    async fn apply(&mut self, actions: Vec<Action>, chan: &mut Option<Channel>) -> Option<(Outcome, bool)> {
        let mut said = false;
        for a in actions {
            match a {
                Action::Send(m) => {
                    said = true;
                    if let Some(c) = chan.as_ref() {
                        if c.dc.send(m.to_json()).await.is_err() {
                            *chan = None;
                            self.machine.channel_lost(Instant::now());
                        }
                    }
                }
                Action::Finish(o) => return Some((o, said)),
            }
        }
        None
    }
}

/// Opens a transfer channel to `r` and waits until it is open.
async fn open(r: &RemotePeer) -> Option<Channel> {
    let (dc, messages) = r.open_channel(LABEL, ChannelInit::reliable(), DataChannelOptions::default()).await.ok()?;
    match tokio::time::timeout(OPEN_WAIT, dc.opened()).await {
        Ok(Ok(())) => Some(Channel { dc, messages }),
        _ => {
            dc.close().await;
            None
        }
    }
}

/// The receiver broke the protocol: the transfer ends, and says so.
fn protocol(machine: &mut Outgoing, what: &str) -> Vec<Action> {
    let mut out = machine.cancel();
    if let Some(Action::Finish(o)) = out.last_mut() {
        *o = Outcome::Failed(TransferError::Protocol(what.to_string()));
    }
    out
}

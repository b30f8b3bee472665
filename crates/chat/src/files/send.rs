//! One outgoing transfer's task: it owns the [`Outgoing`] machine, the file and the
//! channel of the moment. It opens a channel whenever the peer is `connected` and the
//! machine wants one, reads and sends what the machine asks for (a send is never cut
//! short: the stream of bytes must match what the machine counted), hands it the
//! receiver's messages, and reports progress and the end. A transfer that knows who the
//! other side is across restarts ([`Who`]) outlives that peer leaving: it waits, within
//! the machine's bounds, for a peer with the same certificate and name to connect.

use std::sync::Arc;

use peerchat_files::outgoing::Action;
use peerchat_files::{FileMessage, Outcome, Outgoing, TransferError, LABEL};
use peerchat_peer::{ChannelInit, DataChannelOptions, Message, PeerState, RemotePeer, StateChanges};
use tokio::sync::{broadcast, mpsc};
use tokio::time::Instant;

use super::progress::Progress;
use super::read_ahead::ReadAhead;
use super::store::{Record, Store};
use super::{failed, recv, sleep_until, Channel, Cmd, Direction, Who, IO_BUFFER};
use crate::event::ChatEvent;
use crate::shared::Inner;

/// How long a new channel may take to open.
const OPEN_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long after a channel failed to open the next try waits.
const RETRY_OPEN: std::time::Duration = std::time::Duration::from_secs(1);

pub(crate) struct Transfer {
    inner: Arc<Inner>,
    /// The receiver of the moment (none while waiting for it to come back), and its
    /// state changes.
    remote: Option<(RemotePeer, StateChanges)>,
    /// Who the receiver is across restarts, when known.
    who: Option<Who>,
    arrivals: broadcast::Receiver<RemotePeer>,
    machine: Outgoing,
    /// Read a block ahead of what goes out.
    file: ReadAhead,
    cmds: mpsc::Receiver<Cmd>,
    /// The session ended and the transfer is kept for the next one.
    suspended: bool,
    /// What is kept for a restart once the receiver accepted, and whether it is.
    record: Option<Record>,
    kept: bool,
}

impl Transfer {
    pub(crate) fn new(
        inner: Arc<Inner>,
        remote: Option<RemotePeer>,
        who: Option<Who>,
        machine: Outgoing,
        file: ReadAhead,
        cmds: mpsc::Receiver<Cmd>,
    ) -> Transfer {
        let arrivals = inner.arrivals.subscribe();
        let remote = remote.map(|r| {
            let changes = r.state_changes();
            (r, changes)
        });
        Transfer { inner, remote, who, arrivals, machine, file, cmds, suspended: false, record: None, kept: false }
    }

    /// Keeps `record` for a restart (once the receiver accepted; `kept`: it already is).
    pub(crate) fn keeping(mut self, record: Record, kept: bool) -> Transfer {
        self.record = Some(record);
        self.kept = kept;
        self
    }

    fn store(&self) -> Store {
        Store::new(self.inner.files.state_dir.clone())
    }

    fn connected(&self) -> bool {
        self.remote.as_ref().is_some_and(|(r, _)| r.state() == PeerState::Connected)
    }

    fn peer_id(&self) -> String {
        self.remote.as_ref().map(|(r, _)| r.id().to_string()).unwrap_or_default()
    }

    /// The session is ending: a transfer kept across restarts is suspended (it goes on in
    /// the next session), any other is cancelled.
    fn session_ended(&mut self) -> Vec<Action> {
        if self.kept && self.record.is_some() && self.inner.files.state_dir.is_some() {
            self.suspended = true;
            return Vec::new();
        }
        self.machine.cancel()
    }

    pub(crate) async fn run(mut self) {
        let id = self.machine.id().to_string();
        let mut chan: Option<Channel> = None;
        let mut progress = Progress::default();
        let mut outcome = None;
        // After a channel failed to open, the next try waits until then.
        let mut retry: Option<Instant> = None;
        while outcome.is_none() && !self.suspended {
            // A retry time that passed is spent: waiting on it again would never block.
            if retry.is_some_and(|at| Instant::now() >= at) {
                retry = None;
            }
            let may_try = retry.is_none();
            let wants = self.machine.wants_channel() && chan.is_none() && may_try && self.connected();
            let remote = self.remote.as_ref().filter(|_| wants).map(|(r, _)| r.clone());
            if let Some(r) = remote {
                if let Some(c) = open(&r).await {
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
                    outcome = self.poll_events(&mut chan, false, None).await;
                }
            } else {
                outcome = self.poll_events(&mut chan, true, retry).await;
            }
            if !self.kept && self.machine.is_accepted() {
                if let Some(r) = self.record.clone() {
                    self.store().save(r).await;
                }
                self.kept = true;
            }
            let p = self.machine.progress();
            if let Some(r) = progress.at(Instant::now(), p.bytes, p.size) {
                let ev = super::progress_event(&id, &self.peer_id(), Direction::Send, r);
                self.inner.emit(ev).await;
            }
        }
        if self.suspended {
            // Kept for the next session: the channel closes, the record stays.
            self.inner.lock().transfers.remove(&id);
            if let Some(c) = chan {
                c.dc.close().await;
            }
            return;
        }
        self.inner.lock().transfers.remove(&id);
        self.store().remove(&id, Direction::Send).await;
        let peer_id = self.peer_id();
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
        block: bool,
        wake: Option<Instant>,
    ) -> Option<(Outcome, bool)> {
        let deadline = self.machine.next_deadline();
        let actions = tokio::select! {
            biased;
            _ = self.inner.cancel.cancelled() => self.session_ended(),
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
            c = changes(&mut self.remote) => match c {
                Some(c) if c.to == PeerState::Connected => Vec::new(),
                // Gone: the end, unless it can come back as itself (a restart).
                None | Some(peerchat_peer::StateChange { to: PeerState::Closed, .. }) if self.who.is_none() => {
                    vec![Action::Finish(Outcome::Failed(TransferError::PeerLeft))]
                }
                c => {
                    if c.is_none_or(|c| c.to == PeerState::Closed) {
                        self.remote = None;
                    }
                    if let Some(c) = chan.take() {
                        c.dc.close().await;
                    }
                    self.machine.channel_lost(Instant::now());
                    // It may be back already, under another id.
                    for r in self.inner.peer.remotes().await {
                        if r.state() == PeerState::Connected {
                            self.arrived(r, chan).await;
                        }
                    }
                    Vec::new()
                }
            },
            r = self.arrivals.recv() => {
                if let Ok(r) = r {
                    self.arrived(r, chan).await;
                }
                Vec::new()
            }
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
                Action::Rehash(offset) => {
                    let more = match self.rehash(offset).await {
                        Ok(()) => self.machine.rehashed(Instant::now()),
                        Err(e) => self.machine.read_failed(e.to_string()),
                    };
                    return Box::pin(self.apply(more, chan)).await;
                }
                Action::Finish(o) => return Some((o, said)),
            }
        }
        None
    }

    /// A peer connected: the receiver coming back as itself (the same certificate and
    /// name under a new peer id: it restarted) replaces the one before, which may not
    /// even know yet that it is gone.
    async fn arrived(&mut self, r: RemotePeer, chan: &mut Option<Channel>) {
        let same = self.remote.as_ref().is_some_and(|(old, _)| old.id() == r.id());
        if same || self.who.is_none() || Who::of(&r) != self.who {
            return;
        }
        tracing::info!(peer = %r.id(), "a file transfer's receiver is back");
        if let Some(c) = chan.take() {
            c.dc.close().await;
        }
        self.machine.channel_lost(Instant::now());
        let changes = r.state_changes();
        let id = r.id().to_string();
        self.remote = Some((r, changes));
        if let Some(h) = self.inner.lock().transfers.get_mut(self.machine.id()) {
            h.peer_id = id;
        }
    }

    /// Gives the machine the file's first `len` bytes again (a transfer restored after a
    /// restart resumes there).
    async fn rehash(&mut self, len: u64) -> std::io::Result<()> {
        let mut at = 0;
        while at < len {
            let n = (len - at).min(IO_BUFFER as u64) as usize;
            let block = self.file.block(at, n).await?;
            self.machine.rehash(&block);
            at += n as u64;
        }
        Ok(())
    }
}

/// The next state change of the receiver of the moment; never, while there is none.
async fn changes(remote: &mut Option<(RemotePeer, StateChanges)>) -> Option<peerchat_peer::StateChange> {
    match remote {
        Some((_, changes)) => changes.next().await,
        None => std::future::pending().await,
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

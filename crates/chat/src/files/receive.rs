//! Incoming transfers: a channel labelled `file` that a peer opens is read for its offer;
//! a new offer becomes a transfer task that waits for the person's answer, a re-offer
//! goes to the transfer it continues. The task owns the [`Incoming`] machine, the
//! partial file and the channel of the moment; it writes what arrives, flushes before
//! each confirm, and gives the file its name only once verified.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use peerchat_files::incoming::Action;
use peerchat_files::{FileMessage, Incoming, Outcome, TransferError};
use peerchat_peer::{DataChannel, Message, Messages};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::progress::Progress;
use super::store::Store;
use super::write_behind::WriteBehind;
use super::{disk, failed, recv, register, sleep_until, Channel, Cmd, Direction, Who, CMD_QUEUE};
use crate::event::ChatEvent;
use crate::shared::Inner;

/// How long a new transfer channel may take to carry its offer.
const OFFER_FIRST: Duration = Duration::from_secs(10);

/// A peer opened a transfer channel: read its offer and start or continue a transfer.
pub(crate) fn incoming_channel(inner: &Arc<Inner>, peer_id: &str, dc: DataChannel, mut messages: Messages) {
    let (i, peer_id) = (inner.clone(), peer_id.to_string());
    inner.tasks.spawn(async move {
        let first = tokio::select! {
            m = tokio::time::timeout(OFFER_FIRST, messages.recv()) => m,
            _ = i.cancel.cancelled() => return,
        };
        let offer = match first {
            Ok(Some(Message::Text(t))) => FileMessage::parse(&t),
            _ => None,
        };
        let Some(offer @ FileMessage::Offer { .. }) = offer else {
            tracing::warn!(peer = %peer_id, "a file channel without an offer closed");
            dc.close().await;
            return;
        };
        let id = offer.id().unwrap_or_default().to_string();
        let remote = i.peer.remotes().await.into_iter().find(|r| r.id() == peer_id);
        let who = remote.as_ref().and_then(Who::of);
        // The same transfer goes on: from the same peer, or from one with the same
        // certificate (the sender restarted, with a new peer id).
        let existing = {
            let g = i.lock();
            g.transfers
                .get(&id)
                .filter(|h| h.direction == Direction::Receive)
                .filter(|h| {
                    h.peer_id == peer_id
                        || h.fingerprint.is_some() && h.fingerprint.as_ref() == who.as_ref().map(|w| &w.fingerprint)
                })
                .map(|h| h.cmd.clone())
        };
        if let Some(tx) = existing {
            let _ = tx.send(Cmd::Channel(dc, messages, offer, peer_id)).await;
            return;
        }
        let machine = match Incoming::from_offer(&offer, i.files.max_size, Instant::now()) {
            Ok(m) => m,
            Err(why) => return refuse(&i, &dc, &mut messages, &id, &peer_id, why).await,
        };
        let (tx, rx) = mpsc::channel(CMD_QUEUE);
        let fingerprint = who.as_ref().map(|w| w.fingerprint.clone());
        if let Err(e) = register(&i, &id, &peer_id, Direction::Receive, tx.clone(), fingerprint) {
            return refuse(&i, &dc, &mut messages, &id, &peer_id, TransferError::Io(e.to_string())).await;
        }
        let name = machine.name().to_string();
        let size = machine.size();
        let task = Transfer::new(i.clone(), peer_id.clone(), who, machine, rx, None);
        i.tasks.spawn(task.run(Some((dc, messages))));
        i.emit(ChatEvent::FileOffer { id: id.clone(), peer_id, name, size }).await;
        if i.files.auto_accept {
            if let Some(dir) = i.files.download_dir.clone() {
                let _ = tx.send(Cmd::Accept(dir)).await;
            }
        }
    });
}

/// Declines an offer the session cannot take, and says so.
async fn refuse(inner: &Inner, dc: &DataChannel, messages: &mut Messages, id: &str, peer_id: &str, why: TransferError) {
    inner.emit(failed(id, peer_id, Direction::Receive, &why, None)).await;
    let decline = FileMessage::Decline { id: id.to_string(), reason: Some(why.to_string()) };
    let _ = dc.send(decline.to_json()).await;
    super::close(dc, messages, true).await;
}

/// The partial file being written: where it will go, where it is, its writer.
pub(crate) struct Part {
    pub(crate) fin: PathBuf,
    pub(crate) part: PathBuf,
    /// None once closed (before `done` goes out).
    pub(crate) writer: Option<WriteBehind>,
}

pub(crate) struct Transfer {
    inner: Arc<Inner>,
    /// The sender's peer id of the moment (empty while a restored transfer waits).
    peer_id: String,
    /// Who the sender is across restarts, when known.
    who: Option<Who>,
    machine: Incoming,
    cmds: mpsc::Receiver<Cmd>,
    file: Option<Part>,
    /// Counts the channels: a sync asked for on one channel is confirmed only on it.
    generation: u64,
    /// The session ended and the transfer is kept for the next one.
    suspended: bool,
}

impl Transfer {
    pub(crate) fn new(
        inner: Arc<Inner>,
        peer_id: String,
        who: Option<Who>,
        machine: Incoming,
        cmds: mpsc::Receiver<Cmd>,
        file: Option<Part>,
    ) -> Transfer {
        Transfer { inner, peer_id, who, machine, cmds, file, generation: 0, suspended: false }
    }

    /// The session is ending: a transfer kept across restarts is suspended (it goes on in
    /// the next session), any other is cancelled.
    fn session_ended(&mut self) -> Vec<Action> {
        if self.who.is_some() && self.inner.files.state_dir.is_some() && self.file.is_some() {
            self.suspended = true;
            return Vec::new();
        }
        self.machine.cancel()
    }

    pub(crate) async fn run(mut self, first: Option<(DataChannel, Messages)>) {
        let id = self.machine.id().to_string();
        let mut chan = first.map(|(dc, messages)| Channel { dc, messages });
        let mut progress = Progress::default();
        let mut outcome = None;
        while outcome.is_none() && !self.suspended {
            let deadline = self.machine.next_deadline();
            let mut chunk = None;
            let actions = tokio::select! {
                _ = self.inner.cancel.cancelled() => self.session_ended(),
                cmd = self.cmds.recv() => match cmd {
                    Some(Cmd::Accept(dir)) => self.accept(dir).await,
                    Some(Cmd::Decline) => self.machine.decline(None),
                    Some(Cmd::Cancel) | None => self.machine.cancel(),
                    Some(Cmd::Channel(dc, messages, offer, from)) => {
                        self.generation += 1;
                        if from != self.peer_id {
                            self.peer_id.clone_from(&from);
                            if let Some(h) = self.inner.lock().transfers.get_mut(self.machine.id()) {
                                h.peer_id = from;
                            }
                        }
                        if let Some(old) = chan.replace(Channel { dc, messages }) {
                            old.dc.close().await;
                        }
                        self.machine.on_message(offer, Instant::now())
                    }
                },
                msg = recv(&mut chan) => match msg {
                    Some(Message::Text(t)) => match FileMessage::parse(&t) {
                        Some(m) => self.machine.on_message(m, Instant::now()),
                        None => self.machine.write_failed("the sender broke the protocol".into()),
                    },
                    Some(Message::Binary(b)) => {
                        let actions = self.machine.chunk(&b, Instant::now());
                        chunk = Some(b);
                        actions
                    }
                    None => {
                        chan = None;
                        self.generation += 1;
                        self.machine.channel_lost(Instant::now());
                        Vec::new()
                    }
                },
                synced = synced(&mut self.file) => match synced.result {
                    // Durable: a break resumes there; confirmed on the channel that
                    // carried it, if still open.
                    Ok(offset) => {
                        self.machine.synced(offset);
                        if let Some(c) = chan.as_ref().filter(|_| synced.tag == self.generation) {
                            let id = self.machine.id().to_string();
                            let _ = c.dc.send(FileMessage::Confirm { id, offset }.to_json()).await;
                        }
                        Vec::new()
                    }
                    Err(e) => self.machine.write_failed(e.to_string()),
                },
                _ = sleep_until(deadline) => self.machine.tick(Instant::now()),
            };
            outcome = self.apply(actions, chunk, &mut chan).await;
            let p = self.machine.progress();
            if self.file.is_some() {
                if let Some(r) = progress.at(Instant::now(), p.bytes, p.size) {
                    let ev = super::progress_event(&id, &self.peer_id, Direction::Receive, r);
                    self.inner.emit(ev).await;
                }
            }
        }
        if self.suspended {
            // Kept for the next session: the channel closes, the file stays as it is.
            self.inner.lock().transfers.remove(&id);
            if let Some(c) = chan {
                c.dc.close().await;
            }
            if let Some(w) = self.file.take().and_then(|p| p.writer) {
                let _ = w.close().await;
            }
            return;
        }
        self.inner.lock().transfers.remove(&id);
        let told = outcome.as_ref().is_some_and(|(_, said)| *said);
        if let Some(mut c) = chan {
            super::close(&c.dc, &mut c.messages, told).await;
        }
        if let Some(ev) = self.end(&id, outcome.map(|(o, _)| o)).await {
            self.inner.emit(ev).await;
        }
        // Forgotten only once the file has its name (or the transfer failed).
        Store::new(self.inner.files.state_dir.clone()).remove(&id, Direction::Receive).await;
    }

    /// Closes the partial file (everything written reaches the disk first) and, when
    /// verified, gives it its name; the event that tells the person.
    async fn end(&mut self, id: &str, outcome: Option<Outcome>) -> Option<ChatEvent> {
        let part = self.file.take();
        let (names, closed) = match part {
            Some(Part { fin, part, writer: Some(w) }) => (Some((fin, part)), w.close().await),
            Some(Part { fin, part, writer: None }) => (Some((fin, part)), Ok(())),
            None => (None, Ok(())),
        };
        let peer_id = &self.peer_id;
        let kept = names.as_ref().map(|(_, part)| part.as_path());
        Some(match (outcome?, closed, &names) {
            (Outcome::Verified { .. }, Err(e), _) => {
                let why = TransferError::Io(format!("cannot write the file: {e}"));
                failed(id, peer_id, Direction::Receive, &why, kept)
            }
            (Outcome::Verified { sha256 }, Ok(()), Some((fin, part))) => {
                match disk::finish(part, fin, self.machine.name()).await {
                    Ok(path) => ChatEvent::FileDone {
                        id: id.to_string(),
                        peer_id: peer_id.clone(),
                        direction: Direction::Receive,
                        name: path.file_name().map(|n| n.to_string_lossy().into_owned()),
                        path: Some(path.display().to_string()),
                        sha256,
                    },
                    Err(e) => {
                        let why = TransferError::Io(format!("cannot name the file: {e}"));
                        failed(id, peer_id, Direction::Receive, &why, kept)
                    }
                }
            }
            (Outcome::Verified { .. }, Ok(()), None) => {
                failed(id, peer_id, Direction::Receive, &TransferError::Io("no file".into()), None)
            }
            (Outcome::Failed(why), _, _) => failed(id, peer_id, Direction::Receive, &why, kept),
        })
    }

    /// The person accepted into `dir`: make the partial file, then tell the machine.
    async fn accept(&mut self, dir: PathBuf) -> Vec<Action> {
        if self.file.is_some() {
            return Vec::new();
        }
        match disk::create_part(&dir, self.machine.name(), self.machine.size()).await {
            Ok((fin, part, file)) => {
                if let Some(w) = &self.who {
                    Store::new(self.inner.files.state_dir.clone())
                        .save(super::store::Record {
                            id: self.machine.id().to_string(),
                            direction: Direction::Receive,
                            room: self.inner.room.clone(),
                            me: self.inner.name.clone(),
                            fingerprint: w.fingerprint.clone(),
                            peer_name: w.name.clone(),
                            name: self.machine.name().to_string(),
                            size: self.machine.size(),
                            path: part.clone(),
                            final_path: Some(fin.clone()),
                            modified: None,
                            saved_ms: super::store::now_ms(),
                        })
                        .await;
                }
                let writer = Some(WriteBehind::new(file.into_std().await));
                self.file = Some(Part { fin, part, writer });
                self.machine.accept(Instant::now())
            }
            Err(why) => {
                let mut out = self.machine.decline(Some(why.to_string()));
                if let Some(Action::Finish(o)) = out.last_mut() {
                    *o = Outcome::Failed(why);
                }
                out
            }
        }
    }

    /// Writes what is queued, syncs and closes the partial file.
    async fn close_writer(&mut self) -> std::io::Result<()> {
        match self.file.as_mut().and_then(|p| p.writer.take()) {
            Some(w) => w.close().await,
            None => Ok(()),
        }
    }

    /// Does what the machine decided; the outcome if it ended, and whether this side
    /// said the last word. `chunk` is the bytes the machine was just given.
    async fn apply(
        &mut self,
        actions: Vec<Action>,
        mut chunk: Option<Vec<u8>>,
        chan: &mut Option<Channel>,
    ) -> Option<(Outcome, bool)> {
        let mut said = false;
        for a in actions {
            if let Action::Send(FileMessage::Done { ok: true, id, .. }) = &a {
                // The sender hears the file arrived only once all of it is on disk.
                if let Err(e) = self.close_writer().await {
                    let why = TransferError::Io(format!("cannot write the file: {e}"));
                    let done = FileMessage::Done { id: id.clone(), ok: false, reason: Some(why.to_string()) };
                    if let Some(c) = chan.as_ref() {
                        let _ = c.dc.send(done.to_json()).await;
                    }
                    return Some((Outcome::Failed(why), true));
                }
            }
            let writer = self.file.as_mut().and_then(|p| p.writer.as_mut());
            let result = match (a, writer) {
                (Action::Send(m), _) => {
                    said = true;
                    if let Some(c) = chan.as_ref() {
                        if c.dc.send(m.to_json()).await.is_err() {
                            *chan = None;
                            self.generation += 1;
                            self.machine.channel_lost(Instant::now());
                        }
                    }
                    Ok(())
                }
                (Action::Write, Some(w)) => match chunk.take() {
                    Some(data) => w.write(data).await,
                    None => Err(std::io::Error::other("a write with no bytes")),
                },
                // Confirmed once durable (`synced` in the loop).
                (Action::Confirm(offset), Some(w)) => w.sync(offset, self.generation).await,
                (Action::Truncate(offset), Some(w)) => {
                    // Syncs asked for before it are not confirmed any more.
                    self.generation += 1;
                    w.truncate(offset).await
                }
                (Action::Finish(o), _) => return Some((o, said)),
                (_, None) => Err(std::io::Error::other("bytes with no file to write them to")),
            };
            if let Err(e) = result {
                let more = self.machine.write_failed(e.to_string());
                return Box::pin(self.apply(more, None, chan)).await;
            }
        }
        None
    }
}

/// The next sync the writer finished; never, while there is no file or it is closed.
async fn synced(file: &mut Option<Part>) -> super::write_behind::Synced {
    match file.as_mut().and_then(|p| p.writer.as_mut()) {
        Some(w) => w.synced().await,
        None => std::future::pending().await,
    }
}

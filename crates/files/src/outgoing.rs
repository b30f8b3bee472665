//! The sender of one file to one peer, without I/O: it says what to read and send next
//! (never more than [`WINDOW`] bytes ahead of what the receiver confirmed), hashes what
//! was sent, resumes where the receiver says after a break (with the hash state kept at
//! each confirm point), and decides when the transfer ended, how, and when it gives up.

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::snapshots::Snapshots;
use crate::wire::{clean_reason, FileMessage, MAX_SIZE};
use crate::{Outcome, Progress, TransferError, CHUNK, CONFIRM_EVERY, OFFER_WAIT, RESUME_WAIT, STALL, WINDOW};

/// What the sender's I/O must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this message on the transfer's channel.
    Send(FileMessage),
    /// Hash the file's first `offset` bytes again ([`Outgoing::rehash`], then
    /// [`Outgoing::rehashed`]): a transfer restored after a restart resumes there.
    Rehash(u64),
    /// The transfer is over: close its channel and tell the person.
    Finish(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// The offer went out on the current channel; waiting for accept or decline.
    Offered,
    Sending,
    /// Every byte and `end` went out; waiting for the receiver's verdict.
    Ended,
    /// The channel broke; waiting for the peer to be connected again.
    Paused,
    /// Restored after a restart and accepted: the I/O hashes what the receiver has.
    Rehashing,
    Finished,
}

/// One outgoing transfer.
pub struct Outgoing {
    id: String,
    name: String,
    size: u64,
    phase: Phase,
    /// The receiver accepted once (a re-offer then asks it to resume).
    accepted: bool,
    /// Bytes sent (the next offset to read).
    sent: u64,
    confirmed: u64,
    /// Bytes per chunk on the channel of the moment.
    chunk: usize,
    /// Restored after a restart: the hash states before it are gone.
    restored: bool,
    /// Bytes hashed again while rehashing.
    rehashed: u64,
    hasher: Sha256,
    snapshots: Snapshots,
    /// When the current wait began (offer, confirm, break).
    since: Instant,
}

impl Outgoing {
    /// A transfer of `size` bytes named `name` (the file's own name) with id `id`.
    pub fn new(id: &str, name: &str, size: u64, now: Instant) -> Result<Outgoing, TransferError> {
        if !crate::is_valid_id(id) {
            return Err(TransferError::BadOffer("the transfer id is not 1-64 of [A-Za-z0-9_-]".into()));
        }
        if size > MAX_SIZE {
            return Err(TransferError::TooLarge { size, max: MAX_SIZE });
        }
        Ok(Outgoing {
            id: id.to_string(),
            name: name.to_string(),
            size,
            phase: Phase::Paused,
            accepted: false,
            sent: 0,
            confirmed: 0,
            chunk: CHUNK,
            restored: false,
            rehashed: 0,
            hasher: Sha256::new(),
            snapshots: Snapshots::new(),
            since: now,
        })
    }

    /// A transfer the receiver accepted before this side restarted: it waits for a
    /// channel, offers to resume, and hashes the file again up to where the receiver
    /// resumes ([`Action::Rehash`]).
    pub fn restored(id: &str, name: &str, size: u64, now: Instant) -> Result<Outgoing, TransferError> {
        let mut o = Outgoing::new(id, name, size, now)?;
        o.accepted = true;
        o.restored = true;
        Ok(o)
    }

    /// The file's bytes, in order from its start, while rehashing.
    pub fn rehash(&mut self, data: &[u8]) {
        if self.phase == Phase::Rehashing {
            self.hasher.update(data);
            self.rehashed += data.len() as u64;
        }
    }

    /// Rehashing is done: sending goes on from the receiver's offset.
    pub fn rehashed(&mut self, now: Instant) -> Vec<Action> {
        if self.phase != Phase::Rehashing {
            return Vec::new();
        }
        let offset = self.sent;
        if self.rehashed != offset {
            return self.fail(TransferError::Io(format!("the file changed: {} of {offset} bytes read", self.rehashed)));
        }
        self.snapshots.keep(offset, &self.hasher);
        self.snapshots.confirmed(offset);
        self.resume_at(offset, now)
    }

    /// Whether the receiver accepted (a transfer worth keeping across a restart).
    pub fn is_accepted(&self) -> bool {
        self.accepted
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes the receiver confirmed.
    pub fn progress(&self) -> Progress {
        Progress { bytes: self.confirmed, size: self.size }
    }

    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// Whether the transfer waits for a channel (at the start, and after a break).
    pub fn wants_channel(&self) -> bool {
        self.phase == Phase::Paused
    }

    /// A channel to the peer is open, carrying messages of up to `max_message` bytes:
    /// offer (again) on it.
    pub fn channel_open(&mut self, max_message: usize, now: Instant) -> Vec<Action> {
        if self.phase != Phase::Paused {
            return Vec::new();
        }
        self.chunk = max_message.clamp(1, CHUNK);
        self.phase = Phase::Offered;
        self.since = now;
        let offer =
            FileMessage::Offer { id: self.id.clone(), name: self.name.clone(), size: self.size, resume: self.accepted };
        vec![Action::Send(offer)]
    }

    /// The channel broke: wait for the next one.
    pub fn channel_lost(&mut self, now: Instant) {
        if matches!(self.phase, Phase::Offered | Phase::Sending | Phase::Ended | Phase::Rehashing) {
            self.phase = Phase::Paused;
            self.since = now;
        }
    }

    /// The next bytes to read from the file and send: `(offset, len)`.
    pub fn next_read(&self) -> Option<(u64, usize)> {
        if self.phase != Phase::Sending || self.sent >= self.size || self.sent - self.confirmed >= WINDOW {
            return None;
        }
        let len = (self.size - self.sent).min(self.chunk as u64);
        Some((self.sent, len as usize))
    }

    /// `data`, read at `offset`, goes out on the channel (if it does not, the channel is
    /// lost and a resume starts again from a confirm point before it).
    pub fn sent(&mut self, offset: u64, data: &[u8], now: Instant) -> Vec<Action> {
        if self.phase != Phase::Sending || offset != self.sent || data.len() as u64 > self.size - self.sent {
            return self.fail(TransferError::Io(format!("the file changed while it was sent (at byte {offset})")));
        }
        if self.sent == self.confirmed {
            // Nothing was in flight: the wait for a confirm starts now.
            self.since = now;
        }
        self.hasher.update(data);
        self.sent += data.len() as u64;
        if self.sent.is_multiple_of(CONFIRM_EVERY) || self.sent == self.size {
            self.snapshots.keep(self.sent, &self.hasher);
        }
        if self.sent == self.size {
            return self.end();
        }
        Vec::new()
    }

    /// Reading the file failed.
    pub fn read_failed(&mut self, why: String) -> Vec<Action> {
        self.fail(TransferError::Io(format!("cannot read the file: {why}")))
    }

    /// The person cancels.
    pub fn cancel(&mut self) -> Vec<Action> {
        if self.phase == Phase::Finished {
            return Vec::new();
        }
        let mut out = Vec::new();
        if self.phase != Phase::Paused {
            out.push(Action::Send(FileMessage::Cancel { id: self.id.clone(), reason: None }));
        }
        self.phase = Phase::Finished;
        out.push(Action::Finish(Outcome::Failed(TransferError::Cancelled)));
        out
    }

    /// A message from the receiver.
    pub fn on_message(&mut self, msg: FileMessage, now: Instant) -> Vec<Action> {
        if self.phase == Phase::Finished || msg == FileMessage::Unknown {
            return Vec::new();
        }
        if msg.id() != Some(self.id.as_str()) {
            return self.fail(TransferError::Protocol("a message about another transfer".into()));
        }
        match (self.phase, msg) {
            (_, FileMessage::Cancel { reason, .. }) => {
                self.finish(TransferError::CancelledByPeer(clean_reason(reason)))
            }
            (Phase::Offered, FileMessage::Accept { offset, .. }) => self.resume_at(offset, now),
            (Phase::Offered, FileMessage::Decline { reason, .. }) => {
                self.finish(TransferError::Declined(clean_reason(reason)))
            }
            (Phase::Sending | Phase::Ended, FileMessage::Confirm { offset, .. }) => {
                if offset < self.confirmed || offset > self.sent {
                    return self.fail(TransferError::Protocol(format!("a confirm of byte {offset} out of order")));
                }
                self.confirmed = offset;
                self.snapshots.confirmed(offset);
                self.since = now;
                Vec::new()
            }
            (Phase::Ended, FileMessage::Done { ok: true, .. }) => {
                self.phase = Phase::Finished;
                let sha256 = hex(&self.hasher.clone().finalize());
                vec![Action::Finish(Outcome::Verified { sha256 })]
            }
            (Phase::Ended, FileMessage::Done { ok: false, reason, .. }) => {
                let why = clean_reason(reason).unwrap_or_else(|| "no reason given".into());
                self.finish(TransferError::FailedThere(why))
            }
            (phase, msg) => self.fail(TransferError::Protocol(format!("{msg:?} while {phase:?}"))),
        }
    }

    /// When [`Outgoing::tick`] has something to decide.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Offered if !self.accepted => Some(self.since + OFFER_WAIT),
            Phase::Offered => Some(self.since + STALL),
            Phase::Sending | Phase::Ended if self.sent > self.confirmed || self.phase == Phase::Ended => {
                Some(self.since + STALL)
            }
            Phase::Paused => Some(self.since + RESUME_WAIT),
            _ => None,
        }
    }

    /// Gives up on what waited too long.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let Some(deadline) = self.next_deadline() else { return Vec::new() };
        if now < deadline {
            return Vec::new();
        }
        let why = match self.phase {
            Phase::Offered if !self.accepted => TransferError::NotAnswered(OFFER_WAIT.as_secs()),
            Phase::Paused => TransferError::ConnectionLost(RESUME_WAIT.as_secs()),
            _ => TransferError::Stalled(STALL.as_secs()),
        };
        self.fail(why)
    }

    fn resume_at(&mut self, offset: u64, now: Instant) -> Vec<Action> {
        let point = offset == self.size || offset.is_multiple_of(CONFIRM_EVERY);
        let kept = self.snapshots.has(offset);
        if self.restored && !kept && self.phase == Phase::Offered && offset <= self.size && point {
            // Restored: the hash states from before the restart are gone; hash the file
            // up to there again.
            self.phase = Phase::Rehashing;
            self.hasher = Sha256::new();
            self.rehashed = 0;
            self.sent = offset;
            self.confirmed = offset;
            return vec![Action::Rehash(offset)];
        }
        let Some(hasher) = (offset <= self.size).then(|| self.snapshots.rewind(offset)).flatten() else {
            return self.fail(TransferError::Protocol(format!("cannot resume at byte {offset}")));
        };
        self.accepted = true;
        self.hasher = hasher;
        self.sent = offset;
        self.confirmed = offset;
        self.snapshots.confirmed(offset);
        self.phase = Phase::Sending;
        self.since = now;
        if self.sent == self.size {
            return self.end();
        }
        Vec::new()
    }

    fn end(&mut self) -> Vec<Action> {
        self.phase = Phase::Ended;
        let sha256 = hex(&self.hasher.clone().finalize());
        vec![Action::Send(FileMessage::End { id: self.id.clone(), sha256 })]
    }

    /// Ends with `why`, telling the other side when the channel is up.
    fn fail(&mut self, why: TransferError) -> Vec<Action> {
        let mut out = Vec::new();
        if !matches!(self.phase, Phase::Paused | Phase::Finished) {
            out.push(Action::Send(FileMessage::Cancel { id: self.id.clone(), reason: Some(why.to_string()) }));
        }
        self.phase = Phase::Finished;
        out.push(Action::Finish(Outcome::Failed(why)));
        out
    }

    /// Ends with `why`, which the other side already knows.
    fn finish(&mut self, why: TransferError) -> Vec<Action> {
        self.phase = Phase::Finished;
        vec![Action::Finish(Outcome::Failed(why))]
    }
}

/// Lower-case hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "outgoing_tests.rs"]
mod tests;

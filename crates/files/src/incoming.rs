//! The receiver of one offered file, without I/O: it checks the offer, says what to
//! write, when to flush and confirm (every [`CONFIRM_EVERY`] bytes and at the end),
//! hashes what arrives, verifies the whole against the sender's SHA-256, resumes from
//! the last confirm point after a break, and decides when to give up.

use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::outgoing::hex;
use crate::snapshots::Snapshots;
use crate::wire::{clean_reason, is_sha256_hex, FileMessage, MAX_OFFERED_NAME_BYTES};
use crate::{name, Outcome, Progress, TransferError, CHUNK, CONFIRM_EVERY, OFFER_WAIT, RESUME_WAIT, STALL};

/// What the receiver's I/O must do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send this message on the transfer's channel.
    Send(FileMessage),
    /// Append the bytes just given to [`Incoming::chunk`] to the partial file.
    Write,
    /// Make the partial file durable up to `offset` (flush and sync); once that is done,
    /// tell [`Incoming::synced`] and send `confirm` for `offset`.
    Confirm(u64),
    /// Cut the partial file to `offset` bytes (the transfer resumes there).
    Truncate(u64),
    /// The transfer is over: on `Verified`, give the partial file its final name; else
    /// keep it as it is. Close the channel and tell the person.
    Finish(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for the person to accept or decline.
    Offered,
    Receiving,
    /// The channel broke; waiting for the sender to offer again.
    Paused,
    /// Restored after a restart: the I/O hashes the partial file's first bytes.
    Rehashing,
    Finished,
}

/// One incoming transfer.
pub struct Incoming {
    id: String,
    /// The name it will have: the offered one, cleaned.
    name: String,
    size: u64,
    phase: Phase,
    accepted: bool,
    received: u64,
    /// The last confirm point made durable (synced to disk): where a break resumes.
    durable: u64,
    /// Resumed: no bytes since the `accept` yet (the sender may be hashing its file
    /// again first), so the wait for them is the longer one.
    resuming: bool,
    hasher: Sha256,
    snapshots: Snapshots,
    since: Instant,
}

impl Incoming {
    /// A new transfer from the first offer of a channel; refused when the offer is not
    /// valid or the file is larger than `max_size`.
    pub fn from_offer(msg: &FileMessage, max_size: u64, now: Instant) -> Result<Incoming, TransferError> {
        let FileMessage::Offer { id, name: offered, size, resume } = msg else {
            return Err(TransferError::BadOffer("the first message is not an offer".into()));
        };
        if !crate::is_valid_id(id) {
            return Err(TransferError::BadOffer("the transfer id is not 1-64 of [A-Za-z0-9_-]".into()));
        }
        if *resume {
            return Err(TransferError::BadOffer("a resume of a transfer this side does not have".into()));
        }
        if offered.len() > MAX_OFFERED_NAME_BYTES {
            return Err(TransferError::BadOffer(format!("a name over {MAX_OFFERED_NAME_BYTES} bytes")));
        }
        if *size > max_size {
            return Err(TransferError::TooLarge { size: *size, max: max_size });
        }
        Ok(Incoming::start(id, offered, *size, Phase::Offered, now))
    }

    /// A transfer in `phase` with nothing received yet; accepted unless still offered.
    fn start(id: &str, offered: &str, size: u64, phase: Phase, now: Instant) -> Incoming {
        Incoming {
            id: id.to_string(),
            name: name::clean(offered),
            size,
            phase,
            accepted: phase != Phase::Offered,
            received: 0,
            durable: 0,
            resuming: false,
            hasher: Sha256::new(),
            snapshots: Snapshots::new(),
            since: now,
        }
    }

    /// A transfer this side accepted before it restarted. The I/O gives it the partial
    /// file's bytes up to a confirm point ([`Incoming::rehash`], then
    /// [`Incoming::rehashed`]); it then waits for the sender to offer again.
    pub fn restored(id: &str, name: &str, size: u64, now: Instant) -> Incoming {
        Incoming::start(id, name, size, Phase::Rehashing, now)
    }

    /// The partial file's bytes, in order from its start, while rehashing.
    pub fn rehash(&mut self, data: &[u8]) {
        if self.phase == Phase::Rehashing {
            let take = (data.len() as u64).min(self.size - self.received) as usize;
            self.hasher.update(&data[..take]);
            self.received += take as u64;
        }
    }

    /// Rehashing is done: the transfer resumes from there once the sender offers again
    /// (the I/O cuts the partial file there when it does: [`Action::Truncate`]).
    pub fn rehashed(&mut self, now: Instant) {
        if self.phase == Phase::Rehashing {
            self.durable = self.received;
            self.snapshots.keep(self.durable, &self.hasher);
            self.snapshots.confirmed(self.durable);
            self.phase = Phase::Paused;
            self.since = now;
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// The cleaned name (before making it unique in the target folder).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes received and written.
    pub fn progress(&self) -> Progress {
        Progress { bytes: self.received, size: self.size }
    }

    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// The person accepts (the I/O made sure the file can be written).
    pub fn accept(&mut self, now: Instant) -> Vec<Action> {
        if self.phase != Phase::Offered {
            return Vec::new();
        }
        self.accepted = true;
        self.phase = Phase::Receiving;
        self.since = now;
        vec![Action::Send(FileMessage::Accept { id: self.id.clone(), offset: 0 })]
    }

    /// The person declines (or the I/O cannot take the file: `reason` says why).
    pub fn decline(&mut self, reason: Option<String>) -> Vec<Action> {
        if self.phase != Phase::Offered {
            return Vec::new();
        }
        self.phase = Phase::Finished;
        vec![
            Action::Send(FileMessage::Decline { id: self.id.clone(), reason: reason.clone() }),
            Action::Finish(Outcome::Failed(TransferError::Declined(reason))),
        ]
    }

    /// The sender offered this transfer again on a new channel (after a break).
    pub fn offered_again(&mut self, msg: &FileMessage, now: Instant) -> Vec<Action> {
        let FileMessage::Offer { id, size, .. } = msg else { return Vec::new() };
        if *id != self.id || *size != self.size {
            return self.fail(TransferError::Protocol("a re-offer that differs from the offer".into()));
        }
        match self.phase {
            // Still undecided: the new channel carries the answer when it comes.
            Phase::Offered => Vec::new(),
            Phase::Receiving | Phase::Paused => {
                // Resume at the last confirm point, with the hash of what is before it.
                let Some(hasher) = self.snapshots.rewind(self.durable) else {
                    return self.fail(TransferError::Protocol("no state at the last confirm point".into()));
                };
                self.hasher = hasher;
                self.received = self.durable;
                self.phase = Phase::Receiving;
                self.resuming = true;
                self.since = now;
                vec![
                    Action::Truncate(self.durable),
                    Action::Send(FileMessage::Accept { id: self.id.clone(), offset: self.durable }),
                ]
            }
            // Rehashing: the I/O finishes it before the transfer takes messages.
            Phase::Finished | Phase::Rehashing => Vec::new(),
        }
    }

    /// The channel broke.
    pub fn channel_lost(&mut self, now: Instant) {
        if self.phase == Phase::Receiving {
            self.phase = Phase::Paused;
            self.since = now;
        }
    }

    /// Bytes arrived.
    pub fn chunk(&mut self, data: &[u8], now: Instant) -> Vec<Action> {
        if self.phase != Phase::Receiving {
            return self.fail(TransferError::Protocol("file bytes before an accept".into()));
        }
        if data.len() > CHUNK {
            return self.fail(TransferError::Protocol(format!("a chunk of {} bytes, over {CHUNK}", data.len())));
        }
        let len = data.len() as u64;
        if len > self.size - self.received {
            let got = self.received + len;
            return self.fail(TransferError::SizeMismatch { got, want: self.size });
        }
        self.resuming = false;
        let mut out = vec![Action::Write];
        // Hash up to each confirm point the chunk crosses, and keep the state there.
        let mut rest = data;
        while !rest.is_empty() {
            let to_point = CONFIRM_EVERY - self.received % CONFIRM_EVERY;
            let take = (rest.len() as u64).min(to_point).min(self.size - self.received) as usize;
            self.hasher.update(&rest[..take]);
            self.received += take as u64;
            rest = &rest[take..];
            if self.received.is_multiple_of(CONFIRM_EVERY) || self.received == self.size {
                self.snapshots.keep(self.received, &self.hasher);
                out.push(Action::Confirm(self.received));
            }
        }
        self.since = now;
        out
    }

    /// The partial file is durable up to `offset` (a confirm point this machine asked
    /// for): a break now resumes there.
    pub fn synced(&mut self, offset: u64) {
        if offset > self.durable && offset <= self.received && self.snapshots.has(offset) {
            self.durable = offset;
            self.snapshots.confirmed(offset);
        }
    }

    /// A message from the sender.
    pub fn on_message(&mut self, msg: FileMessage, now: Instant) -> Vec<Action> {
        if self.phase == Phase::Finished || msg == FileMessage::Unknown {
            return Vec::new();
        }
        if msg.id() != Some(self.id.as_str()) {
            return self.fail(TransferError::Protocol("a message about another transfer".into()));
        }
        match (self.phase, msg) {
            (_, FileMessage::Cancel { reason, .. }) => {
                self.phase = Phase::Finished;
                vec![Action::Finish(Outcome::Failed(TransferError::CancelledByPeer(clean_reason(reason))))]
            }
            (_, offer @ FileMessage::Offer { .. }) => self.offered_again(&offer, now),
            (Phase::Receiving, FileMessage::End { sha256, .. }) => {
                if !is_sha256_hex(&sha256) {
                    return self.fail(TransferError::Protocol("an end without a SHA-256 in lower-case hex".into()));
                }
                if self.received != self.size {
                    return self.verdict(TransferError::SizeMismatch { got: self.received, want: self.size });
                }
                let ours = hex(&self.hasher.clone().finalize());
                if ours != sha256 {
                    return self.verdict(TransferError::HashMismatch);
                }
                self.phase = Phase::Finished;
                vec![
                    Action::Send(FileMessage::Done { id: self.id.clone(), ok: true, reason: None }),
                    Action::Finish(Outcome::Verified { sha256: ours }),
                ]
            }
            (phase, msg) => self.fail(TransferError::Protocol(format!("{msg:?} while {phase:?}"))),
        }
    }

    /// Writing or flushing the file failed.
    pub fn write_failed(&mut self, why: String) -> Vec<Action> {
        self.fail(TransferError::Io(format!("cannot write the file: {why}")))
    }

    /// The person cancels.
    pub fn cancel(&mut self) -> Vec<Action> {
        match self.phase {
            Phase::Finished => Vec::new(),
            Phase::Offered => self.decline(None),
            _ => {
                let mut out = Vec::new();
                if self.phase == Phase::Receiving {
                    out.push(Action::Send(FileMessage::Cancel { id: self.id.clone(), reason: None }));
                }
                self.phase = Phase::Finished;
                out.push(Action::Finish(Outcome::Failed(TransferError::Cancelled)));
                out
            }
        }
    }

    /// When [`Incoming::tick`] has something to decide.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Offered => Some(self.since + OFFER_WAIT),
            Phase::Receiving if self.resuming => Some(self.since + RESUME_WAIT),
            Phase::Receiving => Some(self.since + STALL),
            Phase::Paused => Some(self.since + RESUME_WAIT),
            Phase::Finished | Phase::Rehashing => None,
        }
    }

    /// Gives up on what waited too long.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let Some(deadline) = self.next_deadline() else { return Vec::new() };
        if now < deadline {
            return Vec::new();
        }
        match self.phase {
            Phase::Offered => self.decline(Some("not answered in time".into())),
            Phase::Paused => {
                self.phase = Phase::Finished;
                let why = TransferError::ConnectionLost(RESUME_WAIT.as_secs());
                vec![Action::Finish(Outcome::Failed(why))]
            }
            _ if self.resuming => self.fail(TransferError::Stalled(RESUME_WAIT.as_secs())),
            _ => self.fail(TransferError::Stalled(STALL.as_secs())),
        }
    }

    /// The file is complete but not right: say so with `done`, and end.
    fn verdict(&mut self, why: TransferError) -> Vec<Action> {
        self.phase = Phase::Finished;
        vec![
            Action::Send(FileMessage::Done { id: self.id.clone(), ok: false, reason: Some(why.to_string()) }),
            Action::Finish(Outcome::Failed(why)),
        ]
    }

    /// Ends with `why`, telling the sender when the channel is up.
    fn fail(&mut self, why: TransferError) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.phase, Phase::Offered | Phase::Receiving) {
            out.push(Action::Send(FileMessage::Cancel { id: self.id.clone(), reason: Some(why.to_string()) }));
        }
        self.phase = Phase::Finished;
        out.push(Action::Finish(Outcome::Failed(why)));
        out
    }
}

#[cfg(test)]
#[path = "incoming_tests.rs"]
mod tests;

//! The receiver's decisions, and a sender and a receiver wired together through a
//! channel that breaks, with time passed in.

use std::time::Duration;

use super::*;
use crate::outgoing::{self, Outgoing};

const ID: &str = "t-1";
const MAX: u64 = 1 << 40;

fn offer(name: &str, size: u64) -> FileMessage {
    FileMessage::Offer { id: ID.into(), name: name.into(), size, resume: false }
}

fn accepted(size: u64, t0: Instant) -> Incoming {
    let mut i = Incoming::from_offer(&offer("a.bin", size), MAX, t0).unwrap();
    assert_eq!(i.accept(t0), vec![Action::Send(FileMessage::Accept { id: ID.into(), offset: 0 })]);
    i
}

/// Gives `i` `len` bytes of ones in chunks of at most [`CHUNK`]; every action.
fn feed(i: &mut Incoming, len: u64, t0: Instant) -> Vec<Action> {
    let mut out = Vec::new();
    let mut left = len;
    while left > 0 {
        let n = left.min(CHUNK as u64);
        out.extend(i.chunk(&vec![1u8; n as usize], t0));
        left -= n;
    }
    out
}

fn sha(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

#[test]
fn hostile_offers_are_refused_or_cleaned() {
    let t0 = Instant::now();
    let i = Incoming::from_offer(&offer("../../x", 1), MAX, t0).unwrap();
    assert_eq!(i.name(), "x");
    let i = Incoming::from_offer(&offer("a\u{0}b\u{1b}.txt", 1), MAX, t0).unwrap();
    assert_eq!(i.name(), "ab.txt");
    let big = Incoming::from_offer(&offer("a", MAX + 1), MAX, t0);
    assert!(matches!(big, Err(TransferError::TooLarge { .. })));
    let long = Incoming::from_offer(&offer(&"n".repeat(2000), 1), MAX, t0);
    assert!(matches!(long, Err(TransferError::BadOffer(_))));
    let bad_id = FileMessage::Offer { id: "a/b".into(), name: "x".into(), size: 1, resume: false };
    assert!(matches!(Incoming::from_offer(&bad_id, MAX, t0), Err(TransferError::BadOffer(_))));
    let resume = FileMessage::Offer { id: ID.into(), name: "x".into(), size: 1, resume: true };
    assert!(matches!(Incoming::from_offer(&resume, MAX, t0), Err(TransferError::BadOffer(_))), "unknown resume");
    let not_offer = FileMessage::Cancel { id: ID.into(), reason: None };
    assert!(matches!(Incoming::from_offer(&not_offer, MAX, t0), Err(TransferError::BadOffer(_))));
}

#[test]
fn bytes_before_an_accept_or_beyond_the_size_are_refused() {
    let t0 = Instant::now();
    let mut i = Incoming::from_offer(&offer("a", 4), MAX, t0).unwrap();
    let out = i.chunk(b"ab", t0);
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Protocol(_))))));
    let mut i = accepted(4, t0);
    let out = i.chunk(b"abcde", t0);
    assert!(!out.contains(&Action::Write), "nothing beyond the offered size is written");
    assert!(matches!(
        out.last(),
        Some(Action::Finish(Outcome::Failed(TransferError::SizeMismatch { got: 5, want: 4 })))
    ));
}

#[test]
fn a_chunk_over_the_protocols_limit_is_refused() {
    let t0 = Instant::now();
    let mut i = accepted(4 * CHUNK as u64, t0);
    let out = i.chunk(&vec![0; CHUNK + 1], t0);
    assert!(!out.contains(&Action::Write));
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Protocol(_))))), "{out:?}");
}

#[test]
fn confirms_come_at_each_confirm_point_and_at_the_end_even_inside_a_chunk() {
    let t0 = Instant::now();
    let size = 2 * CONFIRM_EVERY + 10;
    let mut i = accepted(size, t0);
    // A sender with odd chunk sizes: a chunk straddling a confirm point.
    assert!(feed(&mut i, CONFIRM_EVERY - 3, t0).iter().all(|a| *a == Action::Write));
    assert_eq!(i.chunk(&[1u8; 6], t0), vec![Action::Write, Action::Confirm(CONFIRM_EVERY)]);
    assert!(feed(&mut i, CONFIRM_EVERY - 6, t0).iter().all(|a| *a == Action::Write));
    // One chunk crossing the last confirm point before the end, and the end.
    assert_eq!(i.chunk(&[1u8; 13], t0), vec![Action::Write, Action::Confirm(2 * CONFIRM_EVERY), Action::Confirm(size)]);
    let out = i.on_message(FileMessage::End { id: ID.into(), sha256: sha(&vec![1u8; size as usize]) }, t0);
    assert_eq!(out[0], Action::Send(FileMessage::Done { id: ID.into(), ok: true, reason: None }));
    assert!(matches!(out[1], Action::Finish(Outcome::Verified { .. })));
}

#[test]
fn a_wrong_hash_or_a_short_file_is_reported_and_never_verified() {
    let t0 = Instant::now();
    let mut i = accepted(3, t0);
    i.chunk(b"abc", t0);
    let out = i.on_message(FileMessage::End { id: ID.into(), sha256: sha(b"abd") }, t0);
    assert!(matches!(&out[0], Action::Send(FileMessage::Done { ok: false, .. })));
    assert_eq!(out[1], Action::Finish(Outcome::Failed(TransferError::HashMismatch)));

    let mut i = accepted(3, t0);
    i.chunk(b"ab", t0);
    let out = i.on_message(FileMessage::End { id: ID.into(), sha256: sha(b"ab") }, t0);
    assert_eq!(out[1], Action::Finish(Outcome::Failed(TransferError::SizeMismatch { got: 2, want: 3 })));

    let mut i = accepted(3, t0);
    i.chunk(b"abc", t0);
    let out = i.on_message(FileMessage::End { id: ID.into(), sha256: "not-hex".into() }, t0);
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Protocol(_))))));
}

#[test]
fn after_a_break_it_resumes_at_the_last_confirm_point_and_cuts_what_came_after() {
    let t0 = Instant::now();
    let size = 3 * CONFIRM_EVERY;
    let mut i = accepted(size, t0);
    feed(&mut i, CONFIRM_EVERY + 500, t0);
    i.synced(CONFIRM_EVERY);
    i.channel_lost(t0);
    let again = FileMessage::Offer { id: ID.into(), name: "a.bin".into(), size, resume: true };
    let out = i.on_message(again, t0);
    assert_eq!(
        out,
        vec![
            Action::Truncate(CONFIRM_EVERY),
            Action::Send(FileMessage::Accept { id: ID.into(), offset: CONFIRM_EVERY })
        ]
    );
    assert_eq!(i.progress().bytes, CONFIRM_EVERY, "never back to zero");
}

#[test]
fn a_re_offer_while_undecided_keeps_waiting_for_the_person() {
    let t0 = Instant::now();
    let mut i = Incoming::from_offer(&offer("a", 5), MAX, t0).unwrap();
    assert!(i.on_message(offer("a", 5), t0).is_empty());
    let out = i.on_message(offer("a", 6), t0);
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Protocol(_))))), "another size");
}

#[test]
fn waits_are_bounded() {
    let t0 = Instant::now();
    let mut i = Incoming::from_offer(&offer("a", 5), MAX, t0).unwrap();
    let out = i.tick(t0 + OFFER_WAIT);
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Declined(_))))));

    let mut i = accepted(5, t0);
    i.chunk(b"ab", t0 + Duration::from_secs(10));
    assert!(i.tick(t0 + STALL).is_empty(), "bytes are progress");
    let out = i.tick(t0 + Duration::from_secs(10) + STALL);
    assert!(matches!(out[0], Action::Send(FileMessage::Cancel { .. })));
    assert!(matches!(out[1], Action::Finish(Outcome::Failed(TransferError::Stalled(_)))));

    let mut i = accepted(5, t0);
    i.channel_lost(t0);
    let out = i.tick(t0 + RESUME_WAIT);
    assert_eq!(out, vec![Action::Finish(Outcome::Failed(TransferError::ConnectionLost(RESUME_WAIT.as_secs())))]);
}

#[test]
fn cancelling_while_undecided_declines() {
    let t0 = Instant::now();
    let mut i = Incoming::from_offer(&offer("a", 5), MAX, t0).unwrap();
    let out = i.cancel();
    assert!(matches!(out[0], Action::Send(FileMessage::Decline { .. })));
    let mut i = accepted(5, t0);
    assert_eq!(i.cancel()[1], Action::Finish(Outcome::Failed(TransferError::Cancelled)));
}

/// A sender and a receiver joined by a channel that drops everything in flight when it
/// breaks; `disk` is what the receiver's I/O holds.
struct Wire {
    out: Outgoing,
    inc: Incoming,
    file: Vec<u8>,
    disk: Vec<u8>,
    up: bool,
    sender_done: Option<Outcome>,
    receiver_done: Option<Outcome>,
}

impl Wire {
    /// `file` offered on a channel that carries 16 KiB messages (the chunks are that
    /// size), and accepted.
    fn accepted(file: Vec<u8>, t0: Instant) -> Wire {
        let mut out = Outgoing::new(ID, "big.bin", file.len() as u64, t0).unwrap();
        let first = out.channel_open(16 * 1024, t0);
        let outgoing::Action::Send(offer) = &first[0] else { panic!("no offer: {first:?}") };
        let mut inc = Incoming::from_offer(offer, MAX, t0).unwrap();
        let accept = inc.accept(t0);
        let mut w = Wire { out, inc, file, disk: Vec::new(), up: true, sender_done: None, receiver_done: None };
        w.deliver_to_sender(accept, None, t0);
        w
    }

    fn deliver_to_receiver(&mut self, actions: Vec<outgoing::Action>, now: Instant) {
        for a in actions {
            match a {
                outgoing::Action::Send(m) if self.up => {
                    let back = self.inc.on_message(m, now);
                    self.deliver_to_sender(back, None, now);
                }
                outgoing::Action::Send(_) => {}
                outgoing::Action::Rehash(n) => {
                    self.out.rehash(&self.file[..n as usize]);
                    let more = self.out.rehashed(now);
                    self.deliver_to_receiver(more, now);
                }
                outgoing::Action::Finish(o) => self.sender_done = Some(o),
            }
        }
    }

    fn deliver_to_sender(&mut self, actions: Vec<Action>, chunk: Option<&[u8]>, now: Instant) {
        for a in actions {
            match a {
                Action::Send(m) if self.up => {
                    let back = self.out.on_message(m, now);
                    self.deliver_to_receiver(back, now);
                }
                Action::Send(_) => {}
                Action::Write => self.disk.extend_from_slice(chunk.expect("a write follows a chunk")),
                Action::Truncate(n) => self.disk.truncate(n as usize),
                // The "disk" is durable at once.
                Action::Confirm(n) if self.up => {
                    self.inc.synced(n);
                    let back = self.out.on_message(FileMessage::Confirm { id: ID.into(), offset: n }, now);
                    self.deliver_to_receiver(back, now);
                }
                Action::Confirm(n) => self.inc.synced(n),
                Action::Finish(o) => self.receiver_done = Some(o),
            }
        }
    }

    /// Sends chunks until the window is full or `limit` chunks went.
    fn pump(&mut self, limit: usize, now: Instant) {
        for _ in 0..limit {
            let Some((offset, len)) = self.out.next_read() else { return };
            let data = self.file[offset as usize..offset as usize + len].to_vec();
            let after = self.out.sent(offset, &data, now);
            if self.up {
                let got = self.inc.chunk(&data, now);
                self.deliver_to_sender(got, Some(&data), now);
            }
            self.deliver_to_receiver(after, now);
        }
    }
}

#[test]
fn a_file_crosses_two_breaks_resuming_each_time_and_arrives_verified() {
    let t0 = Instant::now();
    let size = 5 * CONFIRM_EVERY + 12_345;
    let mut w = Wire::accepted((0..size).map(|i| (i * 31 % 251) as u8).collect(), t0);
    let mut lowest_after_resume = Vec::new();
    for chunks_before_break in [100, 150] {
        w.pump(chunks_before_break, t0);
        // The channel breaks with bytes on the way: they never arrive.
        w.up = false;
        w.pump(10, t0);
        w.out.channel_lost(t0);
        w.inc.channel_lost(t0);
        w.up = true;
        let offer = w.out.channel_open(16 * 1024, t0);
        w.deliver_to_receiver(offer, t0);
        lowest_after_resume.push(w.disk.len());
    }
    for _ in 0..1000 {
        if w.sender_done.is_some() {
            break;
        }
        w.pump(usize::MAX, t0);
    }
    assert!(lowest_after_resume.iter().all(|n| *n > 0), "resumed, never from zero: {lowest_after_resume:?}");
    assert!(lowest_after_resume.iter().all(|n| (*n as u64).is_multiple_of(CONFIRM_EVERY)));
    assert_eq!(w.disk, w.file, "the bytes on disk are the file");
    let want = sha(&w.file);
    assert_eq!(w.receiver_done, Some(Outcome::Verified { sha256: want.clone() }));
    assert_eq!(w.sender_done, Some(Outcome::Verified { sha256: want }));
    assert_eq!(w.out.progress().bytes, size);
}

#[test]
fn a_file_survives_a_restart_of_each_side_and_arrives_verified() {
    let t0 = Instant::now();
    let size = 6 * CONFIRM_EVERY + 777;
    let mut w = Wire::accepted((0..size).map(|i| (i * 17 % 253) as u8).collect(), t0);
    let mut resumed_at = Vec::new();

    // The receiver restarts: all it has is the partial file on disk.
    w.pump(150, t0);
    w.up = false;
    w.pump(10, t0);
    let point = w.disk.len() as u64 / CONFIRM_EVERY * CONFIRM_EVERY;
    w.inc = Incoming::restored(ID, "big.bin", size, t0);
    w.inc.rehash(&w.disk[..point as usize]);
    w.inc.rehashed(t0);
    assert_eq!(w.inc.progress().bytes, point);
    w.out.channel_lost(t0);
    w.up = true;
    let offer = w.out.channel_open(16 * 1024, t0);
    w.deliver_to_receiver(offer, t0);
    resumed_at.push(w.disk.len());

    // The sender restarts: it has only the file and the transfer's id.
    w.pump(130, t0);
    w.up = false;
    w.out = Outgoing::restored(ID, "big.bin", size, t0).unwrap();
    w.inc.channel_lost(t0);
    w.up = true;
    let offer = w.out.channel_open(16 * 1024, t0);
    assert!(matches!(&offer[0], outgoing::Action::Send(FileMessage::Offer { resume: true, .. })));
    w.deliver_to_receiver(offer, t0);
    resumed_at.push(w.disk.len());

    for _ in 0..1000 {
        if w.sender_done.is_some() {
            break;
        }
        w.pump(usize::MAX, t0);
    }
    assert!(resumed_at.iter().all(|n| *n > 0 && (*n as u64).is_multiple_of(CONFIRM_EVERY)), "{resumed_at:?}");
    assert_eq!(w.disk, w.file, "the bytes on disk are the file");
    let want = sha(&w.file);
    assert_eq!(w.receiver_done, Some(Outcome::Verified { sha256: want.clone() }));
    assert_eq!(w.sender_done, Some(Outcome::Verified { sha256: want }));
}

#[test]
fn a_break_resumes_from_the_last_point_made_durable_not_one_still_being_synced() {
    let t0 = Instant::now();
    let mut i = accepted(4 * CONFIRM_EVERY, t0);
    let out = feed(&mut i, 2 * CONFIRM_EVERY + 10, t0);
    assert!(out.contains(&Action::Confirm(2 * CONFIRM_EVERY)));
    // Only the first point's sync finished before the channel broke.
    i.synced(CONFIRM_EVERY);
    i.channel_lost(t0);
    let again = FileMessage::Offer { id: ID.into(), name: "a.bin".into(), size: 4 * CONFIRM_EVERY, resume: true };
    let out = i.on_message(again, t0);
    assert_eq!(out[0], Action::Truncate(CONFIRM_EVERY));
    // A sync the machine never asked for changes nothing.
    i.synced(3 * CONFIRM_EVERY);
    assert_eq!(i.progress().bytes, CONFIRM_EVERY);
}

#[test]
fn after_a_resume_the_first_bytes_may_take_as_long_as_the_sender_hashing_its_file_again() {
    let t0 = Instant::now();
    let mut i = accepted(4 * CONFIRM_EVERY, t0);
    feed(&mut i, CONFIRM_EVERY, t0);
    i.synced(CONFIRM_EVERY);
    i.channel_lost(t0);
    let again = FileMessage::Offer { id: ID.into(), name: "a.bin".into(), size: 4 * CONFIRM_EVERY, resume: true };
    i.on_message(again, t0);
    assert_eq!(i.next_deadline(), Some(t0 + RESUME_WAIT));
    assert!(i.tick(t0 + STALL).is_empty(), "not stalled while the sender prepares");
    feed(&mut i, 1000, t0);
    assert_eq!(i.next_deadline(), Some(t0 + STALL), "once bytes flow, the usual stall bound");
}

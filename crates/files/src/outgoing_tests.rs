//! The sender's decisions, with time passed in.

use std::time::Duration;

use super::*;

const ID: &str = "t-1";

fn offered(size: u64, t0: Instant) -> Outgoing {
    let mut o = Outgoing::new(ID, "a.bin", size, t0).unwrap();
    assert!(o.wants_channel());
    let out = o.channel_open(CHUNK, t0);
    assert_eq!(
        out,
        vec![Action::Send(FileMessage::Offer { id: ID.into(), name: "a.bin".into(), size, resume: false })]
    );
    o
}

fn accept(offset: u64) -> FileMessage {
    FileMessage::Accept { id: ID.into(), offset }
}

fn confirm(offset: u64) -> FileMessage {
    FileMessage::Confirm { id: ID.into(), offset }
}

/// Sends everything the window allows; returns the bytes sent.
fn pump(o: &mut Outgoing, now: Instant) -> (u64, Vec<Action>) {
    let (mut n, mut actions) = (0, Vec::new());
    while let Some((offset, len)) = o.next_read() {
        actions.extend(o.sent(offset, &vec![7u8; len], now));
        n += len as u64;
    }
    (n, actions)
}

fn sha_of(size: u64) -> String {
    hex(&Sha256::digest(vec![7u8; size as usize]))
}

#[test]
fn nothing_is_sent_before_the_receiver_accepts() {
    let t0 = Instant::now();
    let mut o = offered(10, t0);
    assert_eq!(o.next_read(), None);
    o.on_message(accept(0), t0);
    assert_eq!(o.next_read(), Some((0, 10)));
}

#[test]
fn the_sender_stays_within_the_window_until_bytes_are_confirmed() {
    let t0 = Instant::now();
    let size = 20 * CONFIRM_EVERY;
    let mut o = offered(size, t0);
    o.on_message(accept(0), t0);
    let (n, _) = pump(&mut o, t0);
    assert_eq!(n, WINDOW);
    assert!(o.on_message(confirm(CONFIRM_EVERY), t0).is_empty());
    assert_eq!(o.progress(), Progress { bytes: CONFIRM_EVERY, size });
    assert_eq!(pump(&mut o, t0).0, CONFIRM_EVERY, "one confirm point frees one more");
}

#[test]
fn after_the_last_byte_comes_end_with_the_hash_and_done_verifies() {
    let t0 = Instant::now();
    let size = CONFIRM_EVERY + 5;
    let mut o = offered(size, t0);
    o.on_message(accept(0), t0);
    let (_, actions) = pump(&mut o, t0);
    assert_eq!(actions, vec![Action::Send(FileMessage::End { id: ID.into(), sha256: sha_of(size) })]);
    o.on_message(confirm(size), t0);
    let out = o.on_message(FileMessage::Done { id: ID.into(), ok: true, reason: None }, t0);
    assert_eq!(out, vec![Action::Finish(Outcome::Verified { sha256: sha_of(size) })]);
    assert!(o.is_finished());
}

#[test]
fn an_empty_file_ends_at_once() {
    let t0 = Instant::now();
    let mut o = offered(0, t0);
    let out = o.on_message(accept(0), t0);
    assert_eq!(out, vec![Action::Send(FileMessage::End { id: ID.into(), sha256: sha_of(0) })]);
}

#[test]
fn after_a_break_it_offers_again_and_resumes_where_the_receiver_says_with_the_right_hash() {
    let t0 = Instant::now();
    let size = 5 * CONFIRM_EVERY + 100;
    let mut o = offered(size, t0);
    o.on_message(accept(0), t0);
    pump(&mut o, t0);
    o.on_message(confirm(CONFIRM_EVERY), t0);
    // The receiver had written two confirm points when the connection broke; its second
    // confirm was lost.
    o.channel_lost(t0);
    assert!(o.wants_channel());
    assert_eq!(o.next_read(), None);
    let out = o.channel_open(CHUNK, t0);
    assert_eq!(out, vec![Action::Send(FileMessage::Offer { id: ID.into(), name: "a.bin".into(), size, resume: true })]);
    assert!(o.on_message(accept(2 * CONFIRM_EVERY), t0).is_empty());
    assert_eq!(o.next_read(), Some((2 * CONFIRM_EVERY, CHUNK)), "from the receiver's offset, not from zero");
    let (_, actions) = pump(&mut o, t0);
    assert_eq!(actions, vec![Action::Send(FileMessage::End { id: ID.into(), sha256: sha_of(size) })]);
}

#[test]
fn a_resume_at_an_offset_it_cannot_vouch_for_fails() {
    let t0 = Instant::now();
    let mut o = offered(3 * CONFIRM_EVERY, t0);
    o.on_message(accept(0), t0);
    o.channel_lost(t0);
    o.channel_open(CHUNK, t0);
    let out = o.on_message(accept(12345), t0);
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Protocol(_))))), "{out:?}");
    assert!(matches!(out[0], Action::Send(FileMessage::Cancel { .. })));
}

#[test]
fn confirms_out_of_order_are_a_protocol_error() {
    let t0 = Instant::now();
    let mut o = offered(3 * CONFIRM_EVERY, t0);
    o.on_message(accept(0), t0);
    let out = o.on_message(confirm(CONFIRM_EVERY), t0);
    assert!(
        matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Protocol(_))))),
        "ahead of what was sent"
    );
}

#[test]
fn decline_cancel_and_a_failed_verdict_end_it_with_their_reason() {
    let t0 = Instant::now();
    let mut o = offered(10, t0);
    let out = o.on_message(FileMessage::Decline { id: ID.into(), reason: Some("no\u{7} thanks".into()) }, t0);
    assert_eq!(out, vec![Action::Finish(Outcome::Failed(TransferError::Declined(Some("no thanks".into()))))]);

    let mut o = offered(10, t0);
    o.on_message(accept(0), t0);
    let out = o.on_message(FileMessage::Cancel { id: ID.into(), reason: None }, t0);
    assert_eq!(out, vec![Action::Finish(Outcome::Failed(TransferError::CancelledByPeer(None)))]);

    let mut o = offered(10, t0);
    o.on_message(accept(0), t0);
    pump(&mut o, t0);
    let out = o.on_message(FileMessage::Done { id: ID.into(), ok: false, reason: Some("hash".into()) }, t0);
    assert_eq!(out, vec![Action::Finish(Outcome::Failed(TransferError::FailedThere("hash".into())))]);
}

#[test]
fn cancelling_here_tells_the_other_side() {
    let t0 = Instant::now();
    let mut o = offered(10, t0);
    let out = o.cancel();
    assert_eq!(
        out,
        vec![
            Action::Send(FileMessage::Cancel { id: ID.into(), reason: None }),
            Action::Finish(Outcome::Failed(TransferError::Cancelled))
        ]
    );
    assert!(o.cancel().is_empty(), "once");
}

#[test]
fn waits_are_bounded() {
    let t0 = Instant::now();
    let mut o = offered(3 * CONFIRM_EVERY, t0);
    assert!(o.tick(t0 + OFFER_WAIT - Duration::from_secs(1)).is_empty(), "a person may take their time");
    let out = o.tick(t0 + OFFER_WAIT);
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::NotAnswered(_))))));

    let mut o = offered(3 * CONFIRM_EVERY, t0);
    o.on_message(accept(0), t0);
    assert_eq!(o.next_deadline(), None, "nothing in flight, nothing to wait for");
    pump(&mut o, t0);
    assert_eq!(o.next_deadline(), Some(t0 + STALL));
    let t1 = t0 + Duration::from_secs(20);
    o.on_message(confirm(CONFIRM_EVERY), t1);
    assert!(o.tick(t0 + STALL).is_empty(), "a confirm is progress");
    let out = o.tick(t1 + STALL);
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Stalled(_))))));

    let mut o = offered(10, t0);
    o.on_message(accept(0), t0);
    o.channel_lost(t0);
    let out = o.tick(t0 + RESUME_WAIT);
    assert_eq!(out, vec![Action::Finish(Outcome::Failed(TransferError::ConnectionLost(RESUME_WAIT.as_secs())))]);
}

#[test]
fn a_file_that_grows_while_sent_fails_instead_of_sending_more_than_offered() {
    let t0 = Instant::now();
    let mut o = offered(10, t0);
    o.on_message(accept(0), t0);
    let out = o.sent(0, &[1u8; 11], t0);
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Io(_))))));
}

#[test]
fn bad_ids_and_sizes_are_refused_up_front() {
    let t0 = Instant::now();
    assert!(matches!(Outgoing::new("../x", "a", 1, t0), Err(TransferError::BadOffer(_))));
    assert!(matches!(Outgoing::new("ok", "a", u64::MAX, t0), Err(TransferError::TooLarge { .. })));
}

#[test]
fn chunks_fit_the_channel_of_the_moment() {
    let t0 = Instant::now();
    let mut o = Outgoing::new(ID, "a.bin", 3 * CONFIRM_EVERY, t0).unwrap();
    o.channel_open(1000, t0);
    o.on_message(accept(0), t0);
    assert_eq!(o.next_read(), Some((0, 1000)), "no larger than the channel carries");
    o.channel_lost(t0);
    o.channel_open(usize::MAX, t0);
    o.on_message(accept(0), t0);
    assert_eq!(o.next_read(), Some((0, CHUNK)), "never larger than the protocol allows");
}

#[test]
fn a_restored_sender_whose_file_changed_fails() {
    let t0 = Instant::now();
    let size = 3 * CONFIRM_EVERY;
    let mut o = Outgoing::restored(ID, "a.bin", size, t0).unwrap();
    o.channel_open(CHUNK, t0);
    let out = o.on_message(accept(2 * CONFIRM_EVERY), t0);
    assert_eq!(out, vec![Action::Rehash(2 * CONFIRM_EVERY)]);
    assert_eq!(o.next_deadline(), None, "rehashing is local work, not a wait");
    // The file is shorter now: fewer bytes than the receiver has.
    o.rehash(&vec![0; CONFIRM_EVERY as usize]);
    let out = o.rehashed(t0);
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Io(_))))), "{out:?}");
}

#[test]
fn a_restored_sender_resumes_only_at_a_confirm_point() {
    let t0 = Instant::now();
    let mut o = Outgoing::restored(ID, "a.bin", 3 * CONFIRM_EVERY, t0).unwrap();
    o.channel_open(CHUNK, t0);
    let out = o.on_message(accept(12345), t0);
    assert!(matches!(out.last(), Some(Action::Finish(Outcome::Failed(TransferError::Protocol(_))))), "{out:?}");
}

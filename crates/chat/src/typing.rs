//! "Is typing…": a peer that is writing a line says so on its `messages` channels
//! (`{"type":"typing"}`), at most every [`SEND_EVERY`]; a receiver reports it as
//! [`ChatEvent::Typing`](crate::ChatEvent::Typing) at most every [`REPORT_EVERY`] per
//! peer, whatever the peer sends, and not in the second after that peer's line (a note
//! sent before the line can arrive after it: the channel is unordered). The limits are
//! bookkeeping with time passed in.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::ChatError;
use crate::session::ChatSession;
use crate::wire::ChatMessage;

/// Shortest time between two typing notes we send.
pub const SEND_EVERY: Duration = Duration::from_secs(3);
/// Shortest time between two typing reports for one peer.
pub const REPORT_EVERY: Duration = Duration::from_secs(1);
/// How long a UI shows "is typing" after a report (no line and no new report).
pub const SHOWN_FOR: Duration = Duration::from_secs(5);
/// Notes from a peer in this long after its line are late ones: not reported.
const AFTER_LINE: Duration = Duration::from_secs(1);

/// When we last said we type, and when each peer was last reported typing.
#[derive(Debug, Default)]
pub(crate) struct Typing {
    sent: Option<Instant>,
    reported: HashMap<String, Instant>,
}

impl Typing {
    /// Whether to send a typing note at `now`.
    pub(crate) fn may_send(&mut self, now: Instant) -> bool {
        if self.sent.is_some_and(|t| now.duration_since(t) < SEND_EVERY) {
            return false;
        }
        self.sent = Some(now);
        true
    }

    /// Whether a typing note from `peer` at `now` is reported.
    pub(crate) fn may_report(&mut self, peer: &str, now: Instant) -> bool {
        if self.reported.get(peer).is_some_and(|t| now.duration_since(*t) < REPORT_EVERY) {
            return false;
        }
        self.reported.insert(peer.to_string(), now);
        true
    }

    /// A chat line from `peer` arrived at `now`: a note that comes just after it is late.
    pub(crate) fn line_from(&mut self, peer: &str, now: Instant) {
        // As if reported then: the next report comes `REPORT_EVERY` later (no sooner
        // than `AFTER_LINE`, which is not shorter).
        self.reported.insert(peer.to_string(), now + AFTER_LINE.saturating_sub(REPORT_EVERY));
    }

    /// `peer` left (the map holds peers in the room only).
    pub(crate) fn forget(&mut self, peer: &str) {
        self.reported.remove(peer);
    }
}

impl ChatSession {
    /// The person is writing a line: tell the peers with an open channel, unless we did
    /// within [`SEND_EVERY`]. Whether a note went out.
    pub fn typing(&self) -> Result<bool, ChatError> {
        let inner = &self.inner;
        if inner.cancel.is_cancelled() {
            return Err(ChatError::Ended);
        }
        let peers: Vec<String> = {
            let mut g = inner.lock();
            if !g.typing.may_send(Instant::now()) {
                return Ok(false);
            }
            g.outs.iter().filter(|(_, dc)| dc.is_open()).map(|(p, _)| p.clone()).collect()
        };
        let _enter = inner.runtime.enter();
        for p in &peers {
            inner.send_soon(p, ChatMessage::Typing.to_json());
        }
        Ok(!peers.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_go_out_at_most_every_three_seconds() {
        let mut t = Typing::default();
        let now = Instant::now();
        assert!(t.may_send(now));
        assert!(!t.may_send(now + SEND_EVERY / 2));
        assert!(t.may_send(now + SEND_EVERY));
    }

    #[test]
    fn a_flood_of_notes_from_one_peer_is_reported_once_a_second() {
        let mut t = Typing::default();
        let now = Instant::now();
        let reported = (0..100).filter(|i| t.may_report("p1", now + Duration::from_millis(i * 15))).count();
        assert_eq!(reported, 2, "1.5 s of notes every 15 ms");
        assert!(t.may_report("p2", now), "each peer on its own");
        t.forget("p1");
        assert!(t.may_report("p1", now + Duration::from_millis(1_600)));
    }

    #[test]
    fn a_note_just_after_the_peers_line_is_a_late_one() {
        let mut t = Typing::default();
        let now = Instant::now();
        t.line_from("p1", now);
        assert!(!t.may_report("p1", now + Duration::from_millis(500)), "sent before the line, arrived after it");
        assert!(t.may_report("p1", now + AFTER_LINE), "writing the next line");
    }
}

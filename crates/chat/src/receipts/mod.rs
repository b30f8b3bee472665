//! Delivery receipts for chat lines sent peer to peer, as bookkeeping with no I/O and no
//! clock of its own (time is passed in).
//!
//! The "messages" channel is unordered with no retransmissions (the peer conventions), so
//! a line can vanish with no error from the engine: on a path that is being repaired, or
//! as the first message after an ICE restart. A peer that announced `receipts` in its
//! `hello` answers every copy of a chat line with `{"type":"ack","id"}`. Until that ack
//! comes, the sender sends the line again every [`RESEND`] on whatever channel to that
//! peer is open then, and after [`DEADLINE`] reports it as not delivered (at once when the
//! peer leaves). Receivers drop repeated ids, so a copy is never shown twice.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

pub(crate) mod task;

/// How long a line waits for its ack before it is sent again.
pub const RESEND: Duration = Duration::from_secs(1);
/// How long a line may stay unacknowledged before it is reported as not delivered.
pub const DEADLINE: Duration = Duration::from_secs(10);
/// Lines awaiting an ack, over all peers; a line beyond this is refused at once.
pub const MAX_PENDING: usize = 4096;

/// One line awaiting its ack from one peer.
struct Pending {
    wire: String,
    give_up: Instant,
    next: Instant,
}

/// What is due at a moment: copies to send again, and lines given up on.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Due {
    /// `(peer, wire)`: send this chat JSON again to this peer.
    pub resend: Vec<(String, String)>,
    /// `(peer, id)`: no ack came in time.
    pub expired: Vec<(String, String)>,
}

/// Lines awaiting acks, by `(peer, line id)`.
#[derive(Default)]
pub struct Receipts {
    pending: BTreeMap<(String, String), Pending>,
}

/// The ack table is full.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

impl Receipts {
    /// Starts waiting for `peer`'s ack of line `id`, sent as `wire` at `now`.
    pub fn track(&mut self, peer: &str, id: &str, wire: &str, now: Instant) -> Result<(), Full> {
        if self.pending.len() >= MAX_PENDING {
            return Err(Full);
        }
        let p = Pending { wire: wire.to_string(), give_up: now + DEADLINE, next: now + RESEND };
        self.pending.insert((peer.to_string(), id.to_string()), p);
        Ok(())
    }

    /// `peer`'s channel just opened: everything waiting for it (lines tracked while it had
    /// no open channel, and any not acked yet) is due now.
    pub fn kick(&mut self, peer: &str, now: Instant) {
        for ((p, _), line) in self.pending.iter_mut() {
            if p == peer {
                line.next = now;
            }
        }
    }

    /// An ack arrived; true if it settled a pending line (false for repeats and strays).
    pub fn ack(&mut self, peer: &str, id: &str) -> bool {
        self.pending.remove(&(peer.to_string(), id.to_string())).is_some()
    }

    /// Copies to send again and lines to give up on at `now`.
    pub fn due(&mut self, now: Instant) -> Due {
        let mut due = Due::default();
        let mut gone = Vec::new();
        for ((peer, id), p) in self.pending.iter_mut() {
            if p.give_up <= now {
                gone.push((peer.clone(), id.clone()));
            } else if p.next <= now {
                p.next = now + RESEND;
                due.resend.push((peer.clone(), p.wire.clone()));
            }
        }
        for key in gone {
            self.pending.remove(&key);
            due.expired.push(key);
        }
        due
    }

    /// The peer left: every line still waiting for it is undelivered; their ids.
    pub fn peer_gone(&mut self, peer: &str) -> Vec<String> {
        let keys: Vec<_> = self.pending.keys().filter(|(p, _)| p == peer).cloned().collect();
        keys.into_iter()
            .map(|k| {
                self.pending.remove(&k);
                k.1
            })
            .collect()
    }

    /// Removes every waiting line; their `(peer, id)`.
    pub fn drain(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.pending).into_keys().collect()
    }

    /// When `due` next has something to do.
    pub fn next_wake(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.next.min(p.give_up)).min()
    }

    /// Lines awaiting an ack.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn an_acked_line_is_settled_once_and_never_sent_again() {
        let (mut r, t) = (Receipts::default(), t0());
        r.track("bob", "a-1", "{json}", t).unwrap();
        assert!(r.ack("bob", "a-1"));
        assert!(!r.ack("bob", "a-1"), "a repeated ack settles nothing");
        assert!(!r.ack("eve", "a-1"), "an ack from another peer settles nothing");
        assert_eq!(r.due(t + DEADLINE * 2), Due::default());
        assert_eq!(r.next_wake(), None);
    }

    #[test]
    fn an_unacked_line_is_resent_every_interval_then_expires_at_the_deadline() {
        let (mut r, t) = (Receipts::default(), t0());
        r.track("bob", "a-1", "{json}", t).unwrap();
        assert_eq!(r.next_wake(), Some(t + RESEND));
        assert_eq!(r.due(t + RESEND / 2), Due::default(), "nothing is due early");
        let d = r.due(t + RESEND);
        assert_eq!(d.resend, vec![("bob".to_string(), "{json}".to_string())]);
        assert_eq!(r.due(t + RESEND + RESEND / 2), Due::default(), "one copy per interval");
        assert_eq!(r.due(t + RESEND * 2).resend.len(), 1);
        let d = r.due(t + DEADLINE);
        assert_eq!(d.expired, vec![("bob".to_string(), "a-1".to_string())]);
        assert!(d.resend.is_empty());
        assert!(r.is_empty());
        assert!(!r.ack("bob", "a-1"), "a late ack after the report settles nothing");
    }

    #[test]
    fn a_kick_makes_one_peers_lines_due_at_once() {
        let (mut r, t) = (Receipts::default(), t0());
        r.track("bob", "a-1", "x", t).unwrap();
        r.track("cy", "a-2", "y", t).unwrap();
        assert_eq!(r.due(t), Due::default(), "a queued line waits for its peer's channel");
        r.kick("bob", t + RESEND / 10);
        assert_eq!(r.next_wake(), Some(t + RESEND / 10));
        let d = r.due(t + RESEND / 10);
        assert_eq!(d.resend, vec![("bob".to_string(), "x".to_string())]);
        assert_eq!(r.due(t + RESEND / 5), Due::default(), "then the usual interval again");
    }

    #[test]
    fn a_peer_that_leaves_takes_only_its_own_lines() {
        let (mut r, t) = (Receipts::default(), t0());
        r.track("bob", "a-1", "x", t).unwrap();
        r.track("bob", "a-2", "y", t).unwrap();
        r.track("cy", "a-1", "x", t).unwrap();
        let mut gone = r.peer_gone("bob");
        gone.sort();
        assert_eq!(gone, vec!["a-1", "a-2"]);
        assert_eq!(r.len(), 1);
        assert!(r.peer_gone("bob").is_empty());
        assert!(r.ack("cy", "a-1"));
    }

    #[test]
    fn the_table_is_bounded() {
        let (mut r, t) = (Receipts::default(), t0());
        for i in 0..MAX_PENDING {
            r.track("bob", &i.to_string(), "x", t).unwrap();
        }
        assert_eq!(r.track("bob", "one-more", "x", t), Err(Full));
        assert!(r.ack("bob", "0"));
        r.track("bob", "one-more", "x", t).unwrap();
    }
}

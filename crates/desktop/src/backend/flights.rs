//! Lines of the outbox on their way to a member who came back, as bookkeeping with no
//! I/O: which line went to which peer (so a line is not sent twice while its receipt is
//! awaited, and a receipt or a failure is known to be the outbox's), and under which
//! member key the receipt settles it.

use std::collections::{HashMap, HashSet};

/// Outbox lines sent and not settled yet, per peer id.
#[derive(Debug, Default)]
pub(crate) struct Flights {
    peers: HashMap<String, Flight>,
}

#[derive(Debug)]
struct Flight {
    key: String,
    lines: HashSet<String>,
}

impl Flights {
    /// Line `line` is about to go to `peer` (member `key`); false when it is on its way
    /// to that peer already (do not send it again).
    pub(crate) fn start(&mut self, peer: &str, key: &str, line: &str) -> bool {
        let f = self
            .peers
            .entry(peer.to_string())
            .or_insert_with(|| Flight { key: key.to_string(), lines: HashSet::new() });
        if f.key != key {
            // The same peer id with another certificate: a new session of someone else.
            *f = Flight { key: key.to_string(), lines: HashSet::new() };
        }
        f.lines.insert(line.to_string())
    }

    /// A receipt or a failure for `line` from `peer`: the member key, if it was an outbox
    /// line on its way to them (it is no longer).
    pub(crate) fn settle(&mut self, peer: &str, line: &str) -> Option<String> {
        let f = self.peers.get_mut(peer)?;
        if !f.lines.remove(line) {
            return None;
        }
        let key = f.key.clone();
        if f.lines.is_empty() {
            self.peers.remove(peer);
        }
        Some(key)
    }

    /// Outbox lines on their way to `peer` now.
    pub(crate) fn in_flight(&self, peer: &str) -> usize {
        self.peers.get(peer).map_or(0, |f| f.lines.len())
    }

    /// `peer` left: nothing is on its way to it any more (what was stays in the outbox).
    pub(crate) fn peer_gone(&mut self, peer: &str) {
        self.peers.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_on_its_way_is_not_sent_twice_and_its_receipt_names_the_member() {
        let mut f = Flights::default();
        assert!(f.start("p1", "K", "a-1"));
        assert!(!f.start("p1", "K", "a-1"), "already on its way");
        assert!(f.start("p1", "K", "a-2"));
        assert_eq!(f.in_flight("p1"), 2);
        assert_eq!(f.settle("p1", "a-1").as_deref(), Some("K"));
        assert_eq!(f.in_flight("p1"), 1);
        assert_eq!(f.settle("p1", "a-1"), None, "a second receipt is not the outbox's");
        assert_eq!(f.settle("p2", "a-2"), None, "another peer's receipt");
        assert!(f.start("p1", "K", "a-1"), "after a failure the line may go again");
    }

    #[test]
    fn lines_of_a_peer_that_left_may_go_again_when_it_returns() {
        let mut f = Flights::default();
        f.start("p1", "K", "a-1");
        f.peer_gone("p1");
        assert_eq!(f.settle("p1", "a-1"), None);
        assert!(f.start("p9", "K", "a-1"));
    }

    #[test]
    fn a_peer_id_showing_another_certificate_starts_afresh() {
        let mut f = Flights::default();
        f.start("p1", "K", "a-1");
        assert!(f.start("p1", "L", "a-1"));
        assert_eq!(f.settle("p1", "a-1").as_deref(), Some("L"));
    }
}

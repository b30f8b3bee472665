//! When a peer's path is news for the person, as bookkeeping with no I/O.
//!
//! The SDK publishes the path as a watch value: `None` while not connected, then the
//! selected pair, with the RTT one ping later. A watch only keeps the latest value, so a
//! reader can miss a short `None` between two connections over the same pair. The UI
//! forgets the path when the peer leaves `connected`, so the path must be said again on
//! every new `connected`, after that state change: this is decided here from the state
//! the session reported, not from the watch, and both are reported by one task in order.

use peerchat_peer::PathInfo;

/// What the session last said about one peer's path.
#[derive(Debug, Default)]
pub(crate) struct PathReport {
    connected: bool,
    said: Option<PathInfo>,
}

impl PathReport {
    /// The session reported a state change (`connected` or anything else).
    pub(crate) fn state(&mut self, connected: bool) {
        if !connected {
            self.said = None;
        }
        self.connected = connected;
    }

    /// The SDK's path now; returns the path to report, if it is news: the first path of
    /// a connection, another pair, or the first RTT of the pair.
    pub(crate) fn path(&mut self, now: Option<&PathInfo>) -> Option<PathInfo> {
        let Some(now) = now.filter(|_| self.connected) else {
            // Not connected (or not yet known): whatever comes next is news.
            self.said = None;
            return None;
        };
        let news = match &self.said {
            None => true,
            Some(said) => !said.same_pair(now) || (said.rtt.is_none() && now.rtt.is_some()),
        };
        if !news {
            return None;
        }
        self.said = Some(now.clone());
        Some(now.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use peerchat_peer::CandidateKind;

    use super::*;

    fn path(remote: &str, rtt_ms: Option<u64>) -> PathInfo {
        PathInfo {
            local: CandidateKind::Host,
            remote: CandidateKind::Host,
            protocol: "udp".into(),
            local_address: "10.0.0.1:5000".into(),
            remote_address: remote.into(),
            rtt: rtt_ms.map(Duration::from_millis),
            bytes_sent: 0,
            bytes_received: 0,
        }
    }

    #[test]
    fn says_the_path_once_connected_then_once_more_when_the_rtt_arrives() {
        let mut r = PathReport::default();
        assert_eq!(r.path(Some(&path("a:1", None))), None, "not connected yet");
        r.state(true);
        assert!(r.path(Some(&path("a:1", None))).is_some());
        assert_eq!(r.path(Some(&path("a:1", None))), None);
        let with_rtt = r.path(Some(&path("a:1", Some(3)))).unwrap();
        assert_eq!(with_rtt.rtt, Some(Duration::from_millis(3)));
        assert_eq!(r.path(Some(&path("a:1", Some(4)))), None, "a later RTT is not news");
    }

    #[test]
    fn says_the_same_pair_again_after_a_reconnection_the_watch_hid() {
        let mut r = PathReport::default();
        r.state(true);
        assert!(r.path(Some(&path("a:1", Some(3)))).is_some());
        // The SDK went None and back to the same pair before the reader looked: only the
        // state changes show the reconnection.
        r.state(false);
        r.state(true);
        let again = r.path(Some(&path("a:1", Some(3)))).expect("said again");
        assert_eq!(again.remote_address, "a:1");
    }

    #[test]
    fn says_a_new_pair_and_nothing_while_not_connected() {
        let mut r = PathReport::default();
        r.state(true);
        assert!(r.path(Some(&path("a:1", Some(3)))).is_some());
        assert!(r.path(Some(&path("b:2", Some(3)))).is_some(), "another pair");
        r.state(false);
        assert_eq!(r.path(Some(&path("b:2", Some(3)))), None, "a stale path while reconnecting");
        assert_eq!(r.path(None), None);
    }

    #[test]
    fn a_path_withdrawn_while_connected_is_said_again_when_it_returns() {
        let mut r = PathReport::default();
        r.state(true);
        assert!(r.path(Some(&path("a:1", Some(3)))).is_some());
        assert_eq!(r.path(None), None);
        assert!(r.path(Some(&path("a:1", Some(3)))).is_some());
    }
}

//! Per-key quotas (`messages_per_period`, `signals_per_period`): on a single node a
//! fixed window that starts at the key's first event; in a cluster a window aligned to
//! Unix time (window `n` covers `[n·period, (n+1)·period)`), so every instance counts the
//! same window and Redis adds their counts up. Sans-IO: times are passed in, and syncing
//! is a pair of calls the hub makes around a Redis round trip.

use std::time::Duration;

use tokio::time::Instant;

use crate::rate::FixedWindow;

/// A quota counted here alone, or shared with the other instances of a cluster.
#[derive(Debug, Clone)]
pub enum Quota {
    Local(FixedWindow),
    Shared(SharedWindow),
}

impl Quota {
    /// A quota of `limit` per `period`, shared when `clustered`.
    pub fn new(limit: u64, period: Duration, clustered: bool) -> Self {
        if clustered {
            Quota::Shared(SharedWindow::new(limit, period))
        } else {
            Quota::Local(FixedWindow::new(limit, period))
        }
    }

    /// Counts one event; false (and not counted) when the quota is used up.
    pub fn take(&mut self, now: Instant, unix: Duration) -> bool {
        match self {
            Quota::Local(w) => w.take(now),
            Quota::Shared(w) => w.take(unix),
        }
    }

    /// Changes the limits (a reload), keeping what was counted.
    pub fn set_limits(&mut self, limit: u64, period: Duration) {
        match self {
            Quota::Local(w) => w.set_limits(limit, period),
            Quota::Shared(w) => {
                w.limit = limit;
                w.period_secs = period.as_secs().max(1);
            }
        }
    }
}

/// What an instance has to add to the cluster's count of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaDelta {
    pub window: u64,
    pub delta: u64,
    /// Everything this instance will have added to the window once this is added.
    pub through: u64,
    pub period_secs: u64,
}

/// A quota window shared by the instances of a cluster.
#[derive(Debug, Clone)]
pub struct SharedWindow {
    limit: u64,
    period_secs: u64,
    window: u64,
    /// Events counted here in this window.
    here: u64,
    /// Of those, how many were sent to Redis.
    sent: u64,
    /// The other instances' count, as of the last answer from Redis.
    others: u64,
}

impl SharedWindow {
    pub fn new(limit: u64, period: Duration) -> Self {
        SharedWindow { limit, period_secs: period.as_secs().max(1), window: 0, here: 0, sent: 0, others: 0 }
    }

    fn roll(&mut self, unix: Duration) {
        let w = unix.as_secs() / self.period_secs;
        if w != self.window {
            *self = SharedWindow { window: w, ..SharedWindow::new(self.limit, Duration::from_secs(self.period_secs)) };
        }
    }

    /// Counts one event unless this instance's and the others' counts reach the limit.
    pub fn take(&mut self, unix: Duration) -> bool {
        self.roll(unix);
        if self.here + self.others < self.limit {
            self.here += 1;
            true
        } else {
            false
        }
    }

    /// What to add to Redis now, if anything (it then counts as sent).
    pub fn delta(&mut self) -> Option<QuotaDelta> {
        let delta = self.here - self.sent;
        if delta == 0 {
            return None;
        }
        self.sent = self.here;
        Some(QuotaDelta { window: self.window, delta, through: self.sent, period_secs: self.period_secs })
    }

    /// Redis's total for `window` after adding up to `through` of ours.
    pub fn synced(&mut self, window: u64, total: u64, through: u64) {
        if window == self.window {
            self.others = self.others.max(total.saturating_sub(through));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn two_instances_share_one_limit_once_synced() {
        let (mut a, mut b) = (SharedWindow::new(10, at(60)), SharedWindow::new(10, at(60)));
        assert_eq!((0..6).filter(|_| a.take(at(120))).count(), 6);
        let da = a.delta().unwrap();
        assert_eq!((da.window, da.delta, da.through), (2, 6, 6));
        // Redis: a adds 6 (total 6); b adds its 3 (total 9).
        a.synced(2, 6, 6);
        assert_eq!((0..3).filter(|_| b.take(at(130))).count(), 3);
        let db = b.delta().unwrap();
        b.synced(db.window, 9, db.through);
        assert_eq!((0..5).filter(|_| b.take(at(131))).count(), 1, "b knows a used 6: one left of 10");
        a.synced(2, 10, 6);
        assert!(!a.take(at(132)), "a knows the others used 4");
    }

    #[test]
    fn a_new_window_starts_from_zero_everywhere() {
        let mut a = SharedWindow::new(2, at(10));
        assert!(a.take(at(5)) && a.take(at(6)) && !a.take(at(9)));
        a.synced(0, 5, 2);
        assert!(a.take(at(10)), "window 1 starts empty");
        assert_eq!(a.delta().map(|d| (d.window, d.delta)), Some((1, 1)));
        a.synced(0, 100, 2);
        assert!(a.take(at(11)), "an answer about an old window changes nothing");
    }

    #[test]
    fn nothing_to_send_when_nothing_was_counted_since() {
        let mut a = SharedWindow::new(5, at(10));
        assert!(a.delta().is_none());
        a.take(at(1));
        assert!(a.delta().is_some());
        assert!(a.delta().is_none());
    }
}

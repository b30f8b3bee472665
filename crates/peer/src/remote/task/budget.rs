//! How many offers one remote peer may make us act on. Each offer costs this side a
//! connection (for a new generation: a whole new one), an answer and candidates, so a
//! peer sending offers with an ever-rising generation would keep us rebuilding for as
//! long as it likes. Beyond the budget only the newest offer is kept, and acted on when
//! the budget allows (a flood collapses into one). An offer that ends in a working
//! connection is given back: a pair that repairs its path often, and each time gets it
//! working again, is never slowed (the other side paid for a whole connection too), while
//! offers that never connect still cost their budget. No I/O: time is passed in.

use std::time::Duration;

use tokio::time::Instant;

/// Offers acted on at once.
pub(crate) const OFFER_BURST: u32 = 8;
/// One more offer is allowed after each interval.
pub(crate) const OFFER_REFILL: Duration = Duration::from_secs(2);

/// The budget of one remote peer's offers.
#[derive(Debug)]
pub(crate) struct OfferBudget {
    left: u32,
    since: Instant,
    /// Offers dropped since the last one acted on (for the log).
    dropped: u64,
}

impl OfferBudget {
    pub(crate) fn new(now: Instant) -> OfferBudget {
        OfferBudget { left: OFFER_BURST, since: now, dropped: 0 }
    }

    /// Whether an offer arriving at `now` may be acted on; counts it if so.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let intervals = now.saturating_duration_since(self.since).as_millis() / OFFER_REFILL.as_millis();
        let earned = u32::try_from(intervals).unwrap_or(u32::MAX).min(OFFER_BURST);
        if earned > 0 {
            self.left = (self.left + earned).min(OFFER_BURST);
            // A full budget earns nothing more: its next interval starts now.
            self.since = if self.left == OFFER_BURST { now } else { self.since + OFFER_REFILL * earned };
        }
        if self.left == 0 {
            self.dropped += 1;
            return false;
        }
        self.left -= 1;
        self.dropped = 0;
        true
    }

    /// A connection came up (the offer it answered, if any, cost nothing worth limiting):
    /// one offer more may be acted on, up to the burst.
    pub(crate) fn refund(&mut self) {
        self.left = (self.left + 1).min(OFFER_BURST);
    }

    /// When the next offer may be acted on, if none may now.
    pub(crate) fn next_at(&self) -> Option<Instant> {
        (self.left == 0).then(|| self.since + OFFER_REFILL)
    }

    /// Offers refused in a row so far (1 on the first).
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_acted_on_then_one_offer_per_interval() {
        let t0 = Instant::now();
        let mut b = OfferBudget::new(t0);
        assert_eq!((0..100).filter(|_| b.take(t0)).count(), OFFER_BURST as usize);
        assert_eq!(b.dropped(), 100 - u64::from(OFFER_BURST));
        assert!(!b.take(t0 + OFFER_REFILL / 2));
        assert!(b.take(t0 + OFFER_REFILL));
        assert!(!b.take(t0 + OFFER_REFILL));
        assert_eq!((0..100).filter(|_| b.take(t0 + OFFER_REFILL * 3)).count(), 2);
    }

    #[test]
    fn offers_that_end_in_a_working_connection_are_given_back_up_to_the_burst() {
        let t0 = Instant::now();
        let mut b = OfferBudget::new(t0);
        for i in 0..3 * OFFER_BURST {
            assert!(b.take(t0), "offer {i}, each followed by a connection that came up");
            b.refund();
        }
        for _ in 0..4 {
            b.refund();
        }
        assert_eq!((0..100).filter(|_| b.take(t0)).count(), OFFER_BURST as usize, "never more than the burst");
        assert_eq!(b.next_at(), Some(t0 + OFFER_REFILL));
    }

    #[test]
    fn a_quiet_peer_gets_its_whole_burst_back_and_no_more() {
        let t0 = Instant::now();
        let mut b = OfferBudget::new(t0);
        assert!(b.take(t0));
        let later = t0 + Duration::from_secs(3600);
        assert_eq!((0..100).filter(|_| b.take(later)).count(), OFFER_BURST as usize);
        assert!(!b.take(later));
        assert!(b.take(later + OFFER_REFILL), "the refill restarts from the time the burst was full");
    }
}

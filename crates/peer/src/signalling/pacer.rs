//! Pacing the frames this client sends under the limits the server announced in
//! `welcome` (a token bucket like the server's, with a margin), so a burst such as
//! joining a big room (a greeting, an offer and candidates per member) is spread out
//! instead of closed with 4011. No I/O: time is passed in.

use std::time::Duration;

use peerchat_protocol::Limits;
use tokio::time::Instant;

/// The server's defaults, for a `welcome` without `limits` (older servers).
const DEFAULT_RATE: u32 = 100;
const DEFAULT_BURST: u32 = 200;
/// Share of the announced rate and burst used: arrival times jitter, and a few frames
/// (pongs of the app, say) may go out unpaced.
const MARGIN: f64 = 0.9;

/// A token bucket for outgoing frames.
#[derive(Debug)]
pub(crate) struct Pacer {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Pacer {
    /// A full bucket for a connection welcomed at `now`.
    pub(crate) fn new(limits: Option<Limits>, now: Instant) -> Pacer {
        let (rate, burst) = limits.map_or((DEFAULT_RATE, DEFAULT_BURST), |l| (l.rate_per_sec, l.rate_burst));
        let rate = (f64::from(rate) * MARGIN).max(1.0);
        let burst = (f64::from(burst) * MARGIN).floor().max(1.0);
        Pacer { rate, burst, tokens: burst, last: now }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
    }

    /// `None` when a frame may go now; otherwise when the next one may.
    pub(crate) fn next_slot(&mut self, now: Instant) -> Option<Instant> {
        self.refill(now);
        // Rounding must not leave a sender a hair short of its token at the slot given.
        if self.tokens >= 1.0 - 1e-9 {
            return None;
        }
        Some(now + Duration::from_secs_f64((1.0 - self.tokens) / self.rate) + Duration::from_nanos(1))
    }

    /// Counts one frame sent at `now`.
    pub(crate) fn take(&mut self, now: Instant) {
        self.refill(now);
        self.tokens = (self.tokens - 1.0).max(-self.burst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: u32, burst: u32) -> Option<Limits> {
        Some(Limits { rate_per_sec: rate, rate_burst: burst, room_changes_per_min: 60, room_changes_burst: 64 })
    }

    /// Frames sent in `window` by a sender that sends whenever the pacer lets it.
    fn sent_within(p: &mut Pacer, start: Instant, window: Duration) -> usize {
        let mut now = start;
        let mut sent = 0;
        while now <= start + window {
            match p.next_slot(now) {
                None => {
                    p.take(now);
                    sent += 1;
                }
                Some(at) => now = at,
            }
        }
        sent
    }

    #[test]
    fn a_burst_then_the_rate_always_under_what_the_server_allows() {
        let t0 = Instant::now();
        let mut p = Pacer::new(limits(100, 200), t0);
        let first = sent_within(&mut p, t0, Duration::ZERO);
        assert_eq!(first, 180, "90 % of the burst at once");
        let next = sent_within(&mut p, t0 + Duration::from_millis(1), Duration::from_secs(10));
        // The server would take 200 + 100/s × 10 s; we stay under it by the margin.
        assert!((895..=905).contains(&next), "{next} in the next 10 s");
    }

    #[test]
    fn the_next_slot_is_when_a_whole_token_is_back() {
        let t0 = Instant::now();
        let mut p = Pacer::new(limits(10, 1), t0);
        assert_eq!(p.next_slot(t0), None);
        p.take(t0);
        let at = p.next_slot(t0).expect("empty");
        let wait = at - t0;
        assert!(wait > Duration::from_millis(105) && wait < Duration::from_millis(116), "{wait:?} at 9/s");
        assert_eq!(p.next_slot(at), None);
    }

    #[test]
    fn an_older_server_without_limits_gets_the_default_ones_and_tiny_limits_still_flow() {
        let t0 = Instant::now();
        assert_eq!(sent_within(&mut Pacer::new(None, t0), t0, Duration::ZERO), 180);
        assert_eq!(sent_within(&mut Pacer::new(limits(1, 1), t0), t0, Duration::ZERO), 1);
    }
}

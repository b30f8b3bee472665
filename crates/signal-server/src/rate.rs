//! Token bucket for the per-connection message rate. Time is passed in, so it is tested
//! without sleeping.

use std::time::Duration;
use tokio::time::Instant;

/// A token bucket: `rate` tokens per second, at most `burst` saved up.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate_per_sec: u32, burst: u32, now: Instant) -> Self {
        TokenBucket { rate: f64::from(rate_per_sec), burst: f64::from(burst), tokens: f64::from(burst), last: now }
    }

    /// A full bucket refilled by `per_minute` tokens a minute.
    pub fn per_minute(per_minute: u32, burst: u32, now: Instant) -> Self {
        TokenBucket { rate: f64::from(per_minute) / 60.0, burst: f64::from(burst), tokens: f64::from(burst), last: now }
    }

    /// Takes one token; false when the bucket is empty.
    pub fn take(&mut self, now: Instant) -> bool {
        self.take_n(1, now)
    }

    /// Takes `n` tokens at once, or none (false) when fewer are left.
    pub fn take_n(&mut self, n: u32, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate).min(self.burst);
        if self.tokens >= f64::from(n) {
            self.tokens -= f64::from(n);
            true
        } else {
            false
        }
    }
}

/// A fixed-window counter for per-key message quotas.
#[derive(Debug, Clone)]
pub struct FixedWindow {
    limit: u64,
    period: Duration,
    start: Option<Instant>,
    used: u64,
}

impl FixedWindow {
    /// `limit` events per `period`; the first window starts at the first event.
    pub fn new(limit: u64, period: Duration) -> Self {
        FixedWindow { limit, period, start: None, used: 0 }
    }

    /// Counts one event; false (and not counted) when the window's limit is reached.
    pub fn take(&mut self, now: Instant) -> bool {
        match self.start {
            Some(s) if now.saturating_duration_since(s) < self.period => {}
            _ => {
                self.start = Some(now);
                self.used = 0;
            }
        }
        if self.used < self.limit {
            self.used += 1;
            true
        } else {
            false
        }
    }

    /// Changes the limits, keeping the current window's count.
    pub fn set_limits(&mut self, limit: u64, period: Duration) {
        self.limit = limit;
        self.period = period;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_sustained_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100, 200, t0);
        assert_eq!((0..300).filter(|_| b.take(t0)).count(), 200);
        assert!(!b.take(t0));
        assert_eq!((0..300).filter(|_| b.take(t0 + Duration::from_millis(500))).count(), 50);
        assert_eq!((0..300).filter(|_| b.take(t0 + Duration::from_secs(100))).count(), 200);
    }

    #[test]
    fn a_per_minute_bucket_takes_several_tokens_at_once_or_none() {
        let t0 = Instant::now();
        let mut b = TokenBucket::per_minute(60, 10, t0);
        assert!(b.take_n(8, t0));
        assert!(!b.take_n(3, t0), "two are left: none is taken");
        assert!(b.take_n(2, t0));
        assert!(!b.take(t0));
        assert!(b.take(t0 + Duration::from_secs(1)), "one a second");
        assert!(!b.take_n(11, t0 + Duration::from_secs(600)), "never more than the burst");
    }

    #[test]
    fn window_resets_after_period() {
        let t0 = Instant::now();
        let mut w = FixedWindow::new(3, Duration::from_secs(10));
        assert_eq!((0..5).filter(|_| w.take(t0)).count(), 3);
        assert!(!w.take(t0 + Duration::from_secs(9)));
        assert!(w.take(t0 + Duration::from_secs(10)));
    }
}

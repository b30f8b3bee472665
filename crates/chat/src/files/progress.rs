//! When to report a transfer's progress (at most four times a second, and at once when
//! it starts or resumes), with its rate (averaged over the last few reports) and the
//! time left at that rate. No I/O: time is passed in.

use std::time::Duration;

use tokio::time::Instant;

/// Least time between two progress reports.
pub(crate) const EVERY: Duration = Duration::from_millis(250);
/// Weight of the newest interval in the averaged rate.
const NEWEST: f64 = 0.3;

/// A transfer's progress as reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Report {
    pub bytes: u64,
    pub size: u64,
    /// Bytes per second.
    pub rate: u64,
    /// Time left at that rate.
    pub eta_ms: Option<u64>,
}

#[derive(Debug, Default)]
pub(crate) struct Progress {
    last: Option<(Instant, u64)>,
    rate: f64,
}

impl Progress {
    /// The report due at `now` for `bytes` of `size`, if one is.
    pub(crate) fn at(&mut self, now: Instant, bytes: u64, size: u64) -> Option<Report> {
        if let Some((t, b)) = self.last {
            let dt = now.saturating_duration_since(t);
            if dt < EVERY && bytes != size {
                return None;
            }
            if bytes < b {
                // Resumed from an earlier point: the rate starts again.
                self.rate = 0.0;
            } else if dt > Duration::ZERO {
                let now_rate = (bytes - b) as f64 / dt.as_secs_f64();
                self.rate = if self.rate == 0.0 { now_rate } else { NEWEST * now_rate + (1.0 - NEWEST) * self.rate };
            }
        }
        self.last = Some((now, bytes));
        let eta_ms = (self.rate > 0.0).then(|| ((size - bytes.min(size)) as f64 / self.rate * 1000.0) as u64);
        Some(Report { bytes, size, rate: self.rate as u64, eta_ms })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_spaced_and_carry_rate_and_time_left() {
        let t0 = Instant::now();
        let mut p = Progress::default();
        let first = p.at(t0, 0, 1000).unwrap();
        assert_eq!((first.rate, first.eta_ms), (0, None));
        assert_eq!(p.at(t0 + Duration::from_millis(100), 50, 1000), None, "too soon");
        let r = p.at(t0 + Duration::from_millis(500), 500, 1000).unwrap();
        assert_eq!(r.rate, 1000);
        assert_eq!(r.eta_ms, Some(500));
        assert!(p.at(t0 + Duration::from_millis(510), 1000, 1000).is_some(), "the end is always reported");
    }

    #[test]
    fn a_resume_from_an_earlier_point_restarts_the_rate() {
        let t0 = Instant::now();
        let mut p = Progress::default();
        p.at(t0, 0, 1000);
        p.at(t0 + Duration::from_secs(1), 600, 1000);
        let r = p.at(t0 + Duration::from_secs(2), 400, 1000).unwrap();
        assert_eq!((r.rate, r.eta_ms), (0, None));
    }
}

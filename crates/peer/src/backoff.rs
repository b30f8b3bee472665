//! Reconnect delays: exponential with jitter, capped. Pure: the random factor is passed
//! in, so delays are tested exactly.

use std::time::Duration;

use crate::options::ReconnectPolicy;

/// Delay before attempt `attempt` (1-based), with `unit` a random number in [0, 1).
pub fn delay(policy: &ReconnectPolicy, attempt: u32, unit: f64) -> Duration {
    let exp = policy.multiplier.powi(attempt.saturating_sub(1).min(64) as i32);
    let base = (policy.initial_delay.as_secs_f64() * exp).min(policy.max_delay.as_secs_f64());
    let spread = 1.0 + policy.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
    Duration::from_secs_f64((base * spread).clamp(0.0, policy.max_delay.as_secs_f64() * (1.0 + policy.jitter)))
}

/// Delay before attempt `attempt`, with fresh randomness.
pub fn next_delay(policy: &ReconnectPolicy, attempt: u32) -> Duration {
    delay(policy, attempt, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_then_caps_with_jitter_bounds() {
        let p = ReconnectPolicy::default();
        assert_eq!(delay(&p, 1, 0.5), Duration::from_millis(500));
        assert_eq!(delay(&p, 2, 0.5), Duration::from_secs(1));
        assert_eq!(delay(&p, 3, 0.5), Duration::from_secs(2));
        assert_eq!(delay(&p, 10, 0.5), Duration::from_secs(30));
        assert_eq!(delay(&p, 1000, 0.5), Duration::from_secs(30));
        assert_eq!(delay(&p, 1, 0.0), Duration::from_millis(400));
        assert_eq!(delay(&p, 1, 1.0), Duration::from_millis(600));
    }
}

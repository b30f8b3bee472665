//! Waiting for a condition instead of sleeping a fixed time: [`until`] polls a probe
//! until it holds, and fails the test naming what it waited for when it does not in time.

use std::future::Future;
use std::time::Duration;

/// How often [`until`] asks again.
const EVERY: Duration = Duration::from_millis(20);

/// Polls `probe` until it returns `Some`, and returns that; panics naming `what` if it
/// has not after `within`.
pub async fn until<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("{what}: not within {within:?}");
        }
        tokio::time::sleep(EVERY).await;
    }
}

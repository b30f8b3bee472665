//! What the chat crate's tests share: waiting for the chat event a test expects.
#![allow(dead_code)]

use std::time::Duration;

use peerchat_chat::{ChatEvent, ChatEvents};

/// Logs to the test's captured output as `RUST_LOG` says (nothing when it is unset).
pub fn logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "off".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
}

/// How long a test waits for any one event.
pub const WAIT: Duration = Duration::from_secs(20);

/// The next event that `f` accepts (earlier ones are skipped); fails the test if none
/// comes within [`WAIT`] or the events end.
pub async fn next_matching(events: &mut ChatEvents, f: impl Fn(&ChatEvent) -> bool) -> ChatEvent {
    let mut skipped = Vec::new();
    let found = tokio::time::timeout(WAIT, async {
        loop {
            let ev = events.next().await.expect("events ended");
            if f(&ev) {
                return ev;
            }
            skipped.push(ev);
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("the event did not arrive; skipped {skipped:#?}"))
}

//! What the chat crate's tests share: waiting for the chat event a test expects.

use std::time::Duration;

use peerchat_chat::{ChatEvent, ChatEvents};

/// How long a test waits for any one event.
pub const WAIT: Duration = Duration::from_secs(20);

/// The next event that `f` accepts (earlier ones are skipped); fails the test if none
/// comes within [`WAIT`] or the events end.
pub async fn next_matching(events: &mut ChatEvents, f: impl Fn(&ChatEvent) -> bool) -> ChatEvent {
    tokio::time::timeout(WAIT, async {
        loop {
            let ev = events.next().await.expect("events ended");
            if f(&ev) {
                return ev;
            }
        }
    })
    .await
    .expect("event did not arrive")
}

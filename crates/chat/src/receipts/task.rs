//! The I/O around [`Receipts`](super::Receipts): a task that sleeps until the next line is
//! due, sends due copies again on whatever channel to that peer is open then, and reports
//! the lines whose deadline passed. Ends with the session.

use std::sync::Arc;

use super::DEADLINE;
use crate::event::{ChatEvent, Problem};
use crate::shared::Inner;

/// Sends lines that wait for an ack again, on whatever channel is open at the time, and
/// reports the ones whose deadline passed. Ends with the session.
pub(crate) async fn drive(inner: Arc<Inner>) {
    loop {
        let wake = inner.lock().receipts.next_wake();
        tokio::select! {
            _ = sleep_until_opt(wake) => {}
            _ = inner.receipts_changed.notified() => continue,
            _ = inner.cancel.cancelled() => return,
        }
        let due = inner.lock().receipts.due(tokio::time::Instant::now());
        for (peer, wire) in due.resend {
            inner.send_soon(&peer, wire);
        }
        for (peer, id) in due.expired {
            let msg = format!("a line was not delivered to {peer}: no receipt within {}s", DEADLINE.as_secs());
            inner.emit(ChatEvent::undelivered(Problem::NotDelivered.kind(), msg, &peer, &id)).await;
        }
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

//! Failover of the local server: several app processes of one user share the embedded
//! server on the fixed port, run by whichever started first. When that process quits,
//! the sessions of the others lose their signalling socket; [`takes_over_on`] is the
//! policy that says when this process then tries to take the port over, with the same
//! key and resume secret, so every session reconnects and resumes.

use std::time::Duration;

use peerchat_chat::ChatEvent;
use peerchat_peer::SignallingState;

use super::Backend;
use crate::embedded::Embedded;

/// How often, and how many times, a process tries to take the local server over.
const ADOPT_EVERY: Duration = Duration::from_millis(500);
const ADOPT_TRIES: u32 = 30;

/// Whether `ev`, seen by a session on the local server (`local`), should make this
/// process try to take the server over: its signalling socket dropped.
pub(crate) fn takes_over_on(local: bool, ev: &ChatEvent) -> bool {
    local && matches!(ev, ChatEvent::Signalling { state: SignallingState::Reconnecting })
}

impl Backend {
    /// Called when a session on the local server lost its socket: if another process ran
    /// that server and has quit, this process takes the port over, with the same key and
    /// resume secret, so the sessions of both reconnect and resume. Tries for a while,
    /// since the old server needs a moment to drain.
    pub(crate) async fn adopt_local_server(&self) {
        for _ in 0..ADOPT_TRIES {
            {
                let mut slot = self.embedded.lock().await;
                let Some(current) = slot.as_ref() else { return };
                if current.is_owner() {
                    return;
                }
                if let Some(e) = current.take_over(self.config.local_port).await {
                    tracing::info!(url = %e.url, "took over the local server from a process that quit");
                    *slot = Some(e);
                    return;
                }
            }
            tokio::time::sleep(ADOPT_EVERY).await;
        }
    }

    /// Whether this process runs the local server (`None`: not started).
    pub async fn local_server_is_ours(&self) -> Option<bool> {
        self.embedded.lock().await.as_ref().map(Embedded::is_owner)
    }
}

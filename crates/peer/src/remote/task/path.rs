//! The path of the connection, published while connected: the selected candidate pair
//! and bytes from the engine, the RTT from the routine control pings; and the
//! fingerprints that protect it.

use std::time::Duration;

use super::{Connection, Task};
use crate::remote::PeerState;

/// Pongs later than this are not an RTT (a ping from before an outage).
const MAX_RTT: Duration = Duration::from_secs(30);

impl Task {
    /// Publishes the fingerprints once a connection has both; a connection being set up
    /// does not hide the last known ones.
    pub(super) fn follow_security(&self) {
        let Some(now) = self.conn.as_ref().and_then(Connection::security) else { return };
        self.security_tx.send_if_modified(|s| {
            if s.as_ref() == Some(&now) {
                return false;
            }
            if s.as_ref().is_some_and(|s| s.remote != now.remote) {
                tracing::warn!(peer = %self.id, "the other side's certificate fingerprint changed");
            }
            *s = Some(now);
            true
        });
    }

    /// After every event: publish the path once connected, withdraw it otherwise.
    pub(super) async fn follow_path(&mut self) {
        let published = self.path_tx.borrow().is_some();
        match (self.rec.state() == PeerState::Connected, published) {
            (true, false) => {
                self.refresh_path().await;
                // The RTT is known one round trip after connecting, not one ping later.
                self.send_routine_ping().await;
            }
            (false, true) => {
                self.last_ping = None;
                let _ = self.path_tx.send(None);
            }
            _ => {}
        }
    }

    /// Reads the selected pair and byte counters again (a renominated pair shows here).
    pub(super) async fn refresh_path(&mut self) {
        if self.rec.state() != PeerState::Connected {
            return;
        }
        let Some(conn) = &self.conn else { return };
        let Some(mut path) = conn.path().await else { return };
        path.rtt = self.path_tx.borrow().as_ref().and_then(|p| p.rtt);
        self.path_tx.send_replace(Some(path));
    }

    /// The pong of the latest routine ping: its round trip is the path's RTT.
    pub(super) async fn on_routine_pong(&mut self) {
        let Some((_, sent)) = self.last_ping.take() else { return };
        let rtt = sent.elapsed();
        if rtt > MAX_RTT {
            return;
        }
        self.path_tx.send_if_modified(|p| match p {
            Some(p) => {
                p.rtt = Some(rtt);
                true
            }
            None => false,
        });
        if self.path_tx.borrow().is_none() {
            self.refresh_path().await;
        }
    }
}

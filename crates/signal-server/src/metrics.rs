//! Counters for operators, rendered in the Prometheus text format at `GET /metrics` on
//! the operator port (see `operator.rs`). Plain atomics, bumped where things happen;
//! the gauges (connections, sessions, rooms) come from the hub when scraped.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use peerchat_protocol::ClientFrame;

use crate::hub::Stats;

/// Frame types counted on the way in, in the order they are rendered.
const TYPES: [&str; 8] = ["subscribe", "unsubscribe", "publish", "send", "signal", "ping", "other", "invalid"];

/// Process-wide counters.
#[derive(Debug, Default)]
pub struct Metrics {
    frames_in: [AtomicU64; TYPES.len()],
    frames_out: AtomicU64,
    rate_limit_closes: AtomicU64,
    refused_per_address: AtomicU64,
    refused_handshakes: AtomicU64,
}

impl Metrics {
    /// A client frame arrived (`None`: malformed or binary).
    pub fn frame_in(&self, frame: Option<&ClientFrame>) {
        let i = match frame {
            Some(ClientFrame::Subscribe { .. }) => 0,
            Some(ClientFrame::Unsubscribe { .. }) => 1,
            Some(ClientFrame::Publish { .. }) => 2,
            Some(ClientFrame::Send { .. }) => 3,
            Some(ClientFrame::Signal { .. }) => 4,
            Some(ClientFrame::Ping { .. }) => 5,
            Some(_) => 6,
            None => 7,
        };
        self.frames_in[i].fetch_add(1, Relaxed);
    }

    /// Frames written to clients.
    pub fn frames_out(&self, n: u64) {
        self.frames_out.fetch_add(n, Relaxed);
    }

    /// A socket closed with 4011.
    pub fn rate_limit_close(&self) {
        self.rate_limit_closes.fetch_add(1, Relaxed);
    }

    /// An upgrade answered 429 (the address holds its maximum of connections).
    pub fn refused_per_address(&self) {
        self.refused_per_address.fetch_add(1, Relaxed);
    }

    /// A socket closed at accept (the address has its maximum of handshakes).
    pub fn refused_handshake(&self) {
        self.refused_handshakes.fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition of the counters and the hub's gauges.
    pub fn render(&self, stats: &Stats) -> String {
        let mut out = String::new();
        let mut gauge = |name: &str, help: &str, v: usize| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}\n");
        };
        gauge("peerchat_connections", "Open client WebSockets.", stats.connections);
        gauge("peerchat_sessions", "Sessions, connected or in their grace period.", stats.sessions);
        gauge("peerchat_sessions_in_grace", "Sessions waiting for a resume.", stats.sessions_in_grace);
        gauge("peerchat_rooms", "Channels with at least one member.", stats.channels);
        gauge("peerchat_remote_peers", "Peers of other instances known here (cluster).", stats.remote_peers);
        gauge("peerchat_cluster_instances", "Live instances of the cluster, this one included.", stats.instances);
        let _ = write!(
            out,
            "# HELP peerchat_frames_in_total Client frames received, by type.\n# TYPE peerchat_frames_in_total counter\n"
        );
        for (ty, n) in TYPES.iter().zip(&self.frames_in) {
            let _ = writeln!(out, "peerchat_frames_in_total{{type=\"{ty}\"}} {}", n.load(Relaxed));
        }
        let mut counter = |name: &str, help: &str, v: &AtomicU64| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n", v.load(Relaxed));
        };
        counter("peerchat_frames_out_total", "Frames written to clients.", &self.frames_out);
        counter("peerchat_rate_limit_closes_total", "Sockets closed with 4011.", &self.rate_limit_closes);
        counter(
            "peerchat_refused_per_address_total",
            "Upgrades answered 429: the address had its maximum of connections.",
            &self.refused_per_address,
        );
        counter(
            "peerchat_refused_handshakes_total",
            "Sockets closed at accept: the address had its maximum of handshakes.",
            &self.refused_handshakes,
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series_with_help_and_type_and_counts_by_frame_type() {
        let m = Metrics::default();
        m.frame_in(Some(&ClientFrame::Ping { t: None }));
        m.frame_in(Some(&ClientFrame::Ping { t: None }));
        m.frame_in(None);
        m.rate_limit_close();
        m.frames_out(3);
        let text = m.render(&Stats {
            connections: 2,
            sessions: 3,
            channels: 1,
            sessions_in_grace: 1,
            remote_peers: 4,
            instances: 3,
        });
        assert!(text.contains("peerchat_connections 2\n"), "{text}");
        assert!(text.contains("peerchat_sessions 3\n"));
        assert!(text.contains("peerchat_remote_peers 4\n"));
        assert!(text.contains("peerchat_cluster_instances 3\n"));
        assert!(text.contains("peerchat_frames_in_total{type=\"ping\"} 2\n"));
        assert!(text.contains("peerchat_frames_in_total{type=\"invalid\"} 1\n"));
        assert!(text.contains("peerchat_frames_in_total{type=\"publish\"} 0\n"));
        assert!(text.contains("peerchat_rate_limit_closes_total 1\n"));
        assert!(text.contains("peerchat_frames_out_total 3\n"));
        // Every sample line belongs to a declared metric.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(text.contains(&format!("# TYPE {name} ")), "{name} has no TYPE line");
        }
    }
}

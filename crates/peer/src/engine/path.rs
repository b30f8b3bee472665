//! Reading the path of a connection from the engine: the selected ICE candidate pair
//! and the transport's byte counters.

use std::time::Instant;

use webrtc::peer_connection::{RTCIceCandidate, RTCIceCandidateType, StatsSelector};

use super::Connection;
use crate::path::{CandidateKind, PathInfo};

impl Connection {
    /// The selected candidate pair and the bytes carried so far; `None` until ICE has
    /// selected a pair. The RTT is left for the caller (it comes from the control
    /// channel).
    pub async fn path(&self) -> Option<PathInfo> {
        let sctp = self.pc.sctp().await?;
        let pair = sctp.transport().ice_transport().get_selected_candidate_pair().await.ok()??;
        let report = self.pc.get_stats(Instant::now(), StatsSelector::None).await;
        let (sent, received) = report.transport().map_or((0, 0), |t| (t.bytes_sent, t.bytes_received));
        Some(PathInfo {
            local: kind(pair.local()),
            remote: kind(pair.remote()),
            protocol: pair.local().protocol.to_string().to_lowercase(),
            local_address: address(pair.local()),
            remote_address: address(pair.remote()),
            rtt: None,
            bytes_sent: sent,
            bytes_received: received,
        })
    }
}

fn kind(c: &RTCIceCandidate) -> CandidateKind {
    match c.typ {
        RTCIceCandidateType::Host => CandidateKind::Host,
        RTCIceCandidateType::Srflx => CandidateKind::Srflx,
        RTCIceCandidateType::Prflx => CandidateKind::Prflx,
        RTCIceCandidateType::Relay => CandidateKind::Relay,
        _ => CandidateKind::Unknown,
    }
}

fn address(c: &RTCIceCandidate) -> String {
    match c.address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", c.port),
        _ => format!("{}:{}", c.address, c.port),
    }
}

//! Reading the path of a connection from the engine: the selected ICE candidate pair
//! and the transport's byte counters.
//!
//! A remote end the engine calls peer-reflexive was learned from the other side's check
//! before its candidate came through the signalling server (usual on fast paths, since
//! peer-reflexive pairs are accepted at once). That says nothing about a NAT: once the
//! candidate arrives, its type names the address (libwebrtc updates such a candidate the
//! same way). [`RemoteCandidates`] keeps what was signalled for that.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
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
        let mut remote = kind(pair.remote());
        if remote == CandidateKind::Prflx {
            let at = pair.remote().address.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, pair.remote().port));
            if let Some(signalled) = at.and_then(|a| self.remote_candidates.lock().ok()?.kind_of(a)) {
                remote = signalled;
            }
        }
        Some(PathInfo {
            local: kind(pair.local()),
            remote,
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

/// Most remote candidates remembered per connection; more are not needed to name a path
/// (a peer with many interfaces signals a dozen or two).
const MAX_REMOTE_CANDIDATES: usize = 64;

/// The kinds of the remote candidates signalled for one connection, by address.
#[derive(Debug, Default)]
pub(crate) struct RemoteCandidates(HashMap<SocketAddr, CandidateKind>);

impl RemoteCandidates {
    /// Notes one `candidate:` line (trickled, or an `a=candidate:` line of an SDP without
    /// its `a=`). Lines that name no address (mDNS names) are left out.
    pub fn note(&mut self, line: &str) {
        let Some((at, kind)) = parse(line) else { return };
        if self.0.len() < MAX_REMOTE_CANDIDATES || self.0.contains_key(&at) {
            self.0.insert(at, kind);
        }
    }

    /// Notes every candidate of a session description.
    pub fn note_sdp(&mut self, sdp: &str) {
        for line in sdp.lines().filter_map(|l| l.strip_prefix("a=")) {
            if line.starts_with("candidate:") {
                self.note(line.trim_end());
            }
        }
    }

    /// The signalled kind of the candidate at `at`, if one was signalled.
    pub fn kind_of(&self, at: SocketAddr) -> Option<CandidateKind> {
        self.0.get(&at).copied()
    }
}

/// `candidate:FOUNDATION COMPONENT PROTOCOL PRIORITY ADDRESS PORT typ TYPE ...`
fn parse(line: &str) -> Option<(SocketAddr, CandidateKind)> {
    let f: Vec<&str> = line.split_whitespace().take(8).collect();
    if f.len() < 8 || f[6] != "typ" {
        return None;
    }
    let at = SocketAddr::new(f[4].parse().ok()?, f[5].parse().ok()?);
    let kind = match f[7] {
        "host" => CandidateKind::Host,
        "srflx" => CandidateKind::Srflx,
        "prflx" => CandidateKind::Prflx,
        "relay" => CandidateKind::Relay,
        _ => return None,
    };
    Some((at, kind))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_signalled_candidate_names_the_kind_of_its_address() {
        let mut c = RemoteCandidates::default();
        c.note("candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host");
        c.note("candidate:2 1 udp 1694498815 198.51.100.7 6000 typ srflx raddr 10.0.0.2 rport 5000");
        c.note("candidate:3 1 udp 16777215 2001:db8::1 3478 typ relay raddr 0.0.0.0 rport 0");
        assert_eq!(c.kind_of(at("127.0.0.1:50000")), Some(CandidateKind::Host));
        assert_eq!(c.kind_of(at("198.51.100.7:6000")), Some(CandidateKind::Srflx));
        assert_eq!(c.kind_of(at("[2001:db8::1]:3478")), Some(CandidateKind::Relay));
        assert_eq!(c.kind_of(at("127.0.0.1:50001")), None, "another port is another candidate");
    }

    #[test]
    fn the_candidates_of_a_description_are_noted_and_names_and_junk_are_not() {
        let mut c = RemoteCandidates::default();
        c.note_sdp("v=0\r\na=candidate:1 1 udp 2130706431 10.0.0.2 5000 typ host\r\na=mid:0\r\n");
        c.note("candidate:4 1 udp 2130706431 4b1c.local 5000 typ host");
        c.note("candidate:5 1 udp 2130706431 10.0.0.3 notaport typ host");
        c.note("candidate:6 1 udp");
        assert_eq!(c.kind_of(at("10.0.0.2:5000")), Some(CandidateKind::Host));
        assert_eq!(c.0.len(), 1);
    }

    #[test]
    fn the_record_is_bounded() {
        let mut c = RemoteCandidates::default();
        for port in 0..1000u16 {
            c.note(&format!("candidate:1 1 udp 1 10.0.0.1 {port} typ host"));
        }
        assert_eq!(c.0.len(), MAX_REMOTE_CANDIDATES);
    }
}

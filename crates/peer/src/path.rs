//! The network path to a remote peer, as a person would want it explained: which kinds
//! of ICE candidates the connection settled on (so whether it is direct, direct through a
//! NAT, or relayed by a TURN server), its round-trip time and the bytes it carried.

use std::time::Duration;

use serde::Serialize;

/// The kind of one end of the selected candidate pair (RFC 8445 candidate types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CandidateKind {
    /// An address of a local interface.
    Host,
    /// The public address a NAT mapped, learned from a STUN server.
    Srflx,
    /// A NAT-mapped address learned from the other peer's checks.
    Prflx,
    /// An address on a TURN server, which relays every packet.
    Relay,
    /// The engine did not say.
    Unknown,
}

/// How the data travels, in words a person understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// Straight between the two machines' own addresses.
    Direct,
    /// Straight between the machines, through the address a NAT gave one of them.
    DirectThroughNat,
    /// Through a TURN server, which sees the (encrypted) traffic pass.
    Relayed,
}

impl Route {
    /// "direct", "direct through NAT", "relayed via TURN".
    pub fn describe(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::DirectThroughNat => "direct through NAT",
            Route::Relayed => "relayed via TURN",
        }
    }
}

/// The path of a connected remote peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PathInfo {
    /// Our end of the selected candidate pair.
    pub local: CandidateKind,
    /// The other peer's end.
    pub remote: CandidateKind,
    /// `udp` or `tcp` (the transport between the candidates).
    pub protocol: String,
    /// `ip:port` of our candidate.
    pub local_address: String,
    /// `ip:port` of the other peer's candidate.
    pub remote_address: String,
    /// Round-trip time of the latest control-channel ping, once one was answered.
    #[serde(rename = "rttMs", serialize_with = "millis")]
    pub rtt: Option<Duration>,
    /// Bytes sent and received on the connection (DTLS records, all channels).
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

fn millis<S: serde::Serializer>(rtt: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match rtt {
        Some(d) => s.serialize_some(&((d.as_secs_f64() * 10_000.0).round() / 10.0)),
        None => s.serialize_none(),
    }
}

impl PathInfo {
    /// Relayed if either end is a relay; through a NAT if either end is a mapped
    /// address; otherwise direct.
    pub fn route(&self) -> Route {
        use CandidateKind::*;
        match (self.local, self.remote) {
            (Relay, _) | (_, Relay) => Route::Relayed,
            (Srflx | Prflx, _) | (_, Srflx | Prflx) => Route::DirectThroughNat,
            _ => Route::Direct,
        }
    }

    /// Whether the candidate pair differs from `other` (figures aside).
    pub fn same_pair(&self, other: &PathInfo) -> bool {
        (self.local, self.remote, &self.protocol, &self.local_address, &self.remote_address)
            == (other.local, other.remote, &other.protocol, &other.local_address, &other.remote_address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CandidateKind::*;

    fn path(local: CandidateKind, remote: CandidateKind) -> PathInfo {
        PathInfo {
            local,
            remote,
            protocol: "udp".into(),
            local_address: "a".into(),
            remote_address: "b".into(),
            rtt: Some(Duration::from_micros(12_345)),
            bytes_sent: 1,
            bytes_received: 2,
        }
    }

    #[test]
    fn a_relay_at_either_end_is_relayed_and_a_mapped_address_is_through_nat() {
        assert_eq!(path(Host, Host).route(), Route::Direct);
        assert_eq!(path(Host, Srflx).route(), Route::DirectThroughNat);
        assert_eq!(path(Prflx, Host).route(), Route::DirectThroughNat);
        assert_eq!(path(Srflx, Relay).route(), Route::Relayed);
        assert_eq!(path(Relay, Relay).route().describe(), "relayed via TURN");
    }

    #[test]
    fn serialises_with_kinds_in_lower_case_and_the_rtt_in_milliseconds() {
        let v = serde_json::to_value(path(Host, Srflx)).unwrap();
        assert_eq!(v["local"], "host");
        assert_eq!(v["remote"], "srflx");
        assert_eq!(v["rttMs"], 12.3);
        assert_eq!(v["bytesReceived"], 2);
    }
}

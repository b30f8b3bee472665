//! The WebRTC engine, behind one module: everything that names the `webrtc` crate lives
//! here (and in `channel.rs`), so another engine can replace it without touching the
//! rest of the SDK. Engine callbacks become [`EngineEvent`] messages tagged with the
//! connection generation; no callback touches shared state.

mod certificate;
mod channel;
mod path;
mod runtime;

use std::sync::Arc;
use std::time::Duration;

use peerchat_protocol::signal::{IceCandidate, SessionDescription};
use tokio::sync::mpsc;
use webrtc::data_channel::RTCDataChannelInit;
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder, RTCIceCandidateInit,
    RTCIceConnectionState, RTCIceGatheringState, RTCIceServer, RTCIceTransportPolicy, RTCPeerConnectionIceEvent,
    RTCPeerConnectionState, RTCSdpType, RTCSessionDescription, SettingEngineBuilder,
};

pub use certificate::Certificate;
pub use channel::{ChannelEvent, RawChannel};

use crate::options::{EngineSettings, IceServer, IceTransportPolicy};
use crate::safety::{Fingerprint, PeerSecurity};

/// Interval between ICE connectivity checks while connecting. The engine's default is
/// 200 ms; 20 ms takes about 90 ms off the median setup on loopback.
const ICE_CHECK_INTERVAL: Duration = Duration::from_millis(20);
/// Unanswered checks before a candidate pair fails: 75 × 20 ms keeps the engine's default
/// budget of 1.4 s (7 × 200 ms), so slow real-world paths are not given up sooner.
const ICE_MAX_BINDING_REQUESTS: u16 = 75;

/// Remote candidates accepted per remote description (an offer or answer, so per ICE
/// generation). Real peers send a few per interface; each one accepted makes the engine
/// send connectivity checks to its address, so a hostile peer must not add thousands.
pub const MAX_REMOTE_CANDIDATES: usize = 64;

/// The native peer connection, as returned by [`crate::RemotePeer::pc`].
pub type NativePeerConnection = Arc<dyn PeerConnection>;

/// Engine failures, with the engine's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webrtc engine: {0}")]
pub struct EngineError(pub String);

fn err(e: impl std::fmt::Display) -> EngineError {
    EngineError(e.to_string())
}

/// Connection-level state, reduced to what the SDK acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkState {
    Connecting,
    Connected,
    Disconnected,
    Failed,
    Closed,
}

/// What an engine connection reports.
pub(crate) enum EngineEvent {
    /// A local candidate to trickle to the other side.
    Candidate(IceCandidate),
    /// ICE finished gathering.
    GatheringComplete,
    /// ICE or peer-connection state changed.
    Link(LinkState),
    /// The other side opened an in-band channel.
    RemoteChannel(RawChannel),
}

/// Engine events tagged with the generation of the connection that produced them.
pub(crate) type EventTx = mpsc::UnboundedSender<(u64, EngineEvent)>;

/// Options for a new connection.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionConfig {
    pub ice_servers: Vec<IceServer>,
    pub policy: IceTransportPolicy,
    pub settings: EngineSettings,
    /// The certificate every connection presents (`None`: the engine makes one each).
    pub certificate: Option<Certificate>,
}

struct Handler {
    gen: u64,
    // Unbounded on purpose: callbacks run on the engine's driver, and waiting for room
    // in a queue there would stall ICE/DTLS/SCTP (and could deadlock with a caller that
    // awaits the driver). The volume is bounded by ICE itself: a few candidates and
    // state changes per connection; data never travels through this queue.
    tx: EventTx,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if let Ok(init) = event.candidate.to_json() {
            // A wildcard address (the engine's fallback when no interface is usable) is
            // no address the other peer can use.
            if candidate_ip(&init.candidate).is_some_and(|ip| ip.is_unspecified()) {
                return;
            }
            let c = IceCandidate {
                candidate: init.candidate,
                // The engine hard-codes an empty mid; with one bundled m-line the mid is "0".
                sdp_mid: Some("0".into()),
                sdp_m_line_index: Some(0),
                username_fragment: init.username_fragment,
            };
            let _ = self.tx.send((self.gen, EngineEvent::Candidate(c)));
        }
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        if state == RTCIceGatheringState::Complete {
            let _ = self.tx.send((self.gen, EngineEvent::GatheringComplete));
        }
    }

    async fn on_ice_connection_state_change(&self, state: RTCIceConnectionState) {
        let link = match state {
            RTCIceConnectionState::Disconnected => LinkState::Disconnected,
            RTCIceConnectionState::Failed => LinkState::Failed,
            _ => return,
        };
        let _ = self.tx.send((self.gen, EngineEvent::Link(link)));
    }

    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        let link = match state {
            RTCPeerConnectionState::Connecting | RTCPeerConnectionState::New => LinkState::Connecting,
            RTCPeerConnectionState::Connected => LinkState::Connected,
            RTCPeerConnectionState::Disconnected => LinkState::Disconnected,
            RTCPeerConnectionState::Failed => LinkState::Failed,
            RTCPeerConnectionState::Closed => LinkState::Closed,
            _ => return,
        };
        let _ = self.tx.send((self.gen, EngineEvent::Link(link)));
    }

    async fn on_data_channel(&self, dc: Arc<dyn webrtc::data_channel::DataChannel>) {
        let _ = self.tx.send((self.gen, EngineEvent::RemoteChannel(RawChannel::new(dc))));
    }
}

/// One native peer connection of one generation.
pub(crate) struct Connection {
    pc: NativePeerConnection,
    fast_wake: runtime::FastWake,
    /// This connection gathers on a loopback address (so loopback candidates of the
    /// other peer are reachable).
    on_loopback: bool,
    /// What the other side signalled, to name a peer-reflexive end (see `path.rs`).
    remote_candidates: std::sync::Mutex<path::RemoteCandidates>,
    /// The fingerprints of the latest local and remote descriptions, and what they make
    /// once both are known (computed when one changes, not each time it is asked for).
    fingerprints: std::sync::Mutex<Fingerprints>,
    /// Remote candidates added since the latest remote description.
    candidates: std::sync::atomic::AtomicUsize,
}

/// The fingerprints a connection's descriptions carried.
#[derive(Default)]
struct Fingerprints {
    local: Option<Fingerprint>,
    remote: Option<Fingerprint>,
    security: Option<PeerSecurity>,
}

/// Options of a channel opened with [`Connection::create_channel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelInit {
    /// Deliver in order.
    pub ordered: bool,
    /// Retransmissions before giving up (`None`: reliable).
    pub max_retransmits: Option<u16>,
    /// Out-of-band negotiated stream id.
    pub negotiated: Option<u16>,
}

impl ChannelInit {
    /// Ordered and reliable.
    pub fn reliable() -> Self {
        ChannelInit { ordered: true, max_retransmits: None, negotiated: None }
    }

    /// Unordered, no retransmissions (the chat channel of the peer conventions).
    pub fn unreliable() -> Self {
        ChannelInit { ordered: false, max_retransmits: Some(0), negotiated: None }
    }
}

impl Connection {
    /// Builds a connection that gathers on every interface and on loopback.
    pub async fn new(cfg: &ConnectionConfig, gen: u64, tx: EventTx) -> Result<Connection, EngineError> {
        let servers = cfg
            .ice_servers
            .iter()
            .map(|s| RTCIceServer {
                urls: s.urls.clone(),
                username: s.username.clone().unwrap_or_default(),
                credential: s.credential.clone().unwrap_or_default(),
            })
            .collect();
        let policy = match cfg.policy {
            IceTransportPolicy::All => RTCIceTransportPolicy::All,
            IceTransportPolicy::Relay => RTCIceTransportPolicy::Relay,
        };
        let mut config = RTCConfigurationBuilder::new().with_ice_servers(servers).with_ice_transport_policy(policy);
        if let Some(c) = &cfg.certificate {
            config = config.with_certificates(vec![c.inner.clone()]);
        }
        let config = config.build();
        // The engine holds a relay pair back until 2 s after ICE started, so that a direct
        // pair can win. With the relay policy every pair is relayed: nothing to wait for.
        let relay_wait = (cfg.policy == IceTransportPolicy::Relay).then_some(Duration::ZERO);
        let setting = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .with_relay_acceptance_min_wait(relay_wait)
            .with_ice_connection_attempts(Some(ICE_CHECK_INTERVAL), Some(ICE_MAX_BINDING_REQUESTS))
            // A peer-reflexive pair (learned from the other side's check before its
            // candidate arrived through the server, usual on fast paths) is a validated
            // path; the engine's default holds it back until 1 s after ICE started.
            .with_prflx_acceptance_min_wait(Some(Duration::ZERO))
            .with_ice_timeouts(
                Some(Duration::from_secs(4)),
                Some(Duration::from_secs(12)),
                Some(Duration::from_secs(1)),
            )
            .with_sctp_max_receive_buffer_size(cfg.settings.sctp_receive_buffer)
            .build();
        let addrs: Vec<String> =
            if cfg.settings.udp_addrs.is_empty() { default_udp_addrs() } else { cfg.settings.udp_addrs.clone() };
        let on_loopback = addrs.iter().any(|a| a.parse::<std::net::SocketAddr>().is_ok_and(|a| a.ip().is_loopback()));
        let fast_wake = runtime::FastWake::armed();
        let mut builder = PeerConnectionBuilder::new()
            .with_configuration(config)
            .with_setting_engine(setting)
            .with_handler(Arc::new(Handler { gen, tx }))
            .with_runtime(runtime::TunedRuntime::shared(cfg.settings.socket_buffer, fast_wake.clone()))
            .with_udp_addrs(addrs);
        if cfg.settings.reactor_threads > 0 {
            builder = builder.with_dedicated_reactor_pool_size(cfg.settings.reactor_threads);
        }
        let pc = builder.build().await.map_err(err)?;
        Ok(Connection {
            pc: Arc::new(pc),
            fast_wake,
            on_loopback,
            remote_candidates: Default::default(),
            fingerprints: Default::default(),
            candidates: Default::default(),
        })
    }

    /// The connection is up: its driver goes back to the engine's own timer schedule
    /// (see `runtime.rs` for why it wakes often while setting up).
    pub fn settled(&self) {
        self.fast_wake.disarm();
    }

    /// The connection is being set up again (an ICE restart): wake often until
    /// [`Connection::settled`].
    pub fn unsettled(&self) {
        self.fast_wake.arm();
    }

    /// The native connection (the app's escape hatch).
    pub fn native(&self) -> NativePeerConnection {
        self.pc.clone()
    }

    /// Creates the negotiated `control` channel (id 0), or an in-band app channel.
    pub async fn create_channel(&self, label: &str, init: ChannelInit) -> Result<RawChannel, EngineError> {
        let init = RTCDataChannelInit {
            ordered: init.ordered,
            max_retransmits: init.max_retransmits,
            negotiated: init.negotiated,
            ..Default::default()
        };
        let dc = self.pc.create_data_channel(label, Some(init)).await.map_err(err)?;
        Ok(RawChannel::new(dc))
    }

    /// Creates an offer (an ICE restart when asked) and sets it as local description.
    pub async fn offer(&self, ice_restart: bool) -> Result<SessionDescription, EngineError> {
        if ice_restart {
            self.pc.restart_ice().await.map_err(err)?;
        }
        let offer = self.pc.create_offer(None).await.map_err(err)?;
        self.pc.set_local_description(offer.clone()).await.map_err(err)?;
        self.note_fingerprint(&offer.sdp, false);
        Ok(to_wire(&offer))
    }

    /// Creates an answer to the current remote offer and sets it locally.
    pub async fn answer(&self) -> Result<SessionDescription, EngineError> {
        let answer = self.pc.create_answer(None).await.map_err(err)?;
        self.pc.set_local_description(answer.clone()).await.map_err(err)?;
        self.note_fingerprint(&answer.sdp, false);
        Ok(to_wire(&answer))
    }

    /// Whether a local offer waits for its answer (signaling state have-local-offer).
    pub async fn has_local_offer(&self) -> bool {
        matches!(self.pc.pending_local_description().await, Some(d) if d.sdp_type == RTCSdpType::Offer)
    }

    /// Rolls back a pending local offer (the polite side, on glare).
    pub async fn rollback(&self) -> Result<(), EngineError> {
        let rb = RTCSessionDescription::rollback(None).map_err(err)?;
        self.pc.set_local_description(rb).await.map_err(err)
    }

    /// Applies a remote offer or answer.
    pub async fn set_remote(&self, d: &SessionDescription) -> Result<(), EngineError> {
        let desc = match d.kind.as_str() {
            "offer" => RTCSessionDescription::offer(d.sdp.clone()),
            "answer" => RTCSessionDescription::answer(d.sdp.clone()),
            "pranswer" => RTCSessionDescription::pranswer(d.sdp.clone()),
            other => return Err(EngineError(format!("unsupported description type `{other}`"))),
        }
        .map_err(err)?;
        if let Ok(mut c) = self.remote_candidates.lock() {
            c.note_sdp(&d.sdp);
        }
        self.pc.set_remote_description(desc).await.map_err(err)?;
        self.note_fingerprint(&d.sdp, true);
        self.candidates.store(0, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Records the fingerprint of a description once it is applied (the engine refused
    /// any it could not use before this).
    fn note_fingerprint(&self, sdp: &str, remote: bool) {
        let fp = match Fingerprint::from_sdp(sdp) {
            Ok(fp) => fp,
            Err(e) => {
                tracing::warn!(remote, error = %e, "no usable fingerprint in a description");
                return;
            }
        };
        if let Ok(mut f) = self.fingerprints.lock() {
            let slot = if remote { &mut f.remote } else { &mut f.local };
            if slot.as_ref() == Some(&fp) {
                return;
            }
            *slot = Some(fp);
            f.security = f.local.clone().zip(f.remote.clone()).map(|(l, r)| PeerSecurity::new(l, r));
        }
    }

    /// Both fingerprints and the safety number, once both descriptions are applied.
    pub fn security(&self) -> Option<PeerSecurity> {
        self.fingerprints.lock().ok()?.security.clone()
    }

    /// Whether a remote description is set (candidates can be added).
    pub async fn has_remote(&self) -> bool {
        self.pc.remote_description().await.is_some()
    }

    /// Adds a remote candidate. Loopback host candidates are skipped unless this
    /// connection gathers on loopback itself: paired with anything else they only cause
    /// failed sends (and TURN permissions a TURN server refuses), RFC 8445 section
    /// 5.1.1.1. (A relay candidate on loopback is reachable: through a TURN server on
    /// this machine.) Wildcard addresses are skipped always.
    /// At most [`MAX_REMOTE_CANDIDATES`] per remote description; more are refused.
    pub async fn add_candidate(&self, c: &IceCandidate) -> Result<(), EngineError> {
        if self.candidates.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= MAX_REMOTE_CANDIDATES {
            return Err(EngineError(format!("more than {MAX_REMOTE_CANDIDATES} candidates for one description")));
        }
        if let Ok(mut r) = self.remote_candidates.lock() {
            r.note(&c.candidate);
        }
        if let Some(ip) = candidate_ip(&c.candidate) {
            let host = c.candidate.contains(" typ host");
            if ip.is_unspecified() || (host && ip.is_loopback() && !self.on_loopback) {
                tracing::debug!(%ip, "remote candidate skipped: unreachable from here");
                return Ok(());
            }
        }
        let init = RTCIceCandidateInit {
            candidate: c.candidate.clone(),
            sdp_mid: c.sdp_mid.clone(),
            sdp_mline_index: c.sdp_m_line_index,
            username_fragment: c.username_fragment.clone(),
            ..Default::default()
        };
        self.pc.add_ice_candidate(init).await.map_err(err)
    }

    /// Largest message the connection can carry (negotiated with the other side).
    pub async fn max_message_size(&self) -> usize {
        match self.pc.sctp().await {
            Some(sctp) => sctp.max_message_size().await.map(|n| n as usize).unwrap_or(65_536),
            None => 65_536,
        }
    }

    /// Closes the connection (idempotent).
    pub async fn close(&self) {
        let _ = self.pc.close().await;
    }
}

/// Where a connection gathers when the app does not say: every usable interface (the
/// engine expands `0.0.0.0` into one socket per non-loopback, non-link-local address),
/// or loopback alone on a machine that has no such interface. Never both: a loopback
/// socket's candidates pair with every remote address and fail there.
fn default_udp_addrs() -> Vec<String> {
    let usable = rtc::shared::ifaces::ifaces().is_ok_and(|list| {
        list.iter().any(|i| {
            i.addr.is_some_and(|a| match a.ip() {
                std::net::IpAddr::V4(ip) => !ip.is_loopback() && !ip.is_unspecified() && !ip.is_link_local(),
                std::net::IpAddr::V6(_) => false,
            })
        })
    });
    vec![if usable { "0.0.0.0:0" } else { "127.0.0.1:0" }.to_string()]
}

/// The connection address of an ICE candidate line (`candidate:F C PROTO PRIO ADDR PORT
/// typ …`); `None` for names (mDNS) and malformed lines.
fn candidate_ip(candidate: &str) -> Option<std::net::IpAddr> {
    candidate.split_whitespace().nth(4)?.parse().ok()
}

fn to_wire(d: &RTCSessionDescription) -> SessionDescription {
    SessionDescription { kind: d.sdp_type.to_string(), sdp: d.sdp.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_flood_of_remote_candidates_is_cut_at_the_bound_until_the_next_description() {
        let cfg = ConnectionConfig {
            ice_servers: Vec::new(),
            policy: IceTransportPolicy::All,
            settings: EngineSettings {
                udp_addrs: vec!["127.0.0.1:0".into()],
                reactor_threads: 0,
                ..Default::default()
            },
            certificate: None,
        };
        let (tx, _rx) = mpsc::unbounded_channel();
        let (a, b) = (Connection::new(&cfg, 1, tx.clone()).await.unwrap(), Connection::new(&cfg, 1, tx).await.unwrap());
        a.create_channel("control", ChannelInit::reliable()).await.unwrap();
        let offer = a.offer(false).await.unwrap();
        b.set_remote(&offer).await.unwrap();
        let candidate = |i: usize| IceCandidate {
            candidate: format!("candidate:{i} 1 udp 2130706431 127.0.0.1 {} typ host", 20_000 + i),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
            username_fragment: None,
        };
        let mut accepted = 0;
        for i in 0..1_000 {
            if b.add_candidate(&candidate(i)).await.is_ok() {
                accepted += 1;
            }
        }
        assert_eq!(accepted, MAX_REMOTE_CANDIDATES);
        // A new description (an ICE restart) starts a new count.
        a.set_remote(&b.answer().await.unwrap()).await.unwrap();
        b.set_remote(&a.offer(true).await.unwrap()).await.unwrap();
        assert!(b.add_candidate(&candidate(5_000)).await.is_ok());
        a.close().await;
        b.close().await;
    }

    #[test]
    fn the_address_of_a_candidate_line_is_read_and_names_are_not_addresses() {
        let ip = |c: &str| candidate_ip(c).map(|a| a.to_string());
        assert_eq!(ip("candidate:1 1 udp 2130706431 192.168.1.10 5000 typ host").as_deref(), Some("192.168.1.10"));
        assert_eq!(ip("candidate:2 1 udp 1 ::1 5000 typ host").as_deref(), Some("::1"));
        assert_eq!(ip("candidate:3 1 udp 1 a1b2.local 5000 typ host"), None);
        assert_eq!(ip("candidate:4 1"), None);
    }
}

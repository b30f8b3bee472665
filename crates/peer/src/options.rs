//! Options of a [`crate::Peer`]: where to connect, how to reconnect, which ICE servers
//! to use, and engine tuning.

use std::time::Duration;

use peerchat_protocol::PublishableKey;

/// How the SDK reconnects its signalling socket after a drop.
#[derive(Debug, Clone, PartialEq)]
pub struct ReconnectPolicy {
    /// Delay before the first retry.
    pub initial_delay: Duration,
    /// Each further delay is the previous one times this.
    pub multiplier: f64,
    /// Upper bound of a delay.
    pub max_delay: Duration,
    /// Random spread applied to each delay: 0.2 means ±20 %.
    pub jitter: f64,
    /// Attempts before giving up (the peer then closes with an error).
    pub max_attempts: u32,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(500),
            multiplier: 2.0,
            max_delay: Duration::from_secs(30),
            jitter: 0.2,
            max_attempts: 100,
        }
    }
}

pub use peerchat_protocol::IceServer;

/// Which ICE candidates a connection may use (the W3C `iceTransportPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IceTransportPolicy {
    /// Host, server-reflexive and relay candidates: the best chance to connect.
    #[default]
    All,
    /// Only TURN relay candidates: the other peer never learns this machine's
    /// addresses (needs a TURN server, from `welcome` or the options).
    Relay,
}

/// Tuning of the WebRTC engine; the defaults are the measured best on loopback.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineSettings {
    /// Local UDP addresses to gather host candidates on. Empty: every usable
    /// non-loopback interface, or loopback alone on a machine without one.
    pub udp_addrs: Vec<String>,
    /// Dedicated reactor threads for the engine's I/O (0: use the caller's runtime).
    pub reactor_threads: usize,
    /// Interval between control-channel pings.
    pub control_ping_interval: Duration,
    /// Silence on the control channel after which the path is considered dead.
    pub control_dead_after: Duration,
    /// How long an ICE restart may take before the connection is rebuilt.
    pub ice_restart_timeout: Duration,
    /// How long a new connection may take to reach `connected` before it is rebuilt.
    pub connect_timeout: Duration,
    /// SCTP receive window in bytes: how much the other side may send before this side's
    /// application reads it. Each waiting message counts 256 bytes beyond its payload
    /// (vendor/README.md, rtc-sctp 0002), so the window bounds messages as well as bytes;
    /// a window of any size is safe for floods of tiny messages.
    pub sctp_receive_buffer: u32,
    /// UDP socket send and receive buffers in bytes (capped by the kernel).
    pub socket_buffer: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            udp_addrs: Vec::new(),
            reactor_threads: 2,
            control_ping_interval: Duration::from_secs(5),
            control_dead_after: Duration::from_secs(15),
            ice_restart_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(20),
            sctp_receive_buffer: 1024 * 1024,
            socket_buffer: 4 * 1024 * 1024,
        }
    }
}

/// How the signalling connection is secured.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Let `ws://` (unencrypted) reach hosts other than this machine. Off by default:
    /// anyone on the path could then read the signalling, swap the peers' DTLS
    /// fingerprints and read the chat.
    pub allow_plaintext: bool,
    /// PEM CA certificates trusted besides the OS trust store (a server with a private
    /// CA).
    pub extra_ca_pem: Option<String>,
    /// Send the key only to a server that first proves it knows it (a challenge answered
    /// with an HMAC under the key; servers with `local_proof`, such as the app's local
    /// one, which any program of this machine could otherwise impersonate). A server
    /// that does not prove it is retried later and never gets the key.
    pub require_key_proof: bool,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsOptions")
            .field("allow_plaintext", &self.allow_plaintext)
            .field("extra_ca_pem", &self.extra_ca_pem.as_ref().map(|p| format!("<{} bytes>", p.len())))
            .field("require_key_proof", &self.require_key_proof)
            .finish()
    }
}

/// Everything a [`crate::Peer`] needs. Constructing a peer does not connect.
#[derive(Debug, Clone)]
pub struct PeerOptions {
    /// `ws://HOST:PORT/v1` or `wss://…`.
    pub url: String,
    /// The publishable key (printed redacted).
    pub key: PublishableKey,
    /// `None` turns reconnecting off.
    pub reconnect: Option<ReconnectPolicy>,
    /// Silence on the signalling socket after which it is considered dead.
    pub inactivity_timeout: Duration,
    /// ICE servers added to those the server announces in `welcome`.
    pub ice_servers: Vec<IceServer>,
    /// Which candidates connections may use.
    pub ice_transport_policy: IceTransportPolicy,
    /// `Origin` header to send (for keys with an origin allow-list).
    pub origin: Option<String>,
    /// TLS and the plaintext policy of the signalling connection.
    pub tls: TlsOptions,
    /// How long a server-routed request waits for its `ack`.
    pub request_timeout: Duration,
    /// Engine tuning.
    pub engine: EngineSettings,
    /// The DTLS certificate every connection presents. `None`: one is made for this
    /// peer's lifetime. Keep one across restarts ([`crate::identity::load_or_create`]) so
    /// that safety numbers people verified stay the same.
    pub certificate: Option<crate::engine::Certificate>,
}

impl PeerOptions {
    /// Options with the defaults: reconnect on, 60 s inactivity timeout, no extra ICE
    /// servers.
    pub fn new(url: impl Into<String>, key: PublishableKey) -> Self {
        PeerOptions {
            url: url.into(),
            key,
            reconnect: Some(ReconnectPolicy::default()),
            inactivity_timeout: Duration::from_secs(60),
            ice_servers: Vec::new(),
            ice_transport_policy: IceTransportPolicy::All,
            origin: None,
            tls: TlsOptions::default(),
            request_timeout: Duration::from_secs(10),
            engine: EngineSettings::default(),
            certificate: None,
        }
    }
}

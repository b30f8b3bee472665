//! Server configuration: the TOML file format, its defaults, and validation.
//!
//! Every limit the server enforces lives here, with the default documented in
//! `docs/protocol.md`. Unknown fields in the file are an error.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use peerchat_protocol::IceServer;
use serde::Deserialize;

use crate::key::PublishableKey;
use crate::tls::TlsFiles;
use crate::turn::{TurnIssuer, TurnSection};

/// Address used when neither `--listen` nor `[server] listen` is given.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown or mistyped fields.
    #[error("invalid config file {path}: {message}")]
    Parse { path: String, message: String },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// No key was configured.
    #[error("no publishable key configured: pass --key KEY or add a [[keys]] table to the config file")]
    NoKeys,
}

/// One publishable key and its limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyConfig {
    /// The key.
    pub key: PublishableKey,
    /// Channel globs this key may subscribe to (default: any).
    #[serde(default = "any")]
    pub channels: Vec<String>,
    /// Origin globs allowed to use this key (empty: any origin, or none).
    #[serde(default)]
    pub origins: Vec<String>,
    /// Most sessions at once, connected or in their grace period.
    #[serde(default = "d_max_connections")]
    pub max_connections: usize,
    /// Accepted `publish` + `send` frames per period.
    #[serde(default = "d_messages_per_period")]
    pub messages_per_period: u64,
    /// Accepted `signal` frames per period (offers, answers, candidates): budgeted on
    /// their own, so connecting never eats the message quota, yet signals are no free
    /// channel for app data.
    #[serde(default = "d_messages_per_period")]
    pub signals_per_period: u64,
    /// Length of the quota window, in seconds.
    #[serde(default = "d_period_secs")]
    pub period_secs: u64,
}

impl KeyConfig {
    /// A key with default limits, any channel and any origin.
    pub fn with_defaults(key: PublishableKey) -> Self {
        KeyConfig {
            key,
            channels: any(),
            origins: Vec::new(),
            max_connections: d_max_connections(),
            messages_per_period: d_messages_per_period(),
            signals_per_period: d_messages_per_period(),
            period_secs: d_period_secs(),
        }
    }
}

fn any() -> Vec<String> {
    vec!["*".into()]
}
fn d_max_connections() -> usize {
    10_000
}
fn d_messages_per_period() -> u64 {
    10_000_000
}
fn d_period_secs() -> u64 {
    2_592_000
}

/// The `[server]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSection {
    pub listen: Option<String>,
    pub secret: Option<String>,
    pub grace_period_secs: u64,
    pub ping_interval_secs: u64,
    pub idle_timeout_secs: u64,
    pub max_peers_per_channel: usize,
    pub max_channels_per_peer: usize,
    pub max_name_bytes: usize,
    pub max_channel_bytes: usize,
    pub rate_per_sec: u32,
    pub rate_burst: u32,
    pub max_invalid_in_a_row: u32,
    pub outbound_queue: usize,
    pub resume_queue: usize,
    pub resume_token_ttl_secs: u64,
    pub going_away_retry_ms: u64,
    pub handshake_timeout_secs: u64,
    /// Refuse every upgrade that carries an `Origin` header (a web page): for a server
    /// only this machine's apps use, such as the app's embedded one.
    pub refuse_browser_origins: bool,
    /// Answer `Peerchat-Challenge` with a proof that this server knows its keys (the
    /// app's embedded server: see `peerchat_protocol::local_proof`).
    pub local_proof: bool,
    /// PEM certificate chain: the server speaks TLS (`wss://`) itself.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Joins, renames and leaves one session may make per minute (a rename counts once
    /// per channel it is announced in).
    pub room_changes_per_min: u32,
    /// How many of them may come at once.
    pub room_changes_burst: u32,
    /// Open connections per client address (IPv6: per /64); 0: no cap.
    pub max_connections_per_ip: usize,
    /// Connections per client address still in their TLS/HTTP handshake; 0: no cap.
    pub max_handshakes_per_ip: usize,
    /// Reverse proxies (IP or IP/prefix) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<String>,
    /// `HOST:PORT` of the operator port (`/healthz`, `/metrics`); none: no operator port.
    pub operator_listen: Option<String>,
}

impl Default for ServerSection {
    fn default() -> Self {
        ServerSection {
            listen: None,
            secret: None,
            grace_period_secs: 30,
            ping_interval_secs: 30,
            idle_timeout_secs: 60,
            max_peers_per_channel: 1_000,
            max_channels_per_peer: 32,
            max_name_bytes: 64,
            max_channel_bytes: 128,
            rate_per_sec: 100,
            rate_burst: 200,
            max_invalid_in_a_row: 10,
            outbound_queue: 1_024,
            resume_queue: 256,
            resume_token_ttl_secs: 86_400,
            going_away_retry_ms: 1_000,
            handshake_timeout_secs: 10,
            refuse_browser_origins: false,
            local_proof: false,
            tls_cert: None,
            tls_key: None,
            room_changes_per_min: 60,
            room_changes_burst: 64,
            max_connections_per_ip: 100,
            max_handshakes_per_ip: 20,
            trusted_proxies: vec!["127.0.0.1".into(), "::1".into()],
            operator_listen: None,
        }
    }
}

/// `[[ice_servers]]` as an operator writes them: unlike on the wire, where clients ignore
/// unknown fields, a field the server does not know (a misspelt `credential`) is an error.
fn strict_ice_servers<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<IceServer>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Entry {
        urls: Vec<String>,
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        credential: Option<String>,
    }
    let entries = Vec::<Entry>::deserialize(d)?;
    Ok(entries
        .into_iter()
        .map(|e| IceServer { urls: e.urls, username: e.username, credential: e.credential })
        .collect())
}

/// The whole TOML file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub keys: Vec<KeyConfig>,
    #[serde(default, deserialize_with = "strict_ice_servers")]
    pub ice_servers: Vec<IceServer>,
    /// TURN server sharing a secret with this server (time-limited credentials).
    #[serde(default)]
    pub turn: Option<TurnSection>,
    /// Instances sharing rooms through Redis.
    #[serde(default)]
    pub cluster: crate::cluster::ClusterSection,
}

impl FileConfig {
    /// Parses TOML text; `origin` names the source in errors.
    pub fn parse(text: &str, origin: &str) -> Result<FileConfig, ConfigError> {
        toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: origin.to_string(), message: e.message().to_string() })
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string())
    }
}

/// The validated configuration the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// HMAC secret for resume tokens (random per process when not configured).
    pub secret: Vec<u8>,
    pub grace_period: Duration,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    pub max_peers_per_channel: usize,
    pub max_channels_per_peer: usize,
    pub max_name_bytes: usize,
    pub max_channel_bytes: usize,
    pub rate_per_sec: u32,
    pub rate_burst: u32,
    pub max_invalid_in_a_row: u32,
    pub outbound_queue: usize,
    pub resume_queue: usize,
    pub resume_token_ttl: Duration,
    pub going_away_retry_ms: u64,
    pub handshake_timeout: Duration,
    /// Refuse upgrades that carry an `Origin` header (403 `browser_not_allowed`).
    pub refuse_browser_origins: bool,
    /// Answer local-proof challenges (`peerchat_protocol::local_proof`).
    pub local_proof: bool,
    /// Largest WebSocket message accepted (the protocol fixes it at 65536).
    pub max_frame_bytes: usize,
    pub keys: Vec<KeyConfig>,
    pub ice_servers: Vec<IceServer>,
    /// Terminate TLS with these files (`wss://`); `None`: plain `ws://`.
    pub tls: Option<TlsFiles>,
    /// Issues each `welcome` its own TURN credentials, after `ice_servers`.
    pub turn: Option<TurnIssuer>,
    /// Caps per client address.
    pub per_ip: crate::per_ip::IpCaps,
    pub room_changes_per_min: u32,
    pub room_changes_burst: u32,
    /// Where `GET /healthz` and `GET /metrics` are served, if anywhere.
    pub operator_listen: Option<SocketAddr>,
    /// Redis, when this is one of several instances.
    pub cluster: Option<crate::cluster::ClusterConfig>,
}

impl Config {
    /// Builds the runtime configuration from a file (or defaults), the `--listen`
    /// override and extra `--key`s, and checks every value.
    pub fn build(
        file: FileConfig,
        listen: Option<String>,
        extra_keys: Vec<PublishableKey>,
    ) -> Result<Config, ConfigError> {
        let s = file.server;
        let listen_text = listen.or(s.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
        let listen: SocketAddr = listen_text
            .parse()
            .map_err(|_| ConfigError::Invalid(format!("listen address `{listen_text}` is not HOST:PORT")))?;
        let mut keys = file.keys;
        keys.extend(extra_keys.into_iter().map(KeyConfig::with_defaults));
        if keys.is_empty() {
            return Err(ConfigError::NoKeys);
        }
        for k in &keys {
            if k.key.expose().is_empty() {
                return Err(ConfigError::Invalid("a key is empty".into()));
            }
            if k.period_secs == 0 {
                return Err(ConfigError::Invalid(format!("key {}: period_secs must be at least 1", k.key)));
            }
            if k.max_connections == 0 {
                return Err(ConfigError::Invalid(format!("key {}: max_connections must be at least 1", k.key)));
            }
        }
        let positive = |name: &str, v: u64| {
            if v == 0 {
                Err(ConfigError::Invalid(format!("{name} must be at least 1")))
            } else {
                Ok(())
            }
        };
        positive("ping_interval_secs", s.ping_interval_secs)?;
        positive("idle_timeout_secs", s.idle_timeout_secs)?;
        positive("max_peers_per_channel", s.max_peers_per_channel as u64)?;
        positive("max_channels_per_peer", s.max_channels_per_peer as u64)?;
        positive("max_name_bytes", s.max_name_bytes as u64)?;
        positive("max_channel_bytes", s.max_channel_bytes as u64)?;
        positive("rate_per_sec", u64::from(s.rate_per_sec))?;
        positive("rate_burst", u64::from(s.rate_burst))?;
        positive("max_invalid_in_a_row", u64::from(s.max_invalid_in_a_row))?;
        positive("outbound_queue", s.outbound_queue as u64)?;
        positive("handshake_timeout_secs", s.handshake_timeout_secs)?;
        positive("room_changes_per_min", u64::from(s.room_changes_per_min))?;
        positive("room_changes_burst", u64::from(s.room_changes_burst))?;
        if s.idle_timeout_secs <= s.ping_interval_secs {
            return Err(ConfigError::Invalid(
                "idle_timeout_secs must exceed ping_interval_secs (clients answer pings)".into(),
            ));
        }
        if s.outbound_queue < s.resume_queue + s.max_channels_per_peer + 2 {
            return Err(ConfigError::Invalid(
                "outbound_queue must exceed resume_queue + max_channels_per_peer + 1".into(),
            ));
        }
        let tls = match (s.tls_cert, s.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            _ => return Err(ConfigError::Invalid("tls_cert and tls_key go together".into())),
        };
        let turn = file.turn.map(TurnIssuer::from_section).transpose().map_err(ConfigError::Invalid)?;
        let trusted_proxies = s
            .trusted_proxies
            .iter()
            .map(|p| p.parse().map_err(|e| ConfigError::Invalid(format!("trusted_proxies: {e}"))))
            .collect::<Result<_, _>>()?;
        let operator_listen = match &s.operator_listen {
            Some(a) => Some(a.parse().map_err(|_| {
                ConfigError::Invalid(format!("operator_listen `{a}` is not HOST:PORT with a literal IP"))
            })?),
            None => None,
        };
        let per_ip = crate::per_ip::IpCaps {
            connections: s.max_connections_per_ip,
            handshakes: s.max_handshakes_per_ip,
            trusted_proxies,
        };
        let cluster = file.cluster.build(None).map_err(ConfigError::Invalid)?;
        if cluster.is_some() && s.secret.is_none() {
            return Err(ConfigError::Invalid(
                "[cluster] needs [server] secret, the same on every instance (resume tokens are checked by any of them)"
                    .into(),
            ));
        }
        let secret = match s.secret {
            Some(sec) if sec.len() < 16 => return Err(ConfigError::Invalid("secret must be at least 16 bytes".into())),
            Some(sec) => sec.into_bytes(),
            None => {
                use rand::RngCore;
                let mut b = vec![0u8; 32];
                rand::rng().fill_bytes(&mut b);
                b
            }
        };
        Ok(Config {
            listen,
            secret,
            grace_period: Duration::from_secs(s.grace_period_secs),
            ping_interval: Duration::from_secs(s.ping_interval_secs),
            idle_timeout: Duration::from_secs(s.idle_timeout_secs),
            max_peers_per_channel: s.max_peers_per_channel,
            max_channels_per_peer: s.max_channels_per_peer,
            max_name_bytes: s.max_name_bytes,
            max_channel_bytes: s.max_channel_bytes,
            rate_per_sec: s.rate_per_sec,
            rate_burst: s.rate_burst,
            max_invalid_in_a_row: s.max_invalid_in_a_row,
            outbound_queue: s.outbound_queue,
            resume_queue: s.resume_queue,
            resume_token_ttl: Duration::from_secs(s.resume_token_ttl_secs.max(s.grace_period_secs)),
            going_away_retry_ms: s.going_away_retry_ms,
            handshake_timeout: Duration::from_secs(s.handshake_timeout_secs),
            refuse_browser_origins: s.refuse_browser_origins,
            local_proof: s.local_proof,
            max_frame_bytes: peerchat_protocol::MAX_FRAME_BYTES,
            keys,
            ice_servers: file.ice_servers,
            tls,
            turn,
            per_ip,
            room_changes_per_min: s.room_changes_per_min,
            room_changes_burst: s.room_changes_burst,
            operator_listen,
            cluster,
        })
    }

    /// Defaults with the given keys, listening on 127.0.0.1:0 (for tests and embedding).
    pub fn for_keys(keys: &[&str]) -> Config {
        let keys = keys.iter().map(|k| PublishableKey::new(*k)).collect();
        // Cannot fail: defaults are valid and at least one key is expected from callers.
        Config::build(FileConfig::default(), Some("127.0.0.1:0".into()), keys)
            .expect("default configuration with keys is valid")
    }

    /// A configuration from `[server]` fields (TOML lines, as an operator writes them)
    /// and keys, listening on 127.0.0.1:0 (for tests and embedding).
    pub fn for_keys_with(server_fields: &str, keys: &[&str]) -> Result<Config, ConfigError> {
        let text = format!("[server]\n{server_fields}\n");
        let keys = keys.iter().map(|k| PublishableKey::new(*k)).collect();
        Config::build(FileConfig::parse(&text, "test")?, Some("127.0.0.1:0".into()), keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file() {
        let f = FileConfig::parse(
            r#"
            [server]
            listen = "127.0.0.1:9000"
            secret = "0123456789abcdef0123"
            grace_period_secs = 5
            ping_interval_secs = 10
            idle_timeout_secs = 25
            max_peers_per_channel = 3
            [[keys]]
            key = "pk_a"
            channels = ["room-*"]
            origins = ["https://*.example.com"]
            max_connections = 2
            messages_per_period = 5
            period_secs = 60
            [[ice_servers]]
            urls = ["stun:stun.example.com:3478"]
            "#,
            "test",
        )
        .unwrap();
        let c = Config::build(f, None, vec![]).unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.grace_period, Duration::from_secs(5));
        assert_eq!(c.max_peers_per_channel, 3);
        assert_eq!(c.keys[0].channels, vec!["room-*".to_string()]);
        assert_eq!(c.keys[0].messages_per_period, 5);
        assert_eq!(c.ice_servers.len(), 1);
        assert_eq!(c.secret, b"0123456789abcdef0123");
    }

    #[test]
    fn unknown_fields_and_bad_values_are_errors() {
        assert!(matches!(FileConfig::parse("[server]\nlisten_on = 1", "t"), Err(ConfigError::Parse { .. })));
        assert!(matches!(FileConfig::parse("[[keys]]\nkey = \"k\"\nfoo = 1", "t"), Err(ConfigError::Parse { .. })));
        let misspelt = "[[ice_servers]]\nurls = [\"turn:t\"]\nusername = \"u\"\ncredentail = \"c\"";
        assert!(matches!(FileConfig::parse(misspelt, "t"), Err(ConfigError::Parse { .. })));
        assert!(matches!(
            FileConfig::parse("[server]\ngrace_period_secs = \"x\"", "t"),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(Config::build(FileConfig::default(), None, vec![]), Err(ConfigError::NoKeys)));
        let bad_listen = Config::build(FileConfig::default(), Some("nope".into()), vec![PublishableKey::new("k")]);
        assert!(matches!(bad_listen, Err(ConfigError::Invalid(_))));
        let f = FileConfig::parse("[server]\nsecret = \"short\"\n[[keys]]\nkey = \"k\"", "t").unwrap();
        assert!(matches!(Config::build(f, None, vec![]), Err(ConfigError::Invalid(_))));
        let f =
            FileConfig::parse("[server]\nping_interval_secs = 30\nidle_timeout_secs = 30\n[[keys]]\nkey = \"k\"", "t")
                .unwrap();
        assert!(matches!(Config::build(f, None, vec![]), Err(ConfigError::Invalid(_))));
        let f = FileConfig::parse("[[keys]]\nkey = \"k\"\nperiod_secs = 0", "t").unwrap();
        assert!(matches!(Config::build(f, None, vec![]), Err(ConfigError::Invalid(_))));
    }

    #[test]
    fn errors_never_print_the_key() {
        let f = FileConfig::parse("[[keys]]\nkey = \"pk_hidden_value\"\nmax_connections = 0", "t").unwrap();
        let e = Config::build(f, None, vec![]).unwrap_err().to_string();
        assert!(!e.contains("pk_hidden_value"), "{e}");
    }
}

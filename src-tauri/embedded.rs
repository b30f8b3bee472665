//! The embedded signalling server: with no server configured, the app runs
//! `signal-server` in-process on a fixed loopback port, so windows and app processes on
//! this machine find each other. If another peerchat process already serves that port,
//! it is reused. Nothing but loopback is listened on.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use peerchat_peer::PublishableKey;
use signal_server::config::{Config, FileConfig};
use signal_server::server::{Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The loopback port of the embedded server (override: `PEERCHAT_LOCAL_PORT`).
pub const DEFAULT_PORT: u16 = 47831;

/// The URL of the embedded server on `port`.
pub fn local_url(port: u16) -> String {
    format!("ws://127.0.0.1:{port}/v1")
}

/// Why the embedded server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbeddedError {
    #[error("port {0} on 127.0.0.1 is used by another program; set PEERCHAT_LOCAL_PORT or configure a server")]
    PortTaken(u16),
    #[error("cannot start the local server: {0}")]
    Start(String),
}

/// A running (or reused) embedded server.
pub struct Embedded {
    pub url: String,
    /// `None` when another peerchat process serves the port.
    handle: Option<ServerHandle>,
}

impl Embedded {
    /// Whether this process runs the server (rather than reusing another's).
    pub fn is_owner(&self) -> bool {
        self.handle.is_some()
    }

    /// Starts the server on `127.0.0.1:port` accepting `key`, or reuses the peerchat
    /// server that already listens there.
    pub async fn start_or_reuse(port: u16, key: &PublishableKey) -> Result<Embedded, EmbeddedError> {
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut cfg = Config::build(FileConfig::default(), Some(listen.to_string()), vec![key.clone()])
            .map_err(|e| EmbeddedError::Start(e.to_string()))?;
        cfg.secret = resume_secret(key);
        // Only this machine's peerchat processes talk to it: no web page may probe it.
        cfg.refuse_browser_origins = true;
        match Server::bind(cfg).await {
            Ok(server) => {
                let handle = server.handle();
                tokio::spawn(server.run());
                tracing::info!(url = %handle.url(), "embedded signalling server started");
                Ok(Embedded { url: local_url(port), handle: Some(handle) })
            }
            Err(e) if e.kind() == ErrorKind::AddrInUse => {
                if is_peerchat_server(listen).await {
                    tracing::info!(%listen, "reusing the signalling server of another peerchat process");
                    Ok(Embedded { url: local_url(port), handle: None })
                } else {
                    Err(EmbeddedError::PortTaken(port))
                }
            }
            Err(e) => Err(EmbeddedError::Start(e.to_string())),
        }
    }

    /// Stops the server (clients get `going_away`) if this process runs it.
    pub async fn stop(&self) {
        if let Some(h) = &self.handle {
            h.shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(3), h.stopped()).await;
        }
    }
}

/// The resume-token secret of the local server, derived from its key: every peerchat
/// process on this machine (which share the key through the keyring) signs tokens
/// alike, so when one takes the server over from another, sessions resume with their
/// identities instead of appearing as new people.
fn resume_secret(key: &PublishableKey) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"peerchat local server resume secret v1\0");
    h.update(key.expose().as_bytes());
    h.finalize().to_vec()
}

/// Whether `addr` answers a key-less WebSocket upgrade the way signal-server does
/// (HTTP 401 with `{"error":"invalid_key"}`). No key is sent to whatever listens there.
pub async fn is_peerchat_server(addr: SocketAddr) -> bool {
    let probe = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let req = format!(
            "GET /v1 HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: cGVlcmNoYXQtcHJvYmUtMQ==\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = vec![0u8; 2048];
        let mut n = 0;
        while n < buf.len() {
            let r = s.read(&mut buf[n..]).await.ok()?;
            if r == 0 {
                break;
            }
            n += r;
        }
        let text = String::from_utf8_lossy(&buf[..n]);
        Some(text.starts_with("HTTP/1.1 401") && text.contains(r#"{"error":"invalid_key"}"#))
    };
    matches!(tokio::time::timeout(Duration::from_secs(2), probe).await, Ok(Some(true)))
}

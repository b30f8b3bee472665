//! The embedded signalling server: with no server configured, the app runs
//! `signal-server` in-process on a fixed loopback port, so windows and app processes on
//! this machine find each other. If another peerchat process already serves that port,
//! it is reused, once it has proved that it knows the key (any program of this machine
//! could have bound the port first: it never gets the key). Nothing but loopback is
//! listened on.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use peerchat_peer::PublishableKey;
use signal_server::config::{Config, FileConfig};
use signal_server::server::{Server, ServerHandle};

/// How long a server on the port may take to prove it knows the key.
const PROOF_WAIT: Duration = Duration::from_secs(2);

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
    #[error("port {0} on 127.0.0.1 is used by another program (it could not prove that it is this app's server, so it was not given the key); set PEERCHAT_LOCAL_PORT or configure a server")]
    PortTaken(u16),
    #[error("cannot start the local server: {0}")]
    Start(String),
}

/// A running (or reused) embedded server.
pub struct Embedded {
    pub url: String,
    /// `None` when another peerchat process serves the port.
    handle: Option<ServerHandle>,
    pub key: PublishableKey,
    /// The resume-token secret (random, kept in the keyring beside the key): every
    /// peerchat process of this user signs tokens alike, so when one takes the server
    /// over from another, sessions resume with their identities.
    secret: Vec<u8>,
}

impl Embedded {
    /// Whether this process runs the server (rather than reusing another's).
    pub fn is_owner(&self) -> bool {
        self.handle.is_some()
    }

    /// Starts the server on `127.0.0.1:port` accepting `key` and signing resume tokens
    /// with `secret`, or reuses the server that already listens there if it proves that
    /// it knows `key`.
    pub async fn start_or_reuse(port: u16, key: &PublishableKey, secret: &[u8]) -> Result<Embedded, EmbeddedError> {
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut cfg = Config::build(FileConfig::default(), Some(listen.to_string()), vec![key.clone()])
            .map_err(|e| EmbeddedError::Start(e.to_string()))?;
        cfg.secret = secret.to_vec();
        // Only this machine's peerchat processes talk to it: no web page may probe it.
        cfg.refuse_browser_origins = true;
        // Other peerchat processes reuse it only once it proves it knows the key.
        cfg.local_proof = true;
        let (url, key, secret) = (local_url(port), key.clone(), secret.to_vec());
        match Server::bind(cfg).await {
            Ok(server) => {
                let handle = server.handle();
                tokio::spawn(server.run());
                tracing::info!(url = %handle.url(), "embedded signalling server started");
                Ok(Embedded { url, handle: Some(handle), key, secret })
            }
            Err(e) if e.kind() == ErrorKind::AddrInUse => {
                let tls = peerchat_peer::TlsOptions::default();
                if peerchat_peer::server_proves_key(&url, &key, &tls, PROOF_WAIT).await {
                    tracing::info!(%listen, "reusing the signalling server of another peerchat process");
                    Ok(Embedded { url, handle: None, key, secret })
                } else {
                    Err(EmbeddedError::PortTaken(port))
                }
            }
            Err(e) => Err(EmbeddedError::Start(e.to_string())),
        }
    }

    /// Starts the server on the port in place of the process that ran it (`None`: the
    /// port is still taken, by it or by another).
    pub async fn take_over(&self, port: u16) -> Option<Embedded> {
        Embedded::start_or_reuse(port, &self.key, &self.secret).await.ok().filter(Embedded::is_owner)
    }

    /// Stops the server (clients get `going_away`) if this process runs it.
    pub async fn stop(&self) {
        if let Some(h) = &self.handle {
            h.shutdown();
            let _ = tokio::time::timeout(Duration::from_secs(3), h.stopped()).await;
        }
    }
}

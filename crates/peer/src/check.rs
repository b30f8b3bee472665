//! [`check_key`]: does this server accept this key? Connects, waits for `welcome`, and
//! closes at once, without joining any room (nobody sees the check).
//! [`server_proves_key`]: does the server know this key, without sending it?

use std::time::Duration;

use peerchat_protocol::{PublishableKey, ServerFrame};

use crate::error::PeerError;
use crate::options::TlsOptions;
use crate::signalling::socket::{ConnectError, Read, Socket};
use crate::signalling::transport::{Dialer, Target};

/// Connects to `url` with `key` and waits for the server's `welcome`.
///
/// Errors: [`PeerError::InvalidKey`] (HTTP 401), [`PeerError::OriginNotAllowed`],
/// [`PeerError::BadUrl`], [`PeerError::PlaintextRefused`], [`PeerError::Tls`],
/// [`PeerError::Timeout`] when nothing answers within `wait`, and
/// [`PeerError::ConnectionLost`] for network failures.
pub async fn check_key(url: &str, key: &PublishableKey, tls: &TlsOptions, wait: Duration) -> Result<(), PeerError> {
    let dialer = Dialer::new(tls.clone());
    let attempt = async {
        let mut socket = match Socket::connect(&dialer, url, key, None, None).await {
            Ok(s) => s,
            Err(ConnectError::Fatal(e)) => return Err(e),
            Err(ConnectError::Retry(why)) => {
                tracing::debug!(%why, "key check: cannot connect");
                return Err(PeerError::ConnectionLost);
            }
        };
        loop {
            match socket.read().await {
                Read::Frame(ServerFrame::Welcome(_)) => break,
                Read::Closed(code) => return Err(PeerError::from_close(code).unwrap_or(PeerError::ConnectionLost)),
                _ => {}
            }
        }
        socket.close().await;
        Ok(())
    };
    tokio::time::timeout(wait, attempt).await.unwrap_or(Err(PeerError::Timeout))
}

/// Whether the server at `url` proves that it knows `key` (see
/// [`crate::TlsOptions::require_key_proof`]); the key itself is never sent. `false` for
/// a server that does not answer within `wait`, answers otherwise, or proves another key.
pub async fn server_proves_key(url: &str, key: &PublishableKey, tls: &TlsOptions, wait: Duration) -> bool {
    let dialer = Dialer::new(tls.clone());
    let Ok(target) = Target::parse(url, tls.allow_plaintext) else { return false };
    let proof = crate::signalling::socket::proves_key(&dialer, &target, url, key);
    matches!(tokio::time::timeout(wait, proof).await, Ok(Ok(true)))
}

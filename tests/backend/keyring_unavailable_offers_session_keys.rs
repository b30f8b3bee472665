//! With no keyring reachable, the status says so, saving refuses with a typed error,
//! and a key kept for this session only works.

use std::sync::Arc;

use peerchat_desktop::keystore::{KeySource, KeyStoreError, SecretStore};
use peerchat_peer::PublishableKey;
use signal_server::config::Config;
use signal_server::server::Server;

use crate::support::{app_with, free_port, window};

/// A keyring that never answers, like a session without a Secret Service.
struct NoKeyring;

impl SecretStore for NoKeyring {
    fn get(&self, _: &str) -> Result<Option<PublishableKey>, KeyStoreError> {
        Err(KeyStoreError::Unavailable("no Secret Service on the bus".into()))
    }
    fn set(&self, _: &str, _: &PublishableKey) -> Result<(), KeyStoreError> {
        Err(KeyStoreError::Unavailable("no Secret Service on the bus".into()))
    }
    fn delete(&self, _: &str) -> Result<(), KeyStoreError> {
        Err(KeyStoreError::Unavailable("no Secret Service on the bus".into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyring_unavailable_offers_session_keys() {
    let server = Server::spawn(Config::for_keys(&["pk_session_key_1234"])).await.unwrap();
    let t = app_with(Arc::new(NoKeyring), free_port());
    let b = &t.backend;
    let status = b.status("main").await;
    assert!(!status.keyring.available);
    assert!(status.keyring.message.unwrap().contains("not available"));

    let err = b.save_key("main", &server.url(), "pk_session_key_1234", false).await.unwrap_err();
    assert_eq!(err.kind, "keyring_unavailable");
    let status = b.save_key("main", &server.url(), "pk_session_key_1234", true).await.unwrap();
    assert_eq!(status.key.unwrap().source, KeySource::Session);
    let (_w, sink) = window("main");
    b.join("main", "lobby", "dan", sink).await.unwrap();
    b.leave("main").await;

    // The local server too: refused without the keyring, fine for this session.
    assert_eq!(b.use_local_server("main", false).await.unwrap_err().kind, "keyring_unavailable");
    let status = b.use_local_server("main", true).await.unwrap();
    assert!(status.local);
    assert_eq!(status.key.unwrap().source, KeySource::Session);
    let (_w, sink) = window("main");
    b.join("main", "lobby", "dan", sink).await.unwrap();
    b.shutdown().await;
    server.shutdown();
}

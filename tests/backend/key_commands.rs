//! Saving, checking and forgetting a key for a configured server, and joining with it.

use peerchat_desktop::keystore::{KeySource, SecretStore};
use signal_server::config::Config;
use signal_server::server::Server;

use crate::support::{app, window};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_saved_checked_and_forgotten() {
    let server = Server::spawn(Config::for_keys(&["pk_test_0123456789abcdef"])).await.unwrap();
    let url = server.url();
    let (t, store) = app();
    let b = &t.backend;

    // A wrong key is refused by the server, with its own kind.
    let err = b.check_key(Some(&url), Some("pk_test_wrong")).await.unwrap_err();
    assert_eq!(err.kind, "invalid_key");
    b.check_key(Some(&url), Some("pk_test_0123456789abcdef")).await.unwrap();

    let status = b.save_key("main", &url, "  pk_test_0123456789abcdef \n", false).await.unwrap();
    assert!(!status.local && !status.first_run);
    assert_eq!(status.server_url, url);
    let key = status.key.unwrap();
    assert_eq!(key.source, KeySource::Keyring);
    assert_eq!(key.masked, "pk_test_••••••••cdef");
    assert_eq!(store.get(&url).unwrap().unwrap().expose(), "pk_test_0123456789abcdef", "trimmed, in the keyring");
    // The settings file names the server, never the key.
    let file = std::fs::read_to_string(&t.settings_path).unwrap();
    assert!(file.contains(&url) && !file.contains("0123456789abcdef"), "{file}");
    b.check_key(None, None).await.unwrap();

    let (_w, sink) = window("main");
    let info = b.join("main", "lobby", "carol", sink).await.unwrap();
    assert_eq!(info.server_url, url);
    b.leave("main").await;

    let status = b.forget_key("main").await.unwrap();
    assert!(status.key.is_none());
    assert!(store.get(&url).unwrap().is_none());
    let (_w, sink) = window("main");
    assert_eq!(b.join("main", "lobby", "carol", sink).await.unwrap_err().kind, "no_key");
    assert_eq!(b.check_key(None, None).await.unwrap_err().kind, "no_key");
    server.shutdown();
}

#[tokio::test]
async fn an_unreachable_server_is_reported_as_such() {
    let (t, _) = app();
    let port = crate::support::free_port();
    let err = t.backend.check_key(Some(&format!("ws://127.0.0.1:{port}/v1")), Some("pk_x_1")).await.unwrap_err();
    assert_eq!(err.kind, "connection_lost", "{err:?}");
}

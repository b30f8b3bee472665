//! The app's real log pipeline (the rolling log file), at trace level, never contains a
//! publishable key: not when a key is saved, checked, provisioned or used to chat. Nor do
//! the events the UI receives, or the settings file.

use std::sync::Arc;
use std::time::Duration;

use peerchat_chat::ChatEvent;
use peerchat_desktop::backend::{Backend, BackendConfig, EventSink};
use peerchat_desktop::keystore::{MemoryStore, SecretStore};
use signal_server::config::Config;
use signal_server::server::Server;

const REMOTE_KEY: &str = "pk_live_SECRET_remote_5f2c9a";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_in_logs() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    // Safe: set before any thread of this test binary reads the environment.
    std::env::set_var("RUST_LOG", "trace");
    peerchat_desktop::logging::init(&logs, false);

    let server = Server::spawn(Config::for_keys(&[REMOTE_KEY])).await.unwrap();
    let store = MemoryStore::default();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = BackendConfig {
        settings_path: dir.path().join("settings.json"),
        data_dir: dir.path().join("data"),
        local_port: port,
        auto_room: None,
        downloads: std::env::temp_dir().join("peerchat-test-downloads"),
    };
    let b = Arc::new(Backend::new(config, Arc::new(store.clone())));

    // A remote server's key: checked (also a wrong one), saved, used.
    assert_eq!(b.check_key(Some(&server.url()), Some("pk_live_SECRET_wrong_1")).await.unwrap_err().kind, "invalid_key");
    b.save_key("main", &server.url(), REMOTE_KEY, false).await.unwrap();
    b.check_key(None, None).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let tx1 = tx.clone();
    let sink: EventSink = Arc::new(move |ev| tx1.send(ev).is_ok());
    b.join("main", "lobby", "ann", sink).await.unwrap();
    b.leave("main").await;

    // The local server's key: provisioned, used by two windows that chat.
    let status = b.use_local_server("main", false).await.unwrap();
    let local_key = store.get(&status.server_url).unwrap().unwrap().expose().to_string();
    let (tx2, mut rx2) = tokio::sync::mpsc::unbounded_channel();
    b.join("main", "lobby", "ann", Arc::new(move |ev| tx.send(ev).is_ok())).await.unwrap();
    b.join("chat-2", "lobby", "ben", Arc::new(move |ev| tx2.send(ev).is_ok())).await.unwrap();
    let mut events = Vec::new();
    let opened = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(ev) = rx2.recv().await {
            let open = matches!(ev, ChatEvent::ChannelOpen { .. });
            events.push(ev);
            if open {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(opened, Ok(true));
    b.send_message("chat-2", "hello").await.unwrap();
    b.shutdown().await;
    server.shutdown();
    while let Ok(ev) = rx.try_recv() {
        events.push(ev);
    }
    while let Ok(ev) = rx2.try_recv() {
        events.push(ev);
    }
    let events = serde_json::to_string(&events).unwrap();
    assert!(events.contains("peer-joined"), "the events were collected: {events}");
    let settings = std::fs::read_to_string(dir.path().join("settings.json")).unwrap();
    assert!(settings.contains("\"lastRoom\": \"lobby\""), "the settings were written: {settings}");

    // The file writer is non-blocking: wait until it has flushed what the session logged.
    let read_all = || {
        let mut all = String::new();
        for entry in std::fs::read_dir(&logs).unwrap() {
            all.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
        }
        all
    };
    let all = peerchat_testkit::wait::until("the trace log written", Duration::from_secs(10), || {
        let all = read_all();
        async move { (all.lines().count() > 50).then_some(all) }
    })
    .await;
    assert!(all.contains("<redacted key"), "keys are logged redacted");
    for secret in [REMOTE_KEY, "pk_live_SECRET_wrong_1", local_key.as_str(), "SECRET"] {
        assert!(!all.contains(secret), "a key leaked into the log");
        assert!(!events.contains(secret), "a key leaked into an event");
        assert!(!settings.contains(secret), "a key leaked into the settings file");
    }
}
